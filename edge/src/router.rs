//! Every decision the edge makes, as a plain function from request to response.

use patchbay_proto::oauth::ProtectedResourceMetadata;
use patchbay_proto::{ErrorBody, ErrorCode};
use serde::Serialize;

use crate::config::EdgeConfig;

/// The parts of a request the router looks at.
#[derive(Debug, Clone)]
pub struct EdgeRequest {
    pub method: String,
    /// The request's origin (`https://pb.example.com`), from its URL.
    pub origin: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl EdgeResponse {
    fn json<T: Serialize>(status: u16, value: &T) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::json(code.http_status(), &ErrorBody::new(code, message))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn route(req: &EdgeRequest, config: &EdgeConfig) -> EdgeResponse {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET" | "HEAD", "/.well-known/oauth-protected-resource") => {
            protected_resource_metadata(req, config)
        }
        (_, "/.well-known/oauth-protected-resource") => {
            EdgeResponse::error(ErrorCode::BadRequest, "Use GET for this document.")
        }
        _ => EdgeResponse::error(
            ErrorCode::NotFound,
            format!("The edge serves no route {}.", req.path),
        ),
    }
}

/// RFC 9728 metadata for this deployment. Cacheable for a short while: it changes only with
/// configuration.
fn protected_resource_metadata(req: &EdgeRequest, config: &EdgeConfig) -> EdgeResponse {
    let resource = config
        .public_url
        .clone()
        .unwrap_or_else(|| req.origin.clone());
    let doc = ProtectedResourceMetadata {
        resource,
        authorization_servers: config.authorization_servers.clone(),
        scopes_supported: config.scopes.clone(),
        bearer_methods_supported: vec!["header".into()],
        resource_name: Some("Patchbay".into()),
        resource_documentation: None,
        registration_endpoint: config.registration_endpoint.clone(),
    };
    if let Err(e) = doc.validate() {
        return EdgeResponse::error(
            ErrorCode::Internal,
            format!(
                "The edge's OAuth settings are invalid ({e:?}); check PATCHBAY_PUBLIC_URL and PATCHBAY_AUTHORIZATION_SERVERS."
            ),
        );
    }
    let mut response = EdgeResponse::json(200, &doc);
    response
        .headers
        .push(("cache-control", "public, max-age=300".into()));
    response
        .headers
        .push(("access-control-allow-origin", "*".into()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> EdgeRequest {
        EdgeRequest {
            method: "GET".into(),
            origin: "http://127.0.0.1:8787".into(),
            path: path.into(),
        }
    }

    #[test]
    fn metadata_uses_configuration() {
        let config = EdgeConfig {
            public_url: Some("https://pb.example.com".into()),
            authorization_servers: vec!["https://auth.example.com".into()],
            scopes: vec!["read".into(), "write".into()],
            registration_endpoint: Some("https://auth.example.com/register".into()),
        };
        let r = route(&get("/.well-known/oauth-protected-resource"), &config);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let doc: ProtectedResourceMetadata = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc.resource, "https://pb.example.com");
        assert_eq!(doc.authorization_servers, ["https://auth.example.com"]);
        assert_eq!(doc.scopes_supported, ["read", "write"]);
        assert_eq!(
            doc.registration_endpoint.as_deref(),
            Some("https://auth.example.com/register")
        );
        assert_eq!(doc.validate(), Ok(()));
    }

    #[test]
    fn metadata_defaults_to_the_request_origin() {
        let config = EdgeConfig::from_vars(|_| None);
        let r = route(&get("/.well-known/oauth-protected-resource"), &config);
        let doc: ProtectedResourceMetadata = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc.resource, "http://127.0.0.1:8787");
        assert!(doc.registration_endpoint.is_none());
    }

    #[test]
    fn bad_configuration_is_a_clear_500_not_a_bad_document() {
        let config = EdgeConfig {
            public_url: Some("not a url".into()),
            ..EdgeConfig::from_vars(|_| None)
        };
        let r = route(&get("/.well-known/oauth-protected-resource"), &config);
        assert_eq!(r.status, 500);
        let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
        assert!(body.message.contains("PATCHBAY_PUBLIC_URL"));
    }

    #[test]
    fn unknown_routes_get_a_json_404() {
        let r = route(&get("/api/nope"), &EdgeConfig::from_vars(|_| None));
        assert_eq!(r.status, 404);
        let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body.error, ErrorCode::NotFound);
    }
}
