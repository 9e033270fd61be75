//! OAuth documents and messages: RFC 9728 metadata, authorization URLs (RFC 6749 §4.1.1
//! with PKCE), token requests and responses (RFC 6749 §4.1.3, §5, §6), Dynamic Client
//! Registration (RFC 7591) and token revocation (RFC 7009) bodies. Forms are built with
//! `form_urlencoded`, never by concatenating strings.

use serde::{Deserialize, Deserializer, Serialize};

use crate::Secret;
use crate::pkce::{CHALLENGE_METHOD, PkceVerifier};

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

/// An authorization request (RFC 6749 §4.1.1) with a PKCE S256 challenge (RFC 7636 §4.3).
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    /// The authorization endpoint; may already carry a query string.
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// Space-separated; omitted from the URL when empty.
    pub scope: &'a str,
    pub state: &'a str,
    pub code_challenge: &'a str,
}

impl AuthorizationRequest<'_> {
    /// The URL to send the person's browser to.
    pub fn url(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", self.client_id)
            .append_pair("redirect_uri", self.redirect_uri);
        if !self.scope.is_empty() {
            query.append_pair("scope", self.scope);
        }
        query
            .append_pair("state", self.state)
            .append_pair("code_challenge", self.code_challenge)
            .append_pair("code_challenge_method", CHALLENGE_METHOD);
        let sep = if self.endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}{}", self.endpoint, query.finish())
    }
}

/// How a client authenticates at the token endpoint: a public client sends only its id, a
/// confidential one also its secret in the form (`client_secret_post`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a Secret>,
}

impl ClientAuth<'_> {
    fn append(&self, form: &mut form_urlencoded::Serializer<'_, String>) {
        form.append_pair("client_id", self.client_id);
        if let Some(secret) = self.client_secret {
            form.append_pair("client_secret", secret.expose());
        }
    }
}

/// The `application/x-www-form-urlencoded` body that exchanges a code (RFC 6749 §4.1.3).
pub fn authorization_code_form(
    client: ClientAuth<'_>,
    code: &str,
    redirect_uri: &str,
    verifier: &PkceVerifier,
) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier.expose());
    client.append(&mut form);
    form.finish()
}

/// The body that refreshes an access token (RFC 6749 §6).
pub fn refresh_token_form(client: ClientAuth<'_>, refresh_token: &Secret) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", refresh_token.expose());
    client.append(&mut form);
    form.finish()
}

/// The body that revokes a token (RFC 7009 §2.1).
pub fn revocation_form(client: ClientAuth<'_>, token: &Secret, hint: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token.expose())
        .append_pair("token_type_hint", hint);
    client.append(&mut form);
    form.finish()
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .filter(|s| !s.is_empty())
        .map(Secret::new))
}

/// A successful token response (RFC 6749 §5.1). Tokens are [`Secret`]s.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    #[serde(deserialize_with = "secret")]
    pub access_token: Secret,
    #[serde(default = "bearer")]
    pub token_type: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Absent when the server does not rotate: keep the refresh token you had.
    #[serde(default, deserialize_with = "optional_secret")]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub scope: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

impl TokenResponse {
    /// When the access token expires, in Unix seconds, given the time the response arrived.
    pub fn expires_at(&self, now: u64) -> Option<u64> {
        self.expires_in.map(|s| now.saturating_add(s))
    }
}

/// An error response from the token endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenErrorResponse {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// A Dynamic Client Registration request (RFC 7591 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistrationRequest {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl ClientRegistrationRequest {
    /// A web client that uses the authorization code grant with refresh tokens.
    pub fn authorization_code(client_name: &str, redirect_uri: &str, scope: &str) -> Self {
        Self {
            client_name: client_name.into(),
            redirect_uris: vec![redirect_uri.into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: "client_secret_post".into(),
            scope: (!scope.is_empty()).then(|| scope.into()),
        }
    }
}

/// A Dynamic Client Registration response (RFC 7591 §3.2.1): only what Patchbay keeps.
#[derive(Debug, Deserialize)]
pub struct ClientRegistrationResponse {
    pub client_id: String,
    #[serde(default, deserialize_with = "optional_secret")]
    pub client_secret: Option<Secret>,
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

    fn query_of(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').unwrap().1;
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn authorization_url_encodes_every_parameter() {
        let url = AuthorizationRequest {
            endpoint: "https://vercel.com/oauth/authorize",
            client_id: "cl_1",
            redirect_uri: "https://pb.example.com/callback?x=1&y",
            scope: "openid email",
            state: "st&te=",
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        }
        .url();
        assert!(url.starts_with("https://vercel.com/oauth/authorize?response_type=code&"));
        let q = query_of(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("redirect_uri"),
            Some("https://pb.example.com/callback?x=1&y")
        );
        assert_eq!(get("state"), Some("st&te="));
        assert_eq!(get("scope"), Some("openid email"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(q.len(), 7);

        let url = AuthorizationRequest {
            endpoint: "http://127.0.0.1:9/authorize?tenant=a",
            client_id: "c",
            redirect_uri: "r",
            scope: "",
            state: "s",
            code_challenge: "x",
        }
        .url();
        assert!(url.starts_with("http://127.0.0.1:9/authorize?tenant=a&response_type=code"));
        assert!(!url.contains("scope="));
    }

    #[test]
    fn token_forms_carry_verifier_and_client_auth() {
        let verifier = PkceVerifier::from_stored("a".repeat(43)).unwrap();
        let secret = Secret::new("shh & more");
        let form = authorization_code_form(
            ClientAuth {
                client_id: "cl_1",
                client_secret: Some(&secret),
            },
            "co de",
            "https://pb/callback",
            &verifier,
        );
        let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert!(pairs.contains(&("grant_type".into(), "authorization_code".into())));
        assert!(pairs.contains(&("code".into(), "co de".into())));
        assert!(pairs.contains(&("code_verifier".into(), "a".repeat(43))));
        assert!(pairs.contains(&("client_secret".into(), "shh & more".into())));

        let form = refresh_token_form(
            ClientAuth {
                client_id: "cl_1",
                client_secret: None,
            },
            &Secret::new("rt_1"),
        );
        assert_eq!(
            form,
            "grant_type=refresh_token&refresh_token=rt_1&client_id=cl_1"
        );
    }

    #[test]
    fn token_response_parses_and_redacts() {
        let r: TokenResponse = serde_json::from_str(
            r#"{"access_token":"at_secret","token_type":"bearer","expires_in":3600,"refresh_token":"rt_secret","id_token":"x"}"#,
        )
        .unwrap();
        assert_eq!(r.access_token.expose(), "at_secret");
        assert_eq!(r.expires_at(1_000), Some(4_600));
        assert!(!format!("{r:?}").contains("secret\""));
        assert!(!format!("{r:?}").contains("at_secret"));
        let r: TokenResponse = serde_json::from_str(r#"{"access_token":"a"}"#).unwrap();
        assert!(r.refresh_token.is_none());
        assert_eq!(r.token_type, "Bearer");
        assert_eq!(r.expires_at(5), None);
    }

    #[test]
    fn registration_request_is_a_code_flow_client() {
        let r =
            ClientRegistrationRequest::authorization_code("Patchbay", "https://pb/callback", "");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["redirect_uris"][0], "https://pb/callback");
        assert_eq!(v["grant_types"][1], "refresh_token");
        assert!(v.get("scope").is_none());
        let resp: ClientRegistrationResponse =
            serde_json::from_str(r#"{"client_id":"cl_9","client_secret":""}"#).unwrap();
        assert!(resp.client_secret.is_none());
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
