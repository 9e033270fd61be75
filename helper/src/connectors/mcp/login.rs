//! Signing in to a remote MCP server: discovery (`discovery`), who Patchbay is at the
//! authorization server (the specification's order, `proto::mcp::choose_client`), the
//! authorization request, the redirect (listener or paste) and the code exchange. The device
//! flow (`device`) shares everything up to the authorization request.
//!
//! Round trips on a first sign-in: the unauthenticated probe (401), the protected-resource
//! metadata, the authorization-server metadata, registration, the person's authorization,
//! the token request. A new server on a known issuer skips the metadata and registration; a
//! reconnect to a known server also skips the probe and the protected-resource metadata.

use std::time::Duration;

use patchbay_proto::Secret;
use patchbay_proto::mcp::{
    self, Authorize, ClientChoice, KnownClients, check_redirect, choose_client, code_exchange_form,
    normalize_server_url, registration_request,
};
use patchbay_proto::oauth::{
    self, AuthorizationServerMetadata, ClientRegistrationResponse, TokenResponse,
    classify_token_error, scope_union, with_offline_access,
};
use patchbay_proto::pkce::{PkceVerifier, new_state};
use patchbay_proto::redirect::{AuthorizationResponse, parse_pasted_redirect};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::discovery::{ResourceInfo, discover_resource, fetch_metadata};
use super::listener::CallbackListener;
use super::options::ServerOptions;
use super::store::{ClientKind, ClientRecord, McpFiles, ServerEntry, client_of};
use crate::ApiError;
use crate::engine::lease::{LOOPBACK_PORT, LoopbackLease};
use crate::engine::store::{blocking, now_unix};
use crate::engine::text::quote_input;
use crate::engine::upstream;

/// How long a sign-in waits for the redirect.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

/// What every MCP operation needs: the HTTP client, the files, and the URL of Patchbay's
/// Client ID Metadata Document (when one is configured).
#[derive(Clone)]
pub struct Ctx {
    pub http: reqwest::Client,
    pub files: McpFiles,
    pub client_metadata_url: Option<String>,
}

impl Ctx {
    pub fn new(http: reqwest::Client, files: McpFiles) -> Ctx {
        Ctx {
            http,
            files,
            client_metadata_url: client_metadata_url(|k| std::env::var(k).ok()),
        }
    }
}

