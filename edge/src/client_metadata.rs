//! `GET /oauth/client-metadata.json`: Patchbay's OAuth Client ID Metadata Document. Its URL
//! is the `client_id` the CLI signs in with wherever an authorization server supports CIMD;
//! the server fetches it from here. Built from `proto::mcp` (the same document everywhere),
//! with this deployment's public URL, so self-hosters serve their own.

use patchbay_proto::mcp::{CLIENT_METADATA_PATH, client_metadata_document};

use crate::config::EdgeConfig;
use crate::error::wrong_method;
use crate::http::{EdgeRequest, EdgeResponse};

pub const PATH: &str = CLIENT_METADATA_PATH;

pub fn serve(req: &EdgeRequest, config: &EdgeConfig) -> EdgeResponse {
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return wrong_method(req, "GET, HEAD");
    }
    let origin = config.public_url.as_deref().unwrap_or(&req.origin);
    let doc = client_metadata_document(&format!("{origin}{PATH}"));
    EdgeResponse::public_json(&doc, 3600)
}

#[cfg(test)]
mod tests {
    use patchbay_proto::oauth::ClientMetadataDocument;

    use super::*;
    use crate::testing::{ORIGIN, TestEdge, get};

    #[test]
    fn the_document_names_its_own_url_and_the_loopback_redirect() {
        let t = TestEdge::new();
        let r = t.send(get(PATH));
        assert_eq!(r.status, 200);
        let doc: ClientMetadataDocument = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc.client_id, format!("{ORIGIN}{PATH}"));
        assert_eq!(doc.client_name, "Patchbay");
        assert!(doc.redirect_uris.iter().all(|u| u.starts_with("http://")));
        assert_eq!(doc.token_endpoint_auth_method, "none");

        let mut t = TestEdge::new();
        t.config.public_url = Some("https://pb.example.com".into());
        let doc: ClientMetadataDocument = serde_json::from_slice(&t.send(get(PATH)).body).unwrap();
        assert_eq!(
            doc.client_id,
            "https://pb.example.com/oauth/client-metadata.json"
        );
    }
}
