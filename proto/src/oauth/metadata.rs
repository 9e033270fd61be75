//! The two metadata documents of OAuth discovery, where to find them, and the checks they
//! must pass: RFC 9728 (a protected resource names its authorization servers) and RFC 8414
//! (an authorization server names its endpoints), whose OpenID Connect twin has the same
//! members.

use serde::{Deserialize, Serialize};

use super::url::{HttpUrl, check_url};
use crate::pkce::CHALLENGE_METHOD;

/// OAuth 2.0 Protected Resource Metadata (RFC 9728 §2).
///
/// `registration_endpoint` is not an RFC 9728 field; the Connectors API contract publishes it
/// here so MCP clients can find Dynamic Client Registration from this one document. Unknown
/// members are allowed by §2 ("additional metadata parameters MAY be used").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// Where to look for a server's protected-resource metadata, in the order the MCP
/// specification gives: the `resource_metadata` URL of the server's 401 (when it named one),
/// then the well-known URL at the server's own path (§3.1), then the one at the root. A
/// candidate that answers 404 sends the client on to the next.
pub fn protected_resource_metadata_urls(
    server_url: &str,
    from_challenge: Option<&str>,
) -> Vec<String> {
    let mut urls: Vec<String> = from_challenge.map(str::to_owned).into_iter().collect();
    if let Some(u) = HttpUrl::parse(server_url) {
        let at = |path: &str| format!("{}{}", u.origin(), protected_resource_metadata_path(path));
        urls.push(at(u.path));
        urls.push(at(""));
    }
    let mut unique: Vec<String> = Vec::with_capacity(urls.len());
    for u in urls {
        if !unique.contains(&u) {
            unique.push(u);
        }
    }
    unique
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414 §2), or the OpenID Connect discovery
/// document, which has the same members. Only what the client uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: the server puts `iss` in every authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 7009: where tokens are revoked (sign-out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// RFC 8628: where a device flow starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// The server fetches a client's metadata from its `client_id` URL (CIMD).
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Required by RFC 8414 §2 of a server's own document; clients only read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
}

/// Why discovery or registration cannot go on; each message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataProblem {
    /// RFC 8414 §3.3: the document's `issuer` must be the issuer it was fetched for.
    IssuerMismatch {
        expected: String,
        found: String,
    },
    /// OAuth 2.1 requires PKCE; without S256 in the list the server may ignore or downgrade it.
    NoS256 {
        issuer: String,
        methods: Vec<String>,
    },
    BadEndpoint {
        name: &'static str,
        url: String,
    },
    /// Neither CIMD (or no document URL is configured) nor dynamic registration, and no
    /// client id was given.
    NoRegistration {
        issuer: String,
        redirect_uri: String,
    },
}

impl MetadataProblem {
    /// Every value in it came from the server's document (or the user), so each is quoted
    /// ([`crate::text::quote`]): no control character reaches a terminal or a log.
    pub fn message(&self) -> String {
        let q = |s: &str| crate::text::quote(s, 200);
        match self {
            MetadataProblem::IssuerMismatch { expected, found } => format!(
                "The authorization server's metadata names the issuer {found}, but it was \
                 fetched for {expected}. Patchbay refuses it (RFC 8414 §3.3: a mismatch can \
                 mean a mix-up attack).",
                found = q(found),
                expected = q(expected),
            ),
            MetadataProblem::NoS256 { issuer, methods } => format!(
                "The authorization server {issuer} does not support PKCE with S256 (its \
                 code_challenge_methods_supported is {}). Patchbay only signs in with S256 \
                 PKCE, as OAuth 2.1 requires; ask the server's operator to enable it.",
                if methods.is_empty() {
                    "missing".to_owned()
                } else {
                    q(&format!("[{}]", methods.join(", ")))
                },
                issuer = q(issuer),
            ),
            MetadataProblem::BadEndpoint { name, url } => format!(
                "The authorization server's {name} ({url}) is not an https URL (plain http is \
                 only allowed on this machine).",
                url = q(url),
            ),
            MetadataProblem::NoRegistration {
                issuer,
                redirect_uri,
            } => format!(
                "The authorization server {issuer} offers neither Client ID Metadata Documents \
                 nor dynamic client registration, so Patchbay cannot get a client id by itself. \
                 Register an OAuth client there by hand (a public or native app with the \
                 redirect URI {redirect_uri}), then run `patchbay mcp login <server URL> \
                 --client-id <ID>` (add `--client-secret-env <VAR>` if it gave you a secret).",
                issuer = q(issuer),
                redirect_uri = q(redirect_uri),
            ),
        }
    }
}

