//! The sans-IO half of the MCP connector: what an OAuth 2.1 client for remote MCP servers
//! adds to plain OAuth (`crate::oauth`).
//!
//! Server URLs (normalised, and a short id for each), the scope to ask for, the Dynamic
//! Client Registration request of a public loopback client, the authorization URL and token
//! forms with the RFC 8707 `resource` parameter, the checks on the redirect (state, RFC 9207
//! `iss`), and the `/api/connectors/mcp` types. The helper drives these with an HTTP client;
//! nothing here performs I/O.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Secret;
use crate::api::FlowStatus;
use crate::oauth::{
    AuthorizationRequest, ClientAuth, ClientRegistrationRequest, UrlError, authorization_code_form,
    check_url, refresh_token_form,
};
use crate::pkce::PkceVerifier;
use crate::redirect::AuthorizationResponse;
use crate::secret::constant_time_eq;

/// The one-shot listener's address; registered with every authorization server.
pub const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";
/// What authorization servers show the person on their consent page.
pub const CLIENT_NAME: &str = "Patchbay";

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

/// The scope to ask for: what the 401 challenge named, else what the protected resource
/// lists, else nothing (the server's default).
pub fn choose_scope(challenge: Option<&str>, resource_scopes: &[String]) -> String {
    match challenge.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_owned(),
        None => resource_scopes.join(" "),
    }
}

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
    /// Why the login ended without completing (`status` is then `error`); `null` otherwise.
    #[serde(default)]
    pub reason: Option<crate::api::EndReason>,
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
        assert_eq!(server_id("https://a/b"), server_id("https://a/b"));
        assert_ne!(server_id("https://a/b"), server_id("https://a/c"));
        assert!(server_id("https://a/b").starts_with("mcp-"));
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
    fn choose_scope_prefers_the_challenge() {
        assert_eq!(choose_scope(Some("a b"), &["c".into()]), "a b");
        assert_eq!(choose_scope(None, &["c".into(), "d".into()]), "c d");
        assert_eq!(choose_scope(Some(" "), &[]), "");
    }
}
