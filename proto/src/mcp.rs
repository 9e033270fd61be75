//! The sans-IO half of the MCP connector: an OAuth 2.1 client for remote MCP servers.
//!
//! Discovery (`WWW-Authenticate` challenges, RFC 9728 protected-resource metadata, RFC 8414
//! authorization-server metadata and their well-known URLs), the Dynamic Client Registration
//! request (RFC 7591), the authorization URL with PKCE S256, `state` and the RFC 8707
//! `resource` parameter, the checks on the redirect (state, RFC 9207 `iss`), token forms and
//! responses, and expiry arithmetic (time is passed in). The helper drives these with an
//! HTTP client; nothing here performs I/O.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Secret;
use crate::api::FlowStatus;
use crate::oauth::{
    AuthorizationRequest, ClientAuth, ClientRegistrationRequest, authorization_code_form,
    refresh_token_form,
};
use crate::pkce::{CHALLENGE_METHOD, PkceVerifier};
use crate::redirect::AuthorizationResponse;
use crate::secret::constant_time_eq;

/// The one-shot listener's address; registered with every authorization server.
pub const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";
/// What authorization servers show the person on their consent page.
pub const CLIENT_NAME: &str = "Patchbay";
/// Refresh this long before the access token expires, so a request never carries a token
/// that dies on the way.
pub const REFRESH_MARGIN_SECS: u64 = 60;

// ---------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------

/// An http(s) URL split into the parts discovery needs. Only what RFC 3986 allows in the
/// URLs we meet; anything odd is refused rather than guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl<'a> {
    pub scheme: &'a str,
    /// `host[:port]`, as written.
    pub authority: &'a str,
    /// Starts with `/`, or is empty.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

impl<'a> HttpUrl<'a> {
    pub fn parse(s: &'a str) -> Option<HttpUrl<'a>> {
        let (scheme, rest) = s.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        if s.contains('#') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (tail, None),
        };
        Some(HttpUrl {
            scheme,
            authority,
            path,
            query,
        })
    }

    /// `scheme://authority`, lower-cased.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            self.scheme.to_ascii_lowercase(),
            self.authority.to_ascii_lowercase()
        )
    }

    /// The host without port or IPv6 brackets.
    pub fn host(&self) -> &str {
        let a = self.authority;
        if let Some(rest) = a.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        a.rsplit_once(':').map(|(h, _)| h).unwrap_or(a)
    }

    pub fn is_loopback(&self) -> bool {
        let host = self.host().to_ascii_lowercase();
        host == "localhost" || host == "::1" || host.starts_with("127.")
    }

    pub fn is_https(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("https")
    }
}

/// Why a URL may not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    NotHttpUrl,
    /// Plain http to anything but this machine would send tokens in the clear.
    InsecureHttp,
}

/// Checks a server or endpoint URL: https, or http to loopback (local development).
pub fn check_url(s: &str) -> Result<HttpUrl<'_>, UrlError> {
    let u = HttpUrl::parse(s).ok_or(UrlError::NotHttpUrl)?;
    if !u.is_https() && !u.is_loopback() {
        return Err(UrlError::InsecureHttp);
    }
    Ok(u)
}

/// The form a server URL is stored and compared under: trimmed, scheme and host lower-case,
/// no trailing slash on the path.
pub fn normalize_server_url(s: &str) -> Result<String, UrlError> {
    let s = s.trim();
    let u = check_url(s)?;
    let path = u.path.trim_end_matches('/');
    Ok(match u.query {
        Some(q) => format!("{}{path}?{q}", u.origin()),
        None => format!("{}{path}", u.origin()),
    })
}

/// A short, stable id for a server URL (for `DELETE /api/connectors/mcp/servers/{id}`):
/// the URL itself has slashes and is long.
pub fn server_id(url: &str) -> String {
    use base64::Engine as _;
    let digest = Sha256::digest(url.as_bytes());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..9]);
    format!("mcp-{b64}")
}

