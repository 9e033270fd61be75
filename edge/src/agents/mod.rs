//! The workspace as an OAuth 2.1 authorization server for hosted agents (MCP clients): its
//! RFC 8414 metadata ([`metadata`]), client registration by RFC 7591 ([`register`]), the
//! authorize page that waits for a person's decision in the dashboard ([`authorize`]), the
//! token and revocation endpoints ([`token`]) and the helper's routes to decide and revoke
//! ([`admin`]). Every row is in D1 ([`db`]); nothing lives in an isolate between requests.
//!
//! The tokens it issues are opaque, stored only as SHA-256, and bound to the audience
//! [`resource_url`] (the edge's `/mcp`, served by [`crate::mcp`]).
//!
//! The OAuth endpoints answer errors in RFC 6749 §5.2's shape (`error`,
//! `error_description`), which every OAuth client parses; the helper's routes use the
//! Connectors API's one error body.

pub mod admin;
pub mod authorize;
mod db;
pub mod metadata;
pub mod metadata_document;
pub mod register;
#[cfg(test)]
pub(crate) mod tests;
pub mod token;

pub use db::{Grant, connections, delete_session, save_session, session_grant, touch_client};

use patchbay_proto::agents::token_key;
use patchbay_proto::oauth::TokenErrorResponse;

use crate::Edge;
use crate::config::EdgeConfig;
use crate::error::ApiError;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::Store;

pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const TOKEN_PATH: &str = "/oauth/token";
pub const REGISTER_PATH: &str = "/oauth/register";
pub const REVOKE_PATH: &str = "/oauth/revoke";
/// The protected resource: the MCP endpoint.
pub const RESOURCE_PATH: &str = "/mcp";

/// This deployment's issuer: `PATCHBAY_PUBLIC_URL`, else the request's origin.
pub fn issuer(config: &EdgeConfig, req: &EdgeRequest) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| req.origin.clone())
}

/// The audience of every token this edge issues (RFC 8707).
pub fn resource_url(config: &EdgeConfig, req: &EdgeRequest) -> String {
    format!("{}{RESOURCE_PATH}", issuer(config, req))
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 7591 §3.2.2).
pub fn oauth_error(status: u16, error: &str, description: impl Into<String>) -> EdgeResponse {
    EdgeResponse::json(
        status,
        &TokenErrorResponse {
            error: error.into(),
            error_description: Some(description.into()),
        },
    )
}

/// The form fields of a POST body, each at most once.
pub fn form(req: &EdgeRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(&req.body).into_owned().collect()
}

pub fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    let mut values = form.iter().filter(|(k, _)| k == name);
    let first = values.next();
    // A repeated parameter is an error (RFC 6749 §3.1); treating it as absent refuses it.
    if values.next().is_some() {
        return None;
    }
    first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The grant behind a bearer access token for this edge's `/mcp`, if it is live.
pub async fn bearer_grant<S: Store, U>(
    edge: &Edge<'_, S, U>,
    req: &EdgeRequest,
    presented: &str,
) -> Result<Option<Grant>, ApiError> {
    let found = db::token_grant(edge, &token_key(presented), Some("access")).await?;
    let audience = resource_url(edge.config, req);
    Ok(found
        .map(|(grant, _)| grant)
        .filter(|g| g.resource == audience))
}
