//! OAuth metadata documents.

use serde::{Deserialize, Serialize};

/// OAuth 2.0 Protected Resource Metadata (RFC 9728 §2).
///
/// `registration_endpoint` is not an RFC 9728 field; the Connectors API contract publishes it
/// here so MCP clients can find Dynamic Client Registration from this one document. Unknown
/// members are allowed by §2 ("additional metadata parameters MAY be used").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier: an https (or, for local development, http) URL with no fragment.
    pub resource: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
}

/// Why a metadata document is not valid RFC 9728.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataError {
    ResourceNotAbsoluteHttpUrl,
    ResourceHasFragment,
    AuthorizationServerNotHttpUrl(String),
}

impl ProtectedResourceMetadata {
    /// Checks the constraints RFC 9728 §2 puts on the document's values.
    pub fn validate(&self) -> Result<(), MetadataError> {
        if !is_absolute_http_url(&self.resource) {
            return Err(MetadataError::ResourceNotAbsoluteHttpUrl);
        }
        if self.resource.contains('#') {
            return Err(MetadataError::ResourceHasFragment);
        }
        if let Some(bad) = self
            .authorization_servers
            .iter()
            .find(|s| !is_absolute_http_url(s))
        {
            return Err(MetadataError::AuthorizationServerNotHttpUrl(bad.clone()));
        }
        Ok(())
    }
}

fn is_absolute_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/'))
}

/// The well-known path of the metadata for a resource at `resource` (RFC 9728 §3.1): the
/// well-known segment goes between the host and the resource's path.
pub fn protected_resource_metadata_path(resource_path: &str) -> String {
    let path = resource_path.trim_end_matches('/');
    format!("/.well-known/oauth-protected-resource{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> ProtectedResourceMetadata {
        ProtectedResourceMetadata {
            resource: "https://patchbay.example.com".into(),
            authorization_servers: vec!["https://vercel.com".into()],
            scopes_supported: vec!["openid".into()],
            bearer_methods_supported: vec!["header".into()],
            resource_name: Some("Patchbay".into()),
            resource_documentation: None,
            registration_endpoint: Some("https://api.vercel.com/oauth/register".into()),
        }
    }

    #[test]
    fn valid_document_serialises_without_empty_members() {
        let d = doc();
        assert_eq!(d.validate(), Ok(()));
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["resource"], "https://patchbay.example.com");
        assert!(v.get("resource_documentation").is_none());
    }

    #[test]
    fn invalid_documents_are_caught() {
        let mut d = doc();
        d.resource = "/relative".into();
        assert_eq!(d.validate(), Err(MetadataError::ResourceNotAbsoluteHttpUrl));
        let mut d = doc();
        d.resource = "https://x.example/#frag".into();
        assert_eq!(d.validate(), Err(MetadataError::ResourceHasFragment));
        let mut d = doc();
        d.authorization_servers = vec!["ftp://x".into()];
        assert!(matches!(
            d.validate(),
            Err(MetadataError::AuthorizationServerNotHttpUrl(_))
        ));
    }

    #[test]
    fn well_known_path_inserts_before_resource_path() {
        assert_eq!(
            protected_resource_metadata_path("/"),
            "/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            protected_resource_metadata_path("/api/mcp"),
            "/.well-known/oauth-protected-resource/api/mcp"
        );
    }
}