/// Where to look for a server's protected-resource metadata when its 401 did not say
/// (RFC 9728 §3.1: the well-known segment goes between host and path; then the root).
pub fn protected_resource_metadata_urls(server_url: &str) -> Vec<String> {
    let Some(u) = HttpUrl::parse(server_url) else {
        return Vec::new();
    };
    let origin = u.origin();
    let mut urls = Vec::new();
    let path = u.path.trim_end_matches('/');
    if !path.is_empty() {
        urls.push(format!(
            "{origin}/.well-known/oauth-protected-resource{path}"
        ));
    }
    urls.push(format!("{origin}/.well-known/oauth-protected-resource"));
    urls
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

// ---------------------------------------------------------------------------------------
// WWW-Authenticate
// ---------------------------------------------------------------------------------------

/// The `Bearer` challenge of a `WWW-Authenticate` header (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    pub resource_metadata: Option<String>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// Finds the `Bearer` challenge in a `WWW-Authenticate` value (which may hold several
/// challenges, each with comma-separated `name=value` or `name="quoted"` parameters).
pub fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut in_bearer = false;
    let mut found = None::<BearerChallenge>;
    loop {
        p.skip_ws_and_commas();
        if p.done() {
            break;
        }
        let token = p.token()?;
        p.skip_ws();
        if p.peek() == Some(b'=') {
            // An auth-param of the current challenge.
            p.i += 1;
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()?
            } else {
                p.token().unwrap_or_default()
            };
            if in_bearer && let Some(c) = found.as_mut() {
                match token.to_ascii_lowercase().as_str() {
                    "resource_metadata" => c.resource_metadata = Some(value),
                    "scope" => c.scope = Some(value),
                    "error" => c.error = Some(value),
                    _ => {}
                }
            }
        } else {
            // A new challenge's scheme (token68 values are skipped as unknown tokens).
            in_bearer = token.eq_ignore_ascii_case("bearer") && found.is_none();
            if in_bearer {
                found = Some(BearerChallenge::default());
            }
        }
    }
    found
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b) {
                self.i += 1;
            } else {
                break;
            }
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    out.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Authorization server metadata (RFC 8414)
// ---------------------------------------------------------------------------------------

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
    NoRegistration {
        issuer: String,
    },
}

impl MetadataProblem {
    pub fn message(&self) -> String {
        match self {
            MetadataProblem::IssuerMismatch { expected, found } => format!(
                "The authorization server's metadata names the issuer {found}, but it was \
                 fetched for {expected}. Patchbay refuses it (RFC 8414 §3.3: a mismatch can \
                 mean a mix-up attack)."
            ),
            MetadataProblem::NoS256 { issuer, methods } => format!(
                "The authorization server {issuer} does not support PKCE with S256 (its \
                 code_challenge_methods_supported is {}). Patchbay only signs in with S256 \
                 PKCE, as OAuth 2.1 requires; ask the server's operator to enable it.",
                if methods.is_empty() {
                    "missing".to_owned()
                } else {
                    format!("[{}]", methods.join(", "))
                }
            ),
            MetadataProblem::BadEndpoint { name, url } => format!(
                "The authorization server's {name} ({url}) is not an https URL (plain http is \
                 only allowed on this machine)."
            ),
            MetadataProblem::NoRegistration { issuer } => format!(
                "The authorization server {issuer} offers no dynamic client registration, and \
                 Patchbay has no client id for it."
            ),
        }
    }
}

