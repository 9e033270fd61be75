//! `GET /.well-known/oauth-protected-resource` and `…/mcp`: this deployment's RFC 9728
//! metadata, built from configuration. Public (no bearer) and cacheable for a short while: it
//! changes only with configuration. By default the edge is its own authorization server
//! ([`crate::agents`]) and the `/mcp` document names the MCP endpoint as the resource, the
//! audience of its tokens (§3.1: the resource's path follows the well-known segment).

use patchbay_proto::agents::SCOPES;
use patchbay_proto::oauth::ProtectedResourceMetadata;

use crate::agents::{REGISTER_PATH, RESOURCE_PATH, issuer, resource_url};

use crate::config::EdgeConfig;
use crate::error::{ApiError, wrong_method};
use crate::http::{EdgeRequest, EdgeResponse};

pub const PATH: &str = "/.well-known/oauth-protected-resource";
pub const MCP_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

pub fn serve(req: &EdgeRequest, config: &EdgeConfig) -> EdgeResponse {
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return wrong_method(req, "GET, HEAD");
    }
    let base = issuer(config, req);
    let resource = if req.path.ends_with(RESOURCE_PATH) {
        resource_url(config, req)
    } else {
        base.clone()
    };
    let or_default = |v: &[String], default: Vec<String>| {
        if v.is_empty() { default } else { v.to_vec() }
    };
    let doc = ProtectedResourceMetadata {
        resource,
        authorization_servers: or_default(&config.authorization_servers, vec![base.clone()]),
        scopes_supported: or_default(&config.scopes, SCOPES.map(str::to_owned).to_vec()),
        bearer_methods_supported: vec!["header".into()],
        resource_name: Some("Patchbay".into()),
        resource_documentation: None,
        registration_endpoint: Some(
            config
                .registration_endpoint
                .clone()
                .unwrap_or_else(|| format!("{base}{REGISTER_PATH}")),
        ),
    };
    if let Err(e) = doc.validate() {
        return ApiError::internal(format!(
            "The edge's OAuth settings are invalid ({e:?}); check PATCHBAY_PUBLIC_URL and \
             PATCHBAY_AUTHORIZATION_SERVERS."
        ))
        .into_response();
    }
    EdgeResponse::public_json(&doc, 300)
}

#[cfg(test)]
mod tests {
    use patchbay_proto::ErrorBody;

    use super::*;
    use crate::testing::{ORIGIN, TestEdge, get};

    #[test]
    fn metadata_uses_configuration() {
        let mut t = TestEdge::new();
        t.config.public_url = Some("https://pb.example.com".into());
        t.config.authorization_servers = vec!["https://auth.example.com".into()];
        t.config.scopes = vec!["read".into(), "write".into()];
        t.config.registration_endpoint = Some("https://auth.example.com/register".into());
        let r = t.send(get(PATH));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
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
    fn metadata_defaults_to_the_edge_as_its_own_authorization_server() {
        let t = TestEdge::new();
        let r = t.send(get(PATH));
        let doc: ProtectedResourceMetadata = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc.resource, ORIGIN);
        assert_eq!(doc.authorization_servers, [ORIGIN]);
        assert_eq!(doc.scopes_supported, SCOPES);
        assert_eq!(
            doc.registration_endpoint,
            Some(format!("{ORIGIN}/oauth/register"))
        );
        let r = t.send(get(MCP_PATH));
        let doc: ProtectedResourceMetadata = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc.resource, format!("{ORIGIN}/mcp"));
        assert_eq!(doc.validate(), Ok(()));
    }

    #[test]
    fn bad_configuration_is_a_clear_500_not_a_bad_document() {
        let mut t = TestEdge::new();
        t.config.public_url = Some("not a url".into());
        let r = t.send(get(PATH));
        assert_eq!(r.status, 500);
        let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
        assert!(body.message.contains("PATCHBAY_PUBLIC_URL"));
    }
}
