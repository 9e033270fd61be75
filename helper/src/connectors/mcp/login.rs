//! Signing in to a remote MCP server: discovery, registration (once per issuer), the
//! authorization request, the redirect (listener or paste) and the code exchange.
//!
//! Round trips on a first sign-in: the unauthenticated probe (401 with `resource_metadata`),
//! the protected-resource metadata, the authorization-server metadata, registration, the
//! person's authorization, the token request. A new server on a known issuer skips the
//! metadata and registration; a reconnect to a known server also skips the probe and the
//! protected-resource metadata.

use std::time::Duration;

use patchbay_proto::Secret;
use patchbay_proto::mcp::{
    self, check_redirect, choose_scope, code_exchange_form, normalize_server_url,
    registration_request,
};
use patchbay_proto::oauth::{
    self, AuthorizationServerMetadata, BearerChallenge, ClientRegistrationResponse, HttpUrl,
    ProtectedResourceMetadata, TokenResponse, authorization_server_metadata_urls,
    classify_token_error, parse_bearer_challenge, protected_resource_metadata_urls,
};
use patchbay_proto::pkce::{PkceVerifier, new_state};
use patchbay_proto::redirect::{AuthorizationResponse, parse_pasted_redirect};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::listener::CallbackListener;
use super::store::{ClientRecord, McpFiles, ServerEntry};
use crate::ApiError;
use crate::engine::lease::LoopbackLease;
use crate::engine::store::{blocking, now_unix};
use crate::engine::text::quote_input;
use crate::engine::upstream;

/// How long a sign-in waits for the redirect.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

/// What every MCP operation needs: the HTTP client and the files.
#[derive(Clone)]
pub struct Ctx {
    pub http: reqwest::Client,
    pub files: McpFiles,
}

fn upstream_err(message: String) -> ApiError {
    ApiError::upstream(message)
}

fn unreachable(what: &str, url: &str, e: &reqwest::Error) -> ApiError {
    upstream_err(format!(
        "Cannot reach {what} at {url} ({}). Check the address and the network, then try again.",
        upstream::no_answer(e)
    ))
}

/// A form-encoded POST to a token endpoint (the code exchange here, refreshes in `tokens`).
pub(super) fn token_request(ctx: &Ctx, endpoint: &str, form: String) -> reqwest::RequestBuilder {
    ctx.http
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form)
}

/// Checks and normalises a server URL given by a person.
pub fn server_url(input: &str) -> Result<String, ApiError> {
    normalize_server_url(input).map_err(|e| {
        ApiError::bad_request(match e {
            oauth::UrlError::NotHttpUrl => format!(
                "“{}” is not an MCP server address; give its https:// URL (for example \
                 https://mcp.example.com/mcp).",
                quote_input(input.trim())
            ),
            oauth::UrlError::InsecureHttp => "MCP servers must be reached over https (plain http \
                is only allowed to this machine), because tokens travel with every request."
                .into(),
        })
    })
}

/// Where the server's authorization is: the protected resource's identifier and issuer,
/// and the scope to ask for.
struct ResourceInfo {
    resource: String,
    issuer: String,
    scope: String,
}