impl AuthorizationServerMetadata {
    /// The checks before the document may be used for `expected_issuer`.
    pub fn check(&self, expected_issuer: &str) -> Result<(), MetadataProblem> {
        if self.issuer.trim_end_matches('/') != expected_issuer.trim_end_matches('/') {
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

/// The scope to ask for: what the 401 challenge named, else what the protected resource
/// lists, else nothing (the server's default).
pub fn choose_scope(challenge: Option<&str>, resource_scopes: &[String]) -> String {
    match challenge.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_owned(),
        None => resource_scopes.join(" "),
    }
}

// ---------------------------------------------------------------------------------------
// Registration, authorization, tokens
// ---------------------------------------------------------------------------------------

/// The Dynamic Client Registration request: a public native client (no secret) with the
/// loopback redirect.
pub fn registration_request(scope: &str) -> ClientRegistrationRequest {
    let mut r = ClientRegistrationRequest::authorization_code(CLIENT_NAME, REDIRECT_URI, scope);
    r.token_endpoint_auth_method = "none".into();
    r
}

/// The URL the person opens: code flow with PKCE S256, `state` and the RFC 8707 `resource`.
pub fn authorization_url(
    authorization_endpoint: &str,
    client_id: &str,
    scope: &str,
    state: &str,
    verifier: &PkceVerifier,
    resource: &str,
) -> String {
    let url = AuthorizationRequest {
        endpoint: authorization_endpoint,
        client_id,
        redirect_uri: REDIRECT_URI,
        scope,
        state,
        code_challenge: &verifier.challenge(),
    }
    .url();
    with_resource(url, resource)
}

fn with_resource(mut s: String, resource: &str) -> String {
    let pair = form_urlencoded::Serializer::new(String::new())
        .append_pair("resource", resource)
        .finish();
    s.push('&');
    s.push_str(&pair);
    s
}

/// The form-encoded body that exchanges the code (with the verifier and the resource).
pub fn code_exchange_form(
    client_id: &str,
    code: &str,
    verifier: &PkceVerifier,
    resource: &str,
) -> String {
    let client = ClientAuth {
        client_id,
        client_secret: None,
    };
    with_resource(
        authorization_code_form(client, code, REDIRECT_URI, verifier),
        resource,
    )
}

/// The form-encoded body that refreshes (with the resource, RFC 8707 §2.2).
pub fn refresh_form(client_id: &str, refresh_token: &Secret, resource: &str) -> String {
    let client = ClientAuth {
        client_id,
        client_secret: None,
    };
    with_resource(refresh_token_form(client, refresh_token), resource)
}

/// Why a redirect is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectProblem {
    StateMissing,
    StateMismatch,
    IssMissing,
    IssMismatch,
}

impl RedirectProblem {
    pub fn message(&self) -> String {
        match self {
            RedirectProblem::StateMissing => "The redirect has no state parameter, so Patchbay \
                cannot tell it belongs to this sign-in. Paste the whole address the browser \
                showed after you approved."
                .into(),
            RedirectProblem::StateMismatch => "The redirect's state does not match this \
                sign-in (it may belong to an older attempt, or be forged). Nothing was saved; \
                start the sign-in again."
                .into(),
            RedirectProblem::IssMissing => "The authorization server promises an iss \
                parameter in its redirects (RFC 9207), but this one has none. Nothing was \
                saved; start the sign-in again."
                .into(),
            RedirectProblem::IssMismatch => "The redirect comes from a different \
                authorization server than the one this sign-in started at (iss mismatch, \
                RFC 9207). Nothing was saved; start the sign-in again."
                .into(),
        }
    }
}

/// The checks on the authorization response: `state` (constant time), and `iss` when the
/// server advertises RFC 9207 support or sends one anyway.
pub fn check_redirect(
    response: &AuthorizationResponse,
    expected_state: &str,
    issuer: &str,
    iss_advertised: bool,
) -> Result<(), RedirectProblem> {
    let state = response
        .state
        .as_deref()
        .ok_or(RedirectProblem::StateMissing)?;
    if !constant_time_eq(state.as_bytes(), expected_state.as_bytes()) {
        return Err(RedirectProblem::StateMismatch);
    }
    match response.iss.as_deref() {
        Some(iss) if iss.trim_end_matches('/') != issuer.trim_end_matches('/') => {
            Err(RedirectProblem::IssMismatch)
        }
        None if iss_advertised => Err(RedirectProblem::IssMissing),
        _ => Ok(()),
    }
}

/// Whether a token that expires at `expires_at` (Unix seconds; `None`: never said) must be
/// refreshed at `now`.
pub fn needs_refresh(expires_at: Option<u64>, now: u64, margin: u64) -> bool {
    expires_at.is_some_and(|t| now.saturating_add(margin) >= t)
}

/// What a failed token request means for the stored credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// The grant (refresh token or code) is dead: sign in again (no new registration).
    InvalidGrant,
    /// The client id is unknown to the server: register again, then sign in.
    InvalidClient,
    /// Network trouble, 5xx, rate limits, anything else: keep everything and retry later.
    Transient(String),
}