impl AuthorizationServerMetadata {
    /// The checks before the document may be used for `expected_issuer`.
    pub fn check(&self, expected_issuer: &str) -> Result<(), MetadataProblem> {
        // Identical, character for character (RFC 8414 §3.3): no case folding, no slashes.
        if self.issuer != expected_issuer {
            return Err(MetadataProblem::IssuerMismatch {
                expected: expected_issuer.into(),
                found: self.issuer.clone(),
            });
        }
        if !self
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == CHALLENGE_METHOD)
        {
            return Err(MetadataProblem::NoS256 {
                issuer: self.issuer.clone(),
                methods: self.code_challenge_methods_supported.clone(),
            });
        }
        let endpoints = [
            ("authorization_endpoint", Some(&self.authorization_endpoint)),
            ("token_endpoint", Some(&self.token_endpoint)),
            ("registration_endpoint", self.registration_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
            (
                "device_authorization_endpoint",
                self.device_authorization_endpoint.as_ref(),
            ),
        ];
        for (name, url) in endpoints {
            if let Some(url) = url
                && check_url(url).is_err()
            {
                return Err(MetadataProblem::BadEndpoint {
                    name,
                    url: url.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Where an issuer's metadata may be, in the order the MCP specification asks clients to
/// try: RFC 8414 with path insertion, OpenID Connect with path insertion, OpenID Connect
/// appended to the path.
pub fn authorization_server_metadata_urls(issuer: &str) -> Vec<String> {
    let Some(u) = HttpUrl::parse(issuer) else {
        return Vec::new();
    };
    let origin = u.origin();
    let path = u.path.trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    }
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

    #[test]
    fn well_known_urls_insert_the_path() {
        assert_eq!(
            protected_resource_metadata_urls("https://x.example/api/mcp", None),
            [
                "https://x.example/.well-known/oauth-protected-resource/api/mcp",
                "https://x.example/.well-known/oauth-protected-resource"
            ]
        );
        // The 401's URL comes first; a candidate is never tried twice.
        assert_eq!(
            protected_resource_metadata_urls(
                "https://x.example/",
                Some("https://x.example/.well-known/oauth-protected-resource")
            ),
            ["https://x.example/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            protected_resource_metadata_urls(
                "https://x.example/mcp",
                Some("https://m.example/prm")
            )[0],
            "https://m.example/prm"
        );
        assert_eq!(
            authorization_server_metadata_urls("https://as.example/tenant1"),
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            authorization_server_metadata_urls("https://as.example/").len(),
            2
        );
    }

    fn meta() -> AuthorizationServerMetadata {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://as.example",
            "authorization_endpoint": "https://as.example/authorize",
            "token_endpoint": "https://as.example/token",
            "registration_endpoint": "https://as.example/register",
            "code_challenge_methods_supported": ["plain", "S256"],
            "response_types_supported": ["code"],
        }))
        .unwrap()
    }

    #[test]
    fn metadata_without_s256_or_with_another_issuer_is_refused() {
        assert_eq!(meta().check("https://as.example"), Ok(()));
        // A trailing slash is another issuer.
        assert!(matches!(
            meta().check("https://as.example/"),
            Err(MetadataProblem::IssuerMismatch { .. })
        ));
        let mut m = meta();
        m.code_challenge_methods_supported = vec!["plain".into()];
        let err = m.check("https://as.example").unwrap_err();
        assert!(matches!(err, MetadataProblem::NoS256 { .. }));
        assert!(err.message().contains("S256"), "{}", err.message());
        let mut m = meta();
        m.code_challenge_methods_supported.clear();
        assert!(m.check("https://as.example").is_err());
        assert!(matches!(
            meta().check("https://evil.example"),
            Err(MetadataProblem::IssuerMismatch { .. })
        ));
        let mut m = meta();
        m.token_endpoint = "http://as.example/token".into();
        assert!(matches!(
            m.check("https://as.example"),
            Err(MetadataProblem::BadEndpoint { .. })
        ));
    }
}
