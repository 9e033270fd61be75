//! Finding a server's authorization, in the MCP specification's order: an unauthenticated
//! probe (401 with a `Bearer` challenge), the protected-resource metadata (the challenge's
//! `resource_metadata`, then the well-known URL at the server's path, then at its root), and
//! the authorization server's metadata (RFC 8414 and OpenID Connect, path-aware, the
//! document's `issuer` equal to the one it was fetched for). A server with no metadata at all
//! needs `--auth-server`.

use patchbay_proto::mcp::choose_scope;
use patchbay_proto::oauth::{
    self, AuthorizationServerMetadata, BearerChallenge, HttpUrl, ProtectedResourceMetadata,
    authorization_server_metadata_urls, parse_bearer_challenge, protected_resource_metadata_urls,
};
use reqwest::StatusCode;
use serde_json::json;

use super::login::{Ctx, unreachable, upstream_err};
use super::options::ServerOptions;
use crate::ApiError;

/// Where the server's authorization is: the protected resource's identifier and issuer, and
/// the scope to ask for (before `offline_access`).
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub resource: String,
    pub issuer: String,
    pub scope: String,
}

/// The `Bearer` challenge of a response, if it has one.
pub fn challenge_of(headers: &reqwest::header::HeaderMap) -> Option<BearerChallenge> {
    headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_bearer_challenge)
}

/// Asks the server without a token (it answers 401), then finds its authorization server.
pub async fn discover_resource(
    ctx: &Ctx,
    url: &str,
    options: &ServerOptions,
) -> Result<ResourceInfo, ApiError> {
    let mut probe = ctx
        .http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "patchbay", "version": env!("CARGO_PKG_VERSION")},
            },
        }));
    for (name, value) in options.expanded_headers()? {
        probe = probe.header(name, value);
    }
    let probe = probe
        .send()
        .await
        .map_err(|e| unreachable("the MCP server", url, &e))?;
    let status = probe.status();
    if status.is_success() {
        return Err(ApiError::bad_request(format!(
            "The MCP server at {url} answered without asking for a sign-in, so it needs no \
             OAuth login."
        )));
    }
    let challenge = challenge_of(probe.headers());
    drop(probe);
    if status != StatusCode::UNAUTHORIZED {
        return Err(upstream_err(format!(
            "The MCP server at {url} answered {status} instead of asking for a sign-in (401). \
             Is this the server's MCP endpoint?"
        )));
    }
    let challenged_scope = challenge.as_ref().and_then(|c| c.scope.as_deref());
    if let Some(issuer) = &options.auth_server {
        // Named by the person: no protected-resource metadata is needed or trusted.
        return Ok(ResourceInfo {
            resource: url.to_owned(),
            issuer: issuer.clone(),
            scope: choose_scope(challenged_scope, &[]),
        });
    }
    let named = challenge
        .as_ref()
        .and_then(|c| c.resource_metadata.as_deref());
    let candidates = protected_resource_metadata_urls(url, named);
    for candidate in &candidates {
        // https only; and a remote server may not point us at this machine's services.
        let remote_to_local = HttpUrl::parse(url).is_some_and(|u| !u.is_loopback())
            && HttpUrl::parse(candidate).is_some_and(|c| c.is_loopback());
        if oauth::check_url(candidate).is_err() || remote_to_local {
            return Err(upstream_err(format!(
                "The MCP server points to its metadata at {candidate}, which is not an https \
                 URL of another machine. Patchbay will not use it."
            )));
        }
        let Some(prm) = metadata_at::<ProtectedResourceMetadata>(
            ctx,
            candidate,
            "the MCP server's metadata",
            "OAuth protected-resource metadata (RFC 9728)",
        )
        .await?
        else {
            continue;
        };
        prm.validate().map_err(|e| {
            upstream_err(format!(
                "The protected-resource metadata at {candidate} is invalid ({e:?})."
            ))
        })?;
        check_resource_matches(url, &prm.resource)?;
        let issuer = prm.authorization_servers.first().cloned().ok_or_else(|| {
            upstream_err(format!(
                "The protected-resource metadata at {candidate} names no authorization server."
            ))
        })?;
        return Ok(ResourceInfo {
            resource: prm.resource,
            issuer,
            scope: choose_scope(challenged_scope, &prm.scopes_supported),
        });
    }
    Err(upstream_err(format!(
        "The MCP server at {url} publishes no OAuth protected-resource metadata (tried {}), so \
         Patchbay cannot find its authorization server. If you know it, name it: `patchbay \
         mcp login {url} --auth-server <issuer URL>`.",
        candidates.join(", ")
    )))
}

/// RFC 9728 §3.3 / §7.3: the metadata must be about this server (same origin, and the
/// resource a prefix of the server's URL), or a malicious server could send our tokens to
/// another one.
fn check_resource_matches(url: &str, resource: &str) -> Result<(), ApiError> {
    let ok = match (HttpUrl::parse(url), HttpUrl::parse(resource)) {
        (Some(u), Some(r)) => {
            let rp = r.path.trim_end_matches('/');
            u.origin() == r.origin()
                && (u.path.trim_end_matches('/') == rp
                    || u.path.starts_with(&format!("{rp}/"))
                    || rp.is_empty())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(upstream_err(format!(
            "The MCP server at {url} says it is the resource {resource}, which is a different \
             address. Patchbay refuses to sign in (the metadata may be misconfigured or \
             malicious)."
        )))
    }
}

/// One metadata document candidate: `None` when it is not there (404, 405), so the caller
/// tries the next; `what` names the server and `kind` the document in errors.
async fn metadata_at<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    url: &str,
    what: &str,
    kind: &str,
) -> Result<Option<T>, ApiError> {
    let r = ctx
        .http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable(what, url, &e))?;
    if matches!(
        r.status(),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) {
        return Ok(None);
    }
    if !r.status().is_success() {
        return Err(upstream_err(format!(
            "{url} ({what}) answered {}.",
            r.status()
        )));
    }
    r.json()
        .await
        .map(Some)
        .map_err(|_| upstream_err(format!("{url} is not {kind}.")))
}

/// The issuer's metadata: the first well-known URL that answers, checked (same issuer, S256,
/// endpoint URLs) before anything is registered.
pub async fn fetch_metadata(
    ctx: &Ctx,
    issuer: &str,
) -> Result<AuthorizationServerMetadata, ApiError> {
    if oauth::check_url(issuer).is_err() {
        return Err(upstream_err(format!(
            "The authorization server {issuer} is not an https URL."
        )));
    }
    let candidates = authorization_server_metadata_urls(issuer);
    for candidate in &candidates {
        let Some(metadata) = metadata_at::<AuthorizationServerMetadata>(
            ctx,
            candidate,
            "the authorization server's metadata",
            "OAuth authorization-server metadata (RFC 8414)",
        )
        .await?
        else {
            continue;
        };
        metadata
            .check(issuer)
            .map_err(|p| ApiError::bad_request(p.message()))?;
        return Ok(metadata);
    }
    Err(upstream_err(format!(
        "The authorization server {issuer} publishes no OAuth or OpenID metadata (tried {}).",
        candidates.join(", ")
    )))
}