/// Classifies a token endpoint answer that was not a success.
pub fn classify_token_error(status: u16, body: &[u8]) -> TokenFailure {
    let parsed: Option<crate::oauth::TokenErrorResponse> = serde_json::from_slice(body).ok();
    match parsed.as_ref().map(|e| e.error.as_str()) {
        Some("invalid_grant") if status < 500 => TokenFailure::InvalidGrant,
        Some("invalid_client" | "unauthorized_client") if status < 500 => {
            TokenFailure::InvalidClient
        }
        Some(other) => TokenFailure::Transient(format!("HTTP {status}, error {}", short(other))),
        None => TokenFailure::Transient(format!("HTTP {status}")),
    }
}

fn short(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(60).collect()
}

// ---------------------------------------------------------------------------------------
// API types
// ---------------------------------------------------------------------------------------

/// `POST /api/connectors/mcp/servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartServerRequest {
    pub url: String,
}

/// `GET /api/connectors/mcp/sessions/{id}`: every member always present (`null` when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpSession {
    pub status: FlowStatus,
    pub auth_url: Option<String>,
    pub server_url: String,
    pub issuer: Option<String>,
    pub error: Option<String>,
}

/// Where a stored server's tokens stand (never the tokens themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// The access token is good for now.
    Valid,
    /// The access token has expired; the refresh token will get a new one on next use.
    Expired,
    /// The refresh token was refused: sign in again.
    ReauthorizationRequired,
    /// No token is stored.
    Missing,
}

