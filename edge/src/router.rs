//! Which route a request is for and who may call it; every route's work is in the module
//! it names. Generic over the [`Store`] and [`Upstream`] seams, so it runs natively in tests.

use crate::error::{ApiError, BODY_LIMIT, head_too_large, too_large};
use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::Store;
use crate::upstream::Upstream;
use crate::{Edge, agents, client_metadata, mcp, protected_resource, vercel};

pub async fn route<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> EdgeResponse {
    if let Some(refusal) = head_too_large(req) {
        return refusal.into_response();
    }
    if req.body.len() > BODY_LIMIT {
        return too_large().into_response();
    }
    match req.path.as_str() {
        protected_resource::PATH | protected_resource::MCP_PATH => {
            protected_resource::serve(req, edge.config)
        }
        agents::metadata::PATH => agents::metadata::serve(req, edge.config),
        agents::REGISTER_PATH => agents::register::serve(req, edge).await,
        agents::AUTHORIZE_PATH => agents::authorize::serve(req, edge).await,
        agents::TOKEN_PATH => agents::token::serve(req, edge).await,
        agents::REVOKE_PATH => agents::token::revoke(req, edge).await,
        agents::RESOURCE_PATH => mcp::serve(req, edge).await,
        path if agents::admin::owns(path) => match authorize(req, edge) {
            Ok(()) => agents::admin::serve(req, edge)
                .await
                .unwrap_or_else(ApiError::into_response),
            Err(e) => e.into_response(),
        },
        client_metadata::PATH => client_metadata::serve(req, edge.config),
        vercel::callback::PATH => vercel::callback::serve(req, edge).await,
        path => match path
            .strip_prefix(vercel::PREFIX)
            .and_then(vercel::Action::parse)
        {
            Some(action) => match authorize(req, edge) {
                Ok(()) => vercel::serve(action, req, edge)
                    .await
                    .unwrap_or_else(ApiError::into_response),
                Err(e) => e.into_response(),
            },
            None => ApiError::not_found(format!("The edge serves no route {}.", req.path))
                .into_response(),
        },
    }
}

/// Every `/api` route needs `Authorization: Bearer <PATCHBAY_EDGE_TOKEN>`, compared in
/// constant time.
fn authorize<S, U>(req: &EdgeRequest, edge: &Edge<'_, S, U>) -> Result<(), ApiError> {
    let Some(expected) = &edge.secrets.edge_token else {
        return Err(ApiError::unavailable(
            "The edge has no API secret yet: run `npx wrangler secret put PATCHBAY_EDGE_TOKEN` \
             in edge/ and use the same value as the bearer token.",
        ));
    };
    if !req
        .bearer()
        .is_some_and(|presented| expected.matches(presented))
    {
        return Err(ApiError::unauthorized(
            "Send the edge API secret (PATCHBAY_EDGE_TOKEN) as `Authorization: Bearer …`.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use patchbay_proto::{ErrorBody, ErrorCode, Secret};

    use super::*;
    use crate::testing::{EDGE_TOKEN, TestEdge, assert_refused, get};

    #[test]
    fn unknown_routes_get_a_json_404_and_wrong_methods_a_json_405() {
        let t = TestEdge::new();
        for path in ["/api/nope", "/", "/api/connectors/vercel/%FF%FE"] {
            let r = t.send(get(path));
            assert_eq!(r.status, 404, "{path}");
            let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body.error, ErrorCode::NotFound);
        }
        assert_refused(t.api("GET", "token", ""), 405, "use POST");
        assert_refused(t.api("DELETE", "status", ""), 405, "use GET");
        for (method, path, allow) in [
            ("GET", "/api/connectors/vercel/oauth/exchange", "POST"),
            ("POST", protected_resource::PATH, "GET, HEAD"),
            ("POST", agents::metadata::PATH, "GET, HEAD"),
            ("PUT", client_metadata::PATH, "GET, HEAD"),
            ("POST", vercel::callback::PATH, "GET"),
        ] {
            let r = t.send(EdgeRequest {
                method: method.into(),
                authorization: Some(format!("Bearer {EDGE_TOKEN}")),
                ..get(path)
            });
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
            let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body.error, ErrorCode::MethodNotAllowed);
        }
    }

    #[test]
    fn a_long_address_is_a_json_414_and_big_headers_a_json_431() {
        let t = TestEdge::new();
        let query = "q=".to_owned() + &"a".repeat(crate::error::URI_LIMIT);
        let long = EdgeRequest {
            query,
            ..get(protected_resource::PATH)
        };
        let big = EdgeRequest {
            header_bytes: crate::error::HEADER_LIMIT + 1,
            ..get(protected_resource::PATH)
        };
        for (req, status, code) in [
            (long, 414, ErrorCode::UriTooLong),
            (big, 431, ErrorCode::HeadersTooLarge),
        ] {
            let r = t.send(req);
            assert_eq!(r.status, status);
            let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body.error, code);
            assert!(body.message.contains("16 KiB") || body.message.contains("8 KiB"));
        }
        let within = EdgeRequest {
            header_bytes: crate::error::HEADER_LIMIT,
            ..get(protected_resource::PATH)
        };
        assert_eq!(t.send(within).status, 200);
    }

    #[test]
    fn a_body_over_the_limit_is_a_json_413_and_changes_nothing() {
        let t = TestEdge::new();
        let token = "x".repeat(crate::error::BODY_LIMIT);
        let body = serde_json::json!({ "token": token }).to_string();
        assert_refused(t.api("POST", "token", &body), 413, "KiB");
        assert_eq!(t.api("GET", "status", "").1["connected"], false);
        assert_eq!(t.fake.counters().user_requests, 0);
    }

    #[test]
    fn api_routes_need_the_edge_bearer() {
        let t = TestEdge::new();
        for auth in [
            None,
            Some("Bearer wrong"),
            Some(EDGE_TOKEN),
            Some("Bearer "),
        ] {
            let r = t.send(EdgeRequest {
                authorization: auth.map(str::to_owned),
                ..get(&format!("{}credentials", vercel::PREFIX))
            });
            assert_eq!(r.status, 401, "{auth:?}");
            assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
            let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
            assert!(body.message.contains("PATCHBAY_EDGE_TOKEN"));
        }
        assert_eq!(t.api("GET", "status", "").0, 200);
    }

    #[test]
    fn missing_secrets_are_a_503_that_names_the_command() {
        let mut t = TestEdge::new();
        t.secrets.edge_token = None;
        assert_refused(
            t.api("GET", "status", ""),
            503,
            "wrangler secret put PATCHBAY_EDGE_TOKEN",
        );

        let mut t = TestEdge::new();
        t.secrets.encryption_key = None;
        assert_refused(
            t.api("POST", "token", r#"{"token":"x"}"#),
            503,
            "PATCHBAY_ENCRYPTION_KEY",
        );
        let r = t.callback("code=a&state=b");
        assert_eq!(r.status, 503);

        t.secrets.encryption_key = Some(Secret::new("c2hvcnQ="));
        assert_refused(t.api("GET", "oauth/start", ""), 503, "32 bytes");
    }
}