/// Where Patchbay's metadata document is: `PATCHBAY_CLIENT_METADATA_URL`, else the edge's
/// (`PATCHBAY_EDGE_URL` + [`mcp::CLIENT_METADATA_PATH`]), else nowhere (no CIMD).
pub fn client_metadata_url(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let non_blank = |k| {
        var(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    non_blank("PATCHBAY_CLIENT_METADATA_URL")
        .or_else(|| {
            non_blank("PATCHBAY_EDGE_URL").map(|edge| {
                format!(
                    "{}{}",
                    edge.trim_end_matches('/'),
                    mcp::CLIENT_METADATA_PATH
                )
            })
        })
        .filter(|u| mcp::client::is_metadata_document_url(u))
}

pub(super) fn upstream_err(message: String) -> ApiError {
    ApiError::upstream(message)
}

pub(super) fn unreachable(what: &str, url: &str, e: &reqwest::Error) -> ApiError {
    upstream_err(format!(
        "Cannot reach {what} at {url} ({}). Check the address and the network, then try again.",
        upstream::no_answer(e)
    ))
}

/// A form-encoded POST to a token endpoint (code exchange, refresh, device poll, revocation).
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

/// A client the person registered by hand (`--client-id`, the secret from the environment
/// or a prompt).
#[derive(Debug, Clone)]
pub struct GivenClient {
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

/// What a sign-in is asked to do.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub url: String,
    /// `None`: the options stored with the server (or none).
    pub options: Option<ServerOptions>,
    pub client: Option<GivenClient>,
}

impl LoginRequest {
    pub fn plain(url: &str) -> LoginRequest {
        LoginRequest {
            url: url.to_owned(),
            options: None,
            client: None,
        }
    }
}

/// The options a sign-in to `url` will use: the given ones, else those stored with it.
pub async fn options_for(ctx: &Ctx, req: &LoginRequest) -> Result<ServerOptions, ApiError> {
    if let Some(o) = &req.options {
        return Ok(o.clone());
    }
    let store = ctx.files.tokens.clone();
    let url = req.url.clone();
    let entries = blocking(move || store.read()).await?;
    Ok(ServerEntry::find(&entries, &url)
        .map(|e| e.options)
        .unwrap_or_default())
}

/// Everything a sign-in needs before the person is asked: the resource, the issuer's
/// metadata, the client to sign in as, the scope.
pub struct Resolved {
    pub server_url: String,
    pub resource: String,
    pub metadata: AuthorizationServerMetadata,
    pub client: ClientRecord,
    pub scope: String,
    pub options: ServerOptions,
}

/// Discovery (or the cached result), then the client identity (registering only when the
/// specification's order ends there).
pub async fn resolve(ctx: &Ctx, req: &LoginRequest, device: bool) -> Result<Resolved, ApiError> {
    let now = now_unix();
    let url = req.url.clone();
    let files = ctx.files.clone();
    let (tokens, clients) =
        blocking(move || Ok((files.tokens.read()?, files.clients.read()?))).await?;
    let stored = ServerEntry::find(&tokens, &url);
    let options = match &req.options {
        Some(o) => o.clone(),
        None => stored
            .as_ref()
            .map(|e| e.options.clone())
            .unwrap_or_default(),
    };
    // A known server whose issuer's metadata is fresh needs no discovery, unless the person
    // now names another authorization server.
    let cached = stored.as_ref().and_then(|e| {
        client_of(&clients, &e.issuer)?.fresh_metadata(now)?;
        let same_server = options.auth_server.as_ref().is_none_or(|a| a == &e.issuer);
        same_server.then(|| ResourceInfo {
            resource: e.resource.clone(),
            issuer: e.issuer.clone(),
            scope: e.requested_scope.clone(),
        })
    });
    let info = match cached {
        Some(info) => info,
        None => discover_resource(ctx, &url, &options).await?,
    };
    let record = client_of(&clients, &info.issuer);
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
    // Never fewer scopes than asked for before (a step-up's union survives a new login).
    let asked_before = stored
        .as_ref()
        .filter(|e| e.issuer == info.issuer)
        .map(|e| e.requested_scope.clone())
        .unwrap_or_default();
    let scope = with_offline_access(
        &scope_union(&info.scope, &asked_before),
        &metadata.scopes_supported,
    );
    let redirect_uri = options.redirect_uri();
    let client = identify(ctx, req, record, &metadata, &redirect_uri, &scope, device).await?;
    let client = ClientRecord {
        metadata: Some(metadata.clone()),
        metadata_fetched_at: fetched_at,
        ..client
    };
    let unchanged = client_of(&clients, &info.issuer).as_ref() == Some(&client);
    if !unchanged {
        let clients = ctx.files.clients.clone();
        let issuer = info.issuer.clone();
        let value = client.to_value();
        blocking(move || clients.update(|e| e.insert(issuer, value))).await?;
    }
    Ok(Resolved {
        server_url: url,
        resource: info.resource,
        metadata,
        client,
        scope,
        options,
    })
}

/// The client to sign in as, in the specification's order.
async fn identify(
    ctx: &Ctx,
    req: &LoginRequest,
    record: Option<ClientRecord>,
    metadata: &AuthorizationServerMetadata,
    redirect_uri: &str,
    scope: &str,
    device: bool,
) -> Result<ClientRecord, ApiError> {
    let stored_given = record
        .as_ref()
        .filter(|r| r.kind == ClientKind::PreRegistered);
    let registered = record
        .as_ref()
        .filter(|r| r.kind == ClientKind::Registered)
        .map(|r| (r.client_id.as_str(), r.redirect_uri.as_str()));
    let known = KnownClients {
        pre_registered: req
            .client
            .as_ref()
            .map(|c| c.client_id.as_str())
            .or(stored_given.map(|r| r.client_id.as_str())),
        metadata_document: ctx.client_metadata_url.as_deref(),
        // A device sign-in needs a registration that includes the device grant.
        registered: registered.filter(|_| !device),
    };
    let choice = choose_client(known, metadata, redirect_uri)
        .map_err(|p| ApiError::bad_request(p.message()))?;
    let record = |client_id: String, kind, client_secret| ClientRecord {
        client_id,
        kind,
        client_secret,
        redirect_uri: redirect_uri.to_owned(),
        metadata: None,
        metadata_fetched_at: 0,
    };
    Ok(match choice {
        ClientChoice::PreRegistered(id) => {
            let secret = match &req.client {
                Some(given) => given.client_secret.clone(),
                None => stored_given.and_then(|r| r.client_secret.clone()),
            };
            record(id, ClientKind::PreRegistered, secret)
        }
        ClientChoice::MetadataDocument(url) => record(url, ClientKind::MetadataDocument, None),
        ClientChoice::Registered(id) => record(id, ClientKind::Registered, None),
        ClientChoice::Register(endpoint) => {
            let id = register(ctx, metadata, &endpoint, scope, redirect_uri, device).await?;
            record(id, ClientKind::Registered, None)
        }
    })
}

async fn register(
    ctx: &Ctx,
    metadata: &AuthorizationServerMetadata,
    endpoint: &str,
    scope: &str,
    redirect_uri: &str,
    device: bool,
) -> Result<String, ApiError> {
    let r = ctx
        .http
        .post(endpoint)
        .json(&registration_request(scope, redirect_uri, device))
        .send()
        .await
        .map_err(|e| unreachable("the registration endpoint", endpoint, &e))?;
    if !r.status().is_success() {
        return Err(upstream_err(format!(
            "The authorization server {} refused to register Patchbay as a client ({}). \
             Register a client there by hand (redirect URI {redirect_uri}) and sign in with \
             `--client-id`.",
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
    pub resolved: Resolved,
    pub redirect_uri: String,
    pub auth_url: String,
    state: Secret,
    verifier: PkceVerifier,
}

impl Pending {
    pub fn server_url(&self) -> &str {
        &self.resolved.server_url
    }

    pub fn issuer(&self) -> &str {
        &self.resolved.metadata.issuer
    }
}

/// Everything up to the authorization URL: [`resolve`], then fresh PKCE and state.
pub async fn prepare(ctx: &Ctx, req: &LoginRequest) -> Result<Pending, ApiError> {
    let resolved = resolve(ctx, req, false).await?;
    let verifier = PkceVerifier::generate();
    let state = new_state();
    let redirect_uri = resolved.options.redirect_uri();
    let auth_url = mcp::authorization_url(
        Authorize {
            endpoint: &resolved.metadata.authorization_endpoint,
            client_id: &resolved.client.client_id,
            redirect_uri: &redirect_uri,
            scope: &resolved.scope,
            resource: resolved.options.resource(&resolved.resource),
        },
        &state,
        &verifier,
    );
    Ok(Pending {
        resolved,
        redirect_uri,
        auth_url,
        state: Secret::new(state),
        verifier,
    })
}

/// What a token endpoint's refusal of a sign-in means, as an error (forgetting the client
/// when the server no longer knows it).
pub(super) async fn token_refusal(
    ctx: &Ctx,
    resolved: &Resolved,
    status: u16,
    body: &[u8],
) -> ApiError {
    let endpoint = &resolved.metadata.token_endpoint;
    match classify_token_error(status, body) {
        oauth::TokenFailure::InvalidGrant => ApiError::bad_request(
            "The authorization server refused the sign-in code (it may have expired or been \
             used already). Nothing was saved; start the sign-in again.",
        ),
        oauth::TokenFailure::InvalidClient => {
            if resolved.client.kind != ClientKind::PreRegistered {
                if let Err(e) = forget_client(ctx, &resolved.metadata.issuer).await {
                    return e;
                }
                return ApiError::bad_request(
                    "The authorization server no longer knows Patchbay's client id. It was \
                     forgotten; start the sign-in again to register anew.",
                );
            }
            ApiError::bad_request(
                "The authorization server refused the client id (or secret) you gave. Check \
                 them and sign in again with --client-id (and --client-secret-env).",
            )
        }
        oauth::TokenFailure::Transient(why) => upstream_err(format!(
            "The token endpoint {endpoint} failed ({why}). Nothing was saved; try again."
        )),
    }
}

/// Stores the tokens a sign-in (code or device) obtained.
pub(super) async fn save_tokens(
    ctx: &Ctx,
    resolved: Resolved,
    tokens: TokenResponse,
) -> Result<ServerEntry, ApiError> {
    if !tokens.token_type.eq_ignore_ascii_case("bearer") {
        return Err(upstream_err(format!(
            "The authorization server issued a {} token; Patchbay only uses Bearer tokens.",
            tokens.token_type.chars().take(20).collect::<String>()
        )));
    }
    let entry = ServerEntry {
        url: resolved.server_url.clone(),
        expires_at: tokens.expires_at(now_unix()),
        token: Some(tokens.access_token),
        refresh_token: tokens.refresh_token,
        issuer: resolved.metadata.issuer.clone(),
        client_id: resolved.client.client_id.clone(),
        token_endpoint: resolved.metadata.token_endpoint.clone(),
        resource: resolved.resource.clone(),
        scope: tokens.scope.unwrap_or_else(|| resolved.scope.clone()),
        requested_scope: resolved.scope,
        needs_login: false,
        options: resolved.options,
    };
    let value = entry.to_value();
    let store = ctx.files.tokens.clone();
    let key = entry.url.clone();
    blocking(move || store.update(|e| e.insert(key, value))).await?;
    tracing::info!(server = %entry.url, issuer = %entry.issuer, "MCP server signed in");
    Ok(entry)
}

/// Parses a token endpoint's success answer.
pub(super) async fn token_answer(
    endpoint: &str,
    r: reqwest::Response,
) -> Result<TokenResponse, ApiError> {
    r.json().await.map_err(|_| {
        upstream_err(format!(
            "The token endpoint {endpoint} answered with something that is not a token response."
        ))
    })
}

/// Checks the redirect and exchanges its code; stores the tokens.
pub async fn complete(
    ctx: &Ctx,
    pending: Pending,
    response: AuthorizationResponse,
) -> Result<ServerEntry, ApiError> {
    let resolved = pending.resolved;
    check_redirect(
        &response,
        pending.state.expose(),
        &resolved.metadata.issuer,
        resolved
            .metadata
            .authorization_response_iss_parameter_supported,
    )
    .map_err(|p| ApiError::bad_request(p.message()))?;
    let form = code_exchange_form(
        resolved.client.auth(),
        &response.code,
        &pending.redirect_uri,
        &pending.verifier,
        resolved.options.resource(&resolved.resource),
    );
    let endpoint = resolved.metadata.token_endpoint.clone();
    let r = token_request(ctx, &endpoint, form)
        .send()
        .await
        .map_err(|e| unreachable("the token endpoint", &endpoint, &e))?;
    let status = r.status();
    if !status.is_success() {
        let body = r.bytes().await.unwrap_or_default();
        return Err(token_refusal(ctx, &resolved, status.as_u16(), &body).await);
    }
    let tokens = token_answer(&endpoint, r).await?;
    save_tokens(ctx, resolved, tokens).await
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

impl LoginEnd {
    /// The end as a sentence for a terminal.
    pub fn message(self) -> String {
        match self {
            LoginEnd::Failed(e) => e.message,
            LoginEnd::Cancelled => "sign-in cancelled".into(),
            LoginEnd::TimedOut => format!(
                "no redirect arrived within {} minutes; run the login again",
                LOGIN_TIMEOUT.as_secs() / 60
            ),
        }
    }
}

/// What the flow tells its host (terminal, session, proxy) as it goes.
pub trait LoginEvents: Send {
    /// The authorization URL is ready and the listener is running.
    fn awaiting(&mut self, pending: &Pending);
    /// A paste that could not be read; the flow keeps waiting.
    fn bad_paste(&mut self, message: &str);
}

/// Takes the port-53682 lease when the sign-in listens there and the caller holds none yet.
pub fn lease_for(
    ctx: &Ctx,
    options: &ServerOptions,
    url: &str,
) -> Result<Option<LoopbackLease>, ApiError> {
    if options.port() != LOOPBACK_PORT {
        return Ok(None);
    }
    LoopbackLease::try_acquire(&ctx.files.data_dir, &format!("MCP login for {url}"))
        .map(Some)
        .map_err(ApiError::from)
}

/// The whole sign-in: discovery and registration, listener, URL, redirect (from the listener
/// or pasted), exchange. The listener is bound before the URL is handed out, and closed (and
/// the lease, if any, released) before this returns. A request to the listener that is not
/// this sign-in's redirect gets a 400 page and changes nothing.
pub async fn run(
    ctx: &Ctx,
    req: &LoginRequest,
    lease: Option<LoopbackLease>,
    events: &mut dyn LoginEvents,
    pasted: &mut mpsc::Receiver<String>,
    cancel: &CancellationToken,
) -> Result<ServerEntry, LoginEnd> {
    let pending = tokio::select! {
        p = prepare(ctx, req) => p?,
        _ = cancel.cancelled() => return Err(LoginEnd::Cancelled),
    };
    let port = pending.resolved.options.port();
    let lease = match lease {
        Some(l) => Some(l),
        None => lease_for(ctx, &pending.resolved.options, req.url.as_str())?,
    };
    let mut listener = CallbackListener::bind(port, pending.state.clone()).await?;
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