/// Asks the server without a token (it answers 401 with `resource_metadata`), then reads
/// the protected-resource metadata.
async fn discover_resource(ctx: &Ctx, url: &str) -> Result<ResourceInfo, ApiError> {
    let probe = ctx
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
        }))
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
    let challenge: Option<BearerChallenge> = probe
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_bearer_challenge);
    drop(probe);
    let candidates = match challenge.as_ref().and_then(|c| c.resource_metadata.clone()) {
        Some(u) => vec![u],
        None if status == StatusCode::UNAUTHORIZED => protected_resource_metadata_urls(url),
        None => {
            return Err(upstream_err(format!(
                "The MCP server at {url} answered {status} instead of asking for a sign-in \
                 (401). Is this the server's MCP endpoint?"
            )));
        }
    };
    let mut last = None;
    for candidate in candidates {
        // https only; and a remote server may not point us at this machine's services.
        let remote_to_local = HttpUrl::parse(url).is_some_and(|u| !u.is_loopback())
            && HttpUrl::parse(&candidate).is_some_and(|c| c.is_loopback());
        if oauth::check_url(&candidate).is_err() || remote_to_local {
            return Err(upstream_err(format!(
                "The MCP server points to its metadata at {candidate}, which is not an https \
                 URL of another machine. Patchbay will not use it."
            )));
        }
        let r = get_metadata(ctx, &candidate, "the MCP server's metadata").await?;
        if r.status() == StatusCode::NOT_FOUND {
            last = Some(candidate);
            continue;
        }
        if !r.status().is_success() {
            return Err(upstream_err(format!(
                "The MCP server's metadata at {candidate} answered {}.",
                r.status()
            )));
        }
        let prm: ProtectedResourceMetadata = r.json().await.map_err(|_| {
            upstream_err(format!(
                "{candidate} is not OAuth protected-resource metadata (RFC 9728)."
            ))
        })?;
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
        let scope = choose_scope(
            challenge.as_ref().and_then(|c| c.scope.as_deref()),
            &prm.scopes_supported,
        );
        return Ok(ResourceInfo {
            resource: prm.resource,
            issuer,
            scope,
        });
    }
    Err(upstream_err(format!(
        "The MCP server at {url} publishes no OAuth protected-resource metadata{}.",
        last.map(|l| format!(" (last tried {l})"))
            .unwrap_or_default()
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

/// GETs one metadata document candidate; `what` names the server in the error.
async fn get_metadata(ctx: &Ctx, url: &str, what: &str) -> Result<reqwest::Response, ApiError> {
    ctx.http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable(what, url, &e))
}

async fn fetch_metadata(ctx: &Ctx, issuer: &str) -> Result<AuthorizationServerMetadata, ApiError> {
    if oauth::check_url(issuer).is_err() {
        return Err(upstream_err(format!(
            "The authorization server {issuer} is not an https URL."
        )));
    }
    for candidate in authorization_server_metadata_urls(issuer) {
        let r = get_metadata(ctx, &candidate, "the authorization server").await?;
        if matches!(
            r.status(),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        ) {
            continue;
        }
        if !r.status().is_success() {
            return Err(upstream_err(format!(
                "The authorization server's metadata at {candidate} answered {}.",
                r.status()
            )));
        }
        return r.json().await.map_err(|_| {
            upstream_err(format!(
                "{candidate} is not OAuth authorization-server metadata (RFC 8414)."
            ))
        });
    }
    Err(upstream_err(format!(
        "The authorization server {issuer} publishes no OAuth or OpenID metadata."
    )))
}

async fn register(
    ctx: &Ctx,
    metadata: &AuthorizationServerMetadata,
    scope: &str,
) -> Result<String, ApiError> {
    let endpoint = metadata.registration_endpoint.as_deref().ok_or_else(|| {
        ApiError::bad_request(
            oauth::MetadataProblem::NoRegistration {
                issuer: metadata.issuer.clone(),
            }
            .message(),
        )
    })?;
    let r = ctx
        .http
        .post(endpoint)
        .json(&registration_request(scope))
        .send()
        .await
        .map_err(|e| unreachable("the registration endpoint", endpoint, &e))?;
    if !r.status().is_success() {
        return Err(upstream_err(format!(
            "The authorization server {} refused to register Patchbay as a client ({}).",
            metadata.issuer,
            r.status()
        )));
    }
    let reg: ClientRegistrationResponse = r.json().await.map_err(|_| {
        upstream_err(format!(
            "The registration endpoint {endpoint} answered with something that is not a \
             client registration."
        ))
    })?;
    tracing::info!(issuer = %metadata.issuer, "registered with the authorization server");
    Ok(reg.client_id)
}

/// A sign-in waiting for its redirect. Holds the PKCE verifier (not `Clone`) and the state.
pub struct Pending {
    pub server_url: String,
    pub resource: String,
    pub issuer: String,
    pub client_id: String,
    pub token_endpoint: String,
    pub scope: String,
    pub iss_supported: bool,
    pub auth_url: String,
    state: Secret,
    verifier: PkceVerifier,
}

/// Everything up to the authorization URL: discovery (or the cached result), registration
/// (only when the issuer has no client id yet), fresh PKCE and state.
pub async fn prepare(ctx: &Ctx, url: &str) -> Result<Pending, ApiError> {
    let now = now_unix();
    let files = ctx.files.clone();
    let (tokens, clients) =
        blocking(move || Ok((files.tokens.read()?, files.clients.read()?))).await?;
    let stored = ServerEntry::find(&tokens, url);
    let cached = stored.as_ref().and_then(|e| {
        let record = ClientRecord::from_value(clients.get(&e.issuer)?)?;
        record.fresh_metadata(now)?;
        Some(ResourceInfo {
            resource: e.resource.clone(),
            issuer: e.issuer.clone(),
            scope: e.scope.clone(),
        })
    });
    let info = match cached {
        Some(info) => info,
        None => discover_resource(ctx, url).await?,
    };
    let record = clients.get(&info.issuer).and_then(ClientRecord::from_value);
    let (metadata, fetched_at) = match record.as_ref().and_then(|r| r.fresh_metadata(now)) {
        Some(m) => (
            m.clone(),
            record.as_ref().map_or(now, |r| r.metadata_fetched_at),
        ),
        None => (fetch_metadata(ctx, &info.issuer).await?, now),
    };
    metadata
        .check(&info.issuer)
        .map_err(|p| ApiError::bad_request(p.message()))?;
    let client_id = match record.as_ref() {
        Some(r) => r.client_id.clone(),
        None => register(ctx, &metadata, &info.scope).await?,
    };
    let new_record = ClientRecord {
        client_id: client_id.clone(),
        metadata: Some(metadata.clone()),
        metadata_fetched_at: fetched_at,
    };
    if record.as_ref() != Some(&new_record) {
        let clients = ctx.files.clients.clone();
        let issuer = info.issuer.clone();
        blocking(move || clients.update(|e| e.insert(issuer, new_record.to_value()))).await?;
    }

    let verifier = PkceVerifier::generate();
    let state = new_state();
    let auth_url = mcp::authorization_url(
        &metadata.authorization_endpoint,
        &client_id,
        &info.scope,
        &state,
        &verifier,
        &info.resource,
    );
    Ok(Pending {
        server_url: url.to_owned(),
        resource: info.resource,
        issuer: metadata.issuer.clone(),
        client_id,
        token_endpoint: metadata.token_endpoint.clone(),
        scope: info.scope,
        iss_supported: metadata.authorization_response_iss_parameter_supported,
        auth_url,
        state: Secret::new(state),
        verifier,
    })
}

/// Checks the redirect and exchanges its code; stores the tokens.
pub async fn complete(
    ctx: &Ctx,
    pending: Pending,
    response: AuthorizationResponse,
) -> Result<ServerEntry, ApiError> {
    check_redirect(
        &response,
        pending.state.expose(),
        &pending.issuer,
        pending.iss_supported,
    )
    .map_err(|p| ApiError::bad_request(p.message()))?;
    let form = code_exchange_form(
        &pending.client_id,
        &response.code,
        &pending.verifier,
        &pending.resource,
    );
    let r = token_request(ctx, &pending.token_endpoint, form)
        .send()
        .await
        .map_err(|e| unreachable("the token endpoint", &pending.token_endpoint, &e))?;
    let status = r.status();
    if !status.is_success() {
        let body = r.bytes().await.unwrap_or_default();
        return Err(match classify_token_error(status.as_u16(), &body) {
            oauth::TokenFailure::InvalidGrant => ApiError::bad_request(
                "The authorization server refused the sign-in code (it may have expired or \
                 been used already). Nothing was saved; start the sign-in again.",
            ),
            oauth::TokenFailure::InvalidClient => {
                forget_client(ctx, &pending.issuer).await?;
                ApiError::bad_request(
                    "The authorization server no longer knows Patchbay's client id. It was \
                     forgotten; start the sign-in again to register anew.",
                )
            }
            oauth::TokenFailure::Transient(why) => upstream_err(format!(
                "The token endpoint {} failed ({why}). Nothing was saved; try again.",
                pending.token_endpoint
            )),
        });
    }
    let tokens: TokenResponse = r.json().await.map_err(|_| {
        upstream_err(format!(
            "The token endpoint {} answered with something that is not a token response.",
            pending.token_endpoint
        ))
    })?;
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(upstream_err(format!(
            "The authorization server issued a {} token; Patchbay only uses Bearer tokens.",
            tokens.token_type.chars().take(20).collect::<String>()
        )));
    }
    let entry = ServerEntry {
        url: pending.server_url.clone(),
        expires_at: tokens.expires_at(now_unix()),
        token: Some(tokens.access_token),
        refresh_token: tokens.refresh_token,
        issuer: pending.issuer.clone(),
        client_id: pending.client_id.clone(),
        token_endpoint: pending.token_endpoint.clone(),
        resource: pending.resource.clone(),
        scope: tokens.scope.unwrap_or(pending.scope),
        needs_login: false,
    };
    let value = entry.to_value();
    let store = ctx.files.tokens.clone();
    let key = entry.url.clone();
    blocking(move || store.update(|e| e.insert(key, value))).await?;
    tracing::info!(server = %entry.url, issuer = %entry.issuer, "MCP server signed in");
    Ok(entry)
}

/// Drops the registration of `issuer` (the server said it does not know the client id).
pub async fn forget_client(ctx: &Ctx, issuer: &str) -> Result<(), ApiError> {
    let clients = ctx.files.clients.clone();
    let issuer = issuer.to_owned();
    blocking(move || clients.update(|e| e.remove(&issuer))).await?;
    Ok(())
}

/// How a login ended without tokens.
#[derive(Debug)]
pub enum LoginEnd {
    Failed(ApiError),
    Cancelled,
    TimedOut,
}

impl From<ApiError> for LoginEnd {
    fn from(e: ApiError) -> Self {
        LoginEnd::Failed(e)
    }
}

/// What the flow tells its host (terminal or session) as it goes.
pub trait LoginEvents: Send {
    /// The authorization URL is ready and the listener is running.
    fn awaiting(&mut self, pending: &Pending);
    /// A paste that could not be read; the flow keeps waiting.
    fn bad_paste(&mut self, message: &str);
}

/// The whole sign-in, once the caller holds the lease: discovery and registration, listener, URL, redirect (from the
/// listener or pasted), exchange. The listener is bound before the URL is handed out, and
/// closed (and the lease released) before this returns.
pub async fn run(
    ctx: &Ctx,
    url: &str,
    lease: LoopbackLease,
    events: &mut dyn LoginEvents,
    pasted: &mut mpsc::Receiver<String>,
    cancel: &CancellationToken,
) -> Result<ServerEntry, LoginEnd> {
    let pending = tokio::select! {
        p = prepare(ctx, url) => p?,
        _ = cancel.cancelled() => return Err(LoginEnd::Cancelled),
    };
    let mut listener = CallbackListener::bind(&lease).await?;
    events.awaiting(&pending);
    let deadline = tokio::time::sleep(LOGIN_TIMEOUT);
    tokio::pin!(deadline);
    let mut paste_open = true;
    let response = loop {
        let raw = tokio::select! {
            q = listener.next() => match q {
                Some(q) => format!("?{q}"),
                None => continue,
            },
            p = pasted.recv(), if paste_open => match p {
                Some(p) => p,
                None => { paste_open = false; continue; }
            },
            _ = cancel.cancelled() => {
                listener.close().await;
                return Err(LoginEnd::Cancelled);
            }
            _ = &mut deadline => {
                listener.close().await;
                return Err(LoginEnd::TimedOut);
            }
        };
        match parse_pasted_redirect(&raw) {
            Ok(r) => break r,
            Err(e) => {
                let denied = matches!(e, patchbay_proto::redirect::PasteError::Denied { .. });
                if denied {
                    listener.close().await;
                    return Err(LoginEnd::Failed(ApiError::bad_request(e.message())));
                }
                events.bad_paste(&e.message());
            }
        }
    };
    listener.close().await;
    let result = complete(ctx, pending, response).await;
    drop(lease);
    Ok(result?)
}
