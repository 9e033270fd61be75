//! The sans-IO half of the MCP connector: what an OAuth 2.1 client for remote MCP servers
//! adds to plain OAuth (`crate::oauth`), after the MCP specification 2026-07-28.
//!
//! - here: server URLs (normalised, and a short id for each) and the `/api/connectors/mcp`
//!   types;
//! - [`scope`]: the scope of a first sign-in and of a step-up;
//! - [`client`]: who Patchbay is at an authorization server (pre-registered, metadata
//!   document, dynamic registration), the redirect URI, Patchbay's metadata document;
//! - [`forms`]: the authorization URL and token, refresh, device and revocation forms with
//!   the RFC 8707 `resource`;
//! - [`redirect`]: the `state` and RFC 9207 `iss` checks;
//! - [`headers`]: `--header 'Name: value'` and its late `${VAR}` expansion.
//!
//! The helper drives these with an HTTP client; nothing here performs I/O.

pub mod client;
pub mod forms;
pub mod headers;
pub mod redirect;
pub mod scope;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::FlowStatus;
use crate::oauth::{UrlError, check_url};

pub use client::{
    CLIENT_METADATA_PATH, CLIENT_NAME, ClientChoice, DEFAULT_CALLBACK_PORT, KnownClients,
    REDIRECT_URI, choose_client, client_metadata_document, redirect_uri, registration_request,
};
pub use forms::{
    Authorize, authorization_url, code_exchange_form, device_form, device_poll_form, refresh_form,
    revoke_forms,
};
pub use redirect::{RedirectProblem, check_redirect, check_state};
pub use scope::{STEP_UP_ATTEMPTS, choose_scope, step_up_scope};

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

/// `POST /api/connectors/mcp/servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartServerRequest {
    pub url: String,
}

/// `GET /api/connectors/mcp/sessions/{id}`: every member always present (`null` when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct McpServerList {
    pub servers: Vec<McpServer>,
}

/// What sign-out did at the authorization server (RFC 7009).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// Every stored token was revoked.
    Revoked,
    /// The authorization server has no revocation endpoint.
    NotOffered,
    /// Revocation failed; the local credentials were removed all the same.
    Failed,
    /// No token was stored.
    NothingToRevoke,
}

/// `DELETE /api/connectors/mcp/servers/{id}`: the server was removed; `message` says what
/// happened at its authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct McpRemoved {
    pub ok: bool,
    pub revocation: Revocation,
    pub message: String,
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
}