/// One entry of `GET /api/connectors/mcp/servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServer {
    pub id: String,
    pub url: String,
    pub issuer: Option<String>,
    pub scope: Option<String>,
    pub token_state: TokenState,
    pub expires_at: Option<u64>,
    pub has_refresh_token: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerList {
    pub servers: Vec<McpServer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_found_among_others() {
        let c = parse_bearer_challenge(
            r#"Bearer realm="mcp", error="invalid_token", resource_metadata="https://x.example/.well-known/oauth-protected-resource/mcp""#,
        )
        .unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://x.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c.error.as_deref(), Some("invalid_token"));

        let c = parse_bearer_challenge(
            r#"Basic realm="a\"b", DPoP algs="ES256", bearer scope="read write",resource_metadata=https://y/m"#,
        )
        .unwrap();
        assert_eq!(c.scope.as_deref(), Some("read write"));
        assert_eq!(c.resource_metadata.as_deref(), Some("https://y/m"));
        assert!(parse_bearer_challenge(r#"Basic realm="x""#).is_none());
        assert!(parse_bearer_challenge("").is_none());
        let c = parse_bearer_challenge("Bearer").unwrap();
        assert_eq!(c, BearerChallenge::default());
    }

    #[test]
    fn urls_are_checked_and_normalised() {
        assert_eq!(
            normalize_server_url(" HTTPS://Mcp.Example.com/api/mcp/ ").unwrap(),
            "https://mcp.example.com/api/mcp"
        );
        assert_eq!(
            normalize_server_url("http://127.0.0.1:8080/mcp").unwrap(),
            "http://127.0.0.1:8080/mcp"
        );
        assert_eq!(
            normalize_server_url("http://example.com/mcp"),
            Err(UrlError::InsecureHttp)
        );
        assert_eq!(normalize_server_url("ftp://x/y"), Err(UrlError::NotHttpUrl));
        assert_eq!(
            normalize_server_url("https://u:p@x/y"),
            Err(UrlError::NotHttpUrl)
        );
        assert!(HttpUrl::parse("http://[::1]:9/x").unwrap().is_loopback());
        assert_eq!(server_id("https://a/b"), server_id("https://a/b"));
        assert_ne!(server_id("https://a/b"), server_id("https://a/c"));
        assert!(server_id("https://a/b").starts_with("mcp-"));
    }

    #[test]
    fn well_known_urls_insert_the_path() {
        assert_eq!(
            protected_resource_metadata_urls("https://x.example/api/mcp"),
            [
                "https://x.example/.well-known/oauth-protected-resource/api/mcp",
                "https://x.example/.well-known/oauth-protected-resource"
            ]
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
        assert_eq!(meta().check("https://as.example/"), Ok(()));
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

    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or(url);
        form_urlencoded::parse(q.as_bytes()).into_owned().collect()
    }

    #[test]
    fn authorization_url_and_forms_carry_pkce_state_and_resource() {
        let v = PkceVerifier::generate();
        let url = authorization_url(
            "https://as.example/authorize",
            "cid",
            "read write",
            "st",
            &v,
            "https://mcp.example/mcp",
        );
        let q = query(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("redirect_uri").as_deref(), Some(REDIRECT_URI));
        assert_eq!(get("code_challenge"), Some(v.challenge()));
        assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(get("resource").as_deref(), Some("https://mcp.example/mcp"));
        assert_eq!(get("scope").as_deref(), Some("read write"));
        assert!(url.contains("scope=read+write"));

        let form = code_exchange_form("cid", "c/d", &v, "https://mcp.example/mcp");
        let q = query(&form);
        assert!(q.contains(&("code".into(), "c/d".into())));
        assert!(q.contains(&("code_verifier".into(), v.expose().into())));
        assert!(q.contains(&("resource".into(), "https://mcp.example/mcp".into())));
        assert!(!q.iter().any(|(k, _)| k == "client_secret"));
        let form = refresh_form("cid", &Secret::new("rt"), "https://r");
        assert_eq!(
            form,
            "grant_type=refresh_token&refresh_token=rt&client_id=cid&resource=https%3A%2F%2Fr"
        );
        let r = registration_request("read");
        assert_eq!(r.token_endpoint_auth_method, "none");
        assert_eq!(r.redirect_uris, [REDIRECT_URI]);
    }

    #[test]
    fn redirects_are_checked_for_state_and_iss() {
        let resp = |state: Option<&str>, iss: Option<&str>| AuthorizationResponse {
            code: "c".into(),
            state: state.map(Into::into),
            iss: iss.map(Into::into),
        };
        let as_ = "https://as.example";
        assert_eq!(
            check_redirect(&resp(Some("s"), None), "s", as_, false),
            Ok(())
        );
        assert_eq!(
            check_redirect(&resp(Some("x"), None), "s", as_, false),
            Err(RedirectProblem::StateMismatch)
        );
        assert_eq!(
            check_redirect(&resp(None, None), "s", as_, false),
            Err(RedirectProblem::StateMissing)
        );
        assert_eq!(
            check_redirect(&resp(Some("s"), None), "s", as_, true),
            Err(RedirectProblem::IssMissing)
        );
        assert_eq!(
            check_redirect(&resp(Some("s"), Some("https://evil")), "s", as_, false),
            Err(RedirectProblem::IssMismatch)
        );
        assert_eq!(
            check_redirect(&resp(Some("s"), Some(as_)), "s", as_, true),
            Ok(())
        );
    }

    #[test]
    fn expiry_and_token_errors() {
        assert!(!needs_refresh(None, 100, 60));
        assert!(!needs_refresh(Some(1000), 100, 60));
        assert!(needs_refresh(Some(150), 100, 60));
        assert!(needs_refresh(Some(50), 100, 60));
        assert_eq!(
            classify_token_error(400, br#"{"error":"invalid_grant"}"#),
            TokenFailure::InvalidGrant
        );
        assert_eq!(
            classify_token_error(401, br#"{"error":"invalid_client"}"#),
            TokenFailure::InvalidClient
        );
        assert!(matches!(
            classify_token_error(503, b"<html>"),
            TokenFailure::Transient(_)
        ));
        assert!(matches!(
            classify_token_error(500, br#"{"error":"invalid_grant"}"#),
            TokenFailure::Transient(_)
        ));
    }

    #[test]
    fn choose_scope_prefers_the_challenge() {
        assert_eq!(choose_scope(Some("a b"), &["c".into()]), "a b");
        assert_eq!(choose_scope(None, &["c".into(), "d".into()]), "c d");
        assert_eq!(choose_scope(Some(" "), &[]), "");
    }
}
