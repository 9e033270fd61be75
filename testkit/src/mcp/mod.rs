//! A fake remote MCP server with its own OAuth 2.1 authorization server, on one loopback
//! port, with switches for every way real servers differ.
//!
//! - [`resource`]: `POST|GET|DELETE /mcp`, a minimal MCP Streamable HTTP endpoint
//!   (`initialize`, `tools/list`, `tools/call` of `echo` and of `admin`, which needs the
//!   scope `mcp:admin` and answers 403 `insufficient_scope` without it; notifications → 202)
//!   that needs a bearer token (401 with a `Bearer` challenge otherwise), an
//!   `Mcp-Session-Id`, and counts requests that lack `MCP-Protocol-Version` after
//!   initialize. Its RFC 9728 metadata is at the server's path (default), at the root only, or
//!   nowhere ([`PrmMode`]).
//! - [`authorization`]: the authorization server, issuer `{base}/as` (or `{base}` with
//!   [`FakeMcp::set_issuer_at_root`]), metadata as RFC 8414 or OpenID only
//!   ([`MetadataMode`]); DCR, CIMD (fetches the client's document from its URL), an
//!   auto-approving `authorize`, `token` (PKCE S256, rotating refresh tokens, the device
//!   grant), RFC 7009 `revoke`, RFC 8628 `device`.
//!
//! Counters per endpoint let a test count round trips, refreshes and revocations.

mod authorization;
mod resource;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::FakeServer;

/// The scope the `admin` tool needs.
pub const ADMIN_SCOPE: &str = "mcp:admin";
/// The scope the protected-resource metadata lists.
pub const TOOLS_SCOPE: &str = "mcp:tools";

/// Requests per endpoint (every request, whatever its outcome).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `POST /mcp` answered 401 (discovery probes and rejected tokens).
    pub mcp_unauthorized: u32,
    /// `POST`/`GET`/`DELETE /mcp` with a valid token.
    pub mcp_requests: u32,
    /// Requests after `initialize` without `MCP-Protocol-Version`.
    pub missing_protocol_version: u32,
    /// 403 `insufficient_scope` answers.
    pub insufficient_scope: u32,
    /// Requests that carried a bearer token to a host that is not the MCP server's.
    pub foreign_tokens: u32,
    pub resource_metadata: u32,
    pub server_metadata: u32,
    pub registrations: u32,
    /// Client ID Metadata Documents fetched.
    pub metadata_documents: u32,
    pub authorizations: u32,
    /// Successful `authorization_code` grants.
    pub code_exchanges: u32,
    /// Successful `refresh_token` grants.
    pub refreshes: u32,
    /// Token requests refused (any error, device polls that are still pending included).
    pub token_errors: u32,
    pub device_authorizations: u32,
    /// Successful device grants.
    pub device_grants: u32,
    /// RFC 7009 requests by `token_type_hint`.
    pub revoked_refresh: u32,
    pub revoked_access: u32,
}

impl Counters {
    /// Every HTTP round trip the OAuth side saw (discovery, registration, authorization,
    /// token), i.e. everything but authorised MCP traffic.
    pub fn oauth_round_trips(&self) -> u32 {
        self.mcp_unauthorized
            + self.resource_metadata
            + self.server_metadata
            + self.registrations
            + self.authorizations
            + self.code_exchanges
            + self.refreshes
            + self.token_errors
    }
}

/// Where the protected-resource metadata is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrmMode {
    /// At `/.well-known/oauth-protected-resource/mcp`, named by the 401.
    #[default]
    Challenge,
    /// At the server's path, but the 401 names no URL.
    PathOnly,
    /// Only at `/.well-known/oauth-protected-resource`, not named by the 401.
    RootOnly,
    /// Nowhere (the person must name the authorization server).
    None,
}

/// Which metadata document the authorization server publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataMode {
    /// RFC 8414, path inserted after the well-known segment.
    #[default]
    OAuth,
    /// OpenID Connect only, path inserted (`/.well-known/openid-configuration/as`).
    OpenIdInserted,
    /// OpenID Connect only, appended to the issuer (`/as/.well-known/openid-configuration`).
    OpenIdAppended,
}

pub(crate) struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    resource: Option<String>,
    scope: String,
}

pub(crate) struct Device {
    client_id: String,
    user_code: String,
    scope: String,
    resource: Option<String>,
    approved: bool,
}

pub(crate) struct St {
    base: String,
    s256: bool,
    iss_supported: bool,
    access_lifetime: u64,
    rotate_refresh: bool,
    token_outage: bool,
    refresh_delay: Duration,
    sse: bool,
    prm: PrmMode,
    metadata: MetadataMode,
    issuer_at_root: bool,
    challenge_scope: Option<String>,
    forbid_always: bool,
    cimd: bool,
    dcr: bool,
    revocation: bool,
    revocation_outage: bool,
    device: bool,
    device_interval: u64,
    device_slow_down_once: bool,
    redirect_to: Option<String>,
    /// client id → redirect URIs (registered, or read from its metadata document).
    clients: HashMap<String, Vec<String>>,
    /// Pre-registered confidential clients: id → secret.
    secrets: HashMap<String, String>,
    codes: HashMap<String, Grant>,
    /// access token → (expires_at, scope)
    access: HashMap<String, (u64, String)>,
    /// refresh token → (client_id, resource, scope)
    refresh: HashMap<String, (String, Option<String>, String)>,
    devices: HashMap<String, Device>,
    sessions: Vec<String>,
    counters: Counters,
    seq: u64,
    last_resource: Option<String>,
    last_scope: Option<String>,
    last_registration: Option<serde_json::Value>,
    extra_headers: Vec<(String, String)>,
}

pub(crate) type Shared = Arc<Mutex<St>>;

/// The fake; stops on drop.
pub struct FakeMcp {
    state: Shared,
    server: FakeServer,
}

impl FakeMcp {
    pub fn start() -> FakeMcp {
        let state: Shared = Arc::new(Mutex::new(St {
            base: String::new(),
            s256: true,
            iss_supported: true,
            access_lifetime: 3600,
            rotate_refresh: true,
            token_outage: false,
            refresh_delay: Duration::ZERO,
            sse: false,
            prm: PrmMode::default(),
            metadata: MetadataMode::default(),
            issuer_at_root: false,
            challenge_scope: None,
            forbid_always: false,
            cimd: false,
            dcr: true,
            revocation: true,
            revocation_outage: false,
            device: true,
            device_interval: 1,
            device_slow_down_once: false,
            redirect_to: None,
            clients: HashMap::new(),
            secrets: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            devices: HashMap::new(),
            sessions: Vec::new(),
            counters: Counters::default(),
            seq: 0,
            last_resource: None,
            last_scope: None,
            last_registration: None,
            extra_headers: Vec::new(),
        }));
        let router = Router::new()
            .route(
                "/mcp",
                post(resource::mcp_post)
                    .get(resource::mcp_get)
                    .delete(resource::mcp_delete),
            )
            .route("/as/register", post(authorization::register))
            .route("/as/authorize", get(authorization::authorize))
            .route("/as/token", post(authorization::token))
            .route("/as/revoke", post(authorization::revoke))
            .route("/as/device", post(authorization::device_authorization))
            .route("/as/device/verify", get(authorization::device_verify))
            // Every well-known document, each served or not by the current switches.
            .fallback(get(well_known))
            .with_state(state.clone());
        let server = FakeServer::start(router);
        state.lock().unwrap().base = server.url();
        FakeMcp { state, server }
    }

    fn st(&self) -> MutexGuard<'_, St> {
        lock(&self.state)
    }

    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// The MCP endpoint: what a user passes to `patchbay mcp login`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.server.url())
    }

    pub fn issuer(&self) -> String {
        self.st().issuer()
    }

    pub fn counters(&self) -> Counters {
        self.st().counters
    }

    pub fn reset_counters(&self) {
        self.st().counters = Counters::default();
    }

    /// Whether the metadata lists S256 (default: yes; otherwise only `plain`).
    pub fn set_s256(&self, on: bool) {
        self.st().s256 = on;
    }

    /// Whether the metadata advertises RFC 9207 and redirects carry `iss` (default: yes).
    pub fn set_iss_supported(&self, on: bool) {
        self.st().iss_supported = on;
    }

    /// Lifetime of access tokens issued from now on, in seconds (default 3600).
    pub fn set_access_lifetime(&self, secs: u64) {
        self.st().access_lifetime = secs;
    }

    /// Whether refresh responses carry a new refresh token (default: yes, rotating).
    pub fn set_rotate_refresh(&self, on: bool) {
        self.st().rotate_refresh = on;
    }

    /// Revokes every refresh token issued so far (they then get `invalid_grant`).
    pub fn revoke_refresh_tokens(&self) {
        self.st().refresh.clear();
    }

    /// The token endpoint answers 503 while on.
    pub fn set_token_outage(&self, on: bool) {
        self.st().token_outage = on;
    }

    /// How long a refresh takes (to widen races in concurrency tests).
    pub fn set_refresh_delay(&self, d: Duration) {
        self.st().refresh_delay = d;
    }

    /// Answer MCP requests as `text/event-stream` instead of JSON.
    pub fn set_sse(&self, on: bool) {
        self.st().sse = on;
    }

    /// Where the protected-resource metadata is (default: named by the 401).
    pub fn set_prm(&self, mode: PrmMode) {
        self.st().prm = mode;
    }

    /// Which metadata document the authorization server publishes (default: RFC 8414).
    pub fn set_metadata(&self, mode: MetadataMode) {
        self.st().metadata = mode;
    }

    /// The issuer is the origin itself instead of `{base}/as`.
    pub fn set_issuer_at_root(&self, on: bool) {
        self.st().issuer_at_root = on;
    }

    /// The `scope` of the 401 challenge (default: none, so clients use the metadata's).
    pub fn set_challenge_scope(&self, scope: Option<&str>) {
        self.st().challenge_scope = scope.map(str::to_owned);
    }

    /// Every `admin` call answers 403 `insufficient_scope`, whatever the token's scope.
    pub fn set_forbid_always(&self, on: bool) {
        self.st().forbid_always = on;
    }

    /// Advertise and accept Client ID Metadata Documents (default: no).
    pub fn set_cimd(&self, on: bool) {
        self.st().cimd = on;
    }

    /// Offer dynamic client registration (default: yes).
    pub fn set_dcr(&self, on: bool) {
        self.st().dcr = on;
    }

    /// Offer RFC 7009 revocation (default: yes).
    pub fn set_revocation(&self, on: bool) {
        self.st().revocation = on;
    }

    /// The revocation endpoint answers 503 while on.
    pub fn set_revocation_outage(&self, on: bool) {
        self.st().revocation_outage = on;
    }

    /// Offer RFC 8628 device authorization (default: yes).
    pub fn set_device(&self, on: bool) {
        self.st().device = on;
    }

    /// The first device poll answers `slow_down`.
    pub fn set_device_slow_down_once(&self, on: bool) {
        self.st().device_slow_down_once = on;
    }

    /// `POST /mcp` answers 307 to this URL (a token must not follow it to another host).
    pub fn set_redirect_mcp_to(&self, url: Option<String>) {
        self.st().redirect_to = url;
    }

    /// A confidential client registered by hand (for `--client-id`): it may use any
    /// loopback redirect URI and must send `secret` (when given) to the token endpoint.
    pub fn preregister(&self, client_id: &str, secret: Option<&str>) {
        let mut st = self.st();
        st.clients.insert(client_id.into(), Vec::new());
        if let Some(s) = secret {
            st.secrets.insert(client_id.into(), s.into());
        }
    }

    /// Forgets every registered client (as if the server lost its database).
    pub fn forget_clients(&self) {
        self.st().clients.clear();
    }

    /// Expires every access token issued so far.
    pub fn expire_access_tokens(&self) {
        for (exp, _) in self.st().access.values_mut() {
            *exp = 0;
        }
    }

    /// The `resource` the last token request named.
    pub fn last_resource(&self) -> Option<String> {
        self.st().last_resource.clone()
    }

    /// The `scope` the last authorization (or device) request asked for.
    pub fn last_scope(&self) -> Option<String> {
        self.st().last_scope.clone()
    }

    /// The last dynamic registration request, as sent.
    pub fn last_registration(&self) -> Option<serde_json::Value> {
        self.st().last_registration.clone()
    }

    /// The non-standard headers (`x-…`) of the last authorised MCP request.
    pub fn last_extra_headers(&self) -> Vec<(String, String)> {
        self.st().extra_headers.clone()
    }

    pub fn registered_clients(&self) -> usize {
        self.st().clients.len()
    }

    /// How many access and refresh tokens are still live (revocation kills them).
    pub fn live_tokens(&self) -> (usize, usize) {
        let st = self.st();
        let t = now();
        (
            st.access.values().filter(|(exp, _)| *exp > t).count(),
            st.refresh.len(),
        )
    }
}

impl St {
    fn issuer(&self) -> String {
        if self.issuer_at_root {
            self.base.clone()
        } else {
            format!("{}/as", self.base)
        }
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, St> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn random(prefix: &str) -> String {
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).unwrap();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

pub(crate) fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"error": error}))).into_response()
}

/// `GET /.well-known/…`: the protected-resource or authorization-server metadata, when the
/// path is where the current switches put it; 404 otherwise.
async fn well_known(
    axum::extract::State(s): axum::extract::State<Shared>,
    uri: axum::http::Uri,
) -> Response {
    let path = uri.path();
    if path.starts_with("/.well-known/oauth-protected-resource") {
        return resource::metadata(&s, path);
    }
    let st = lock(&s);
    let issuer_path = if st.issuer_at_root { "" } else { "/as" };
    let served = match st.metadata {
        MetadataMode::OAuth => format!("/.well-known/oauth-authorization-server{issuer_path}"),
        MetadataMode::OpenIdInserted => format!("/.well-known/openid-configuration{issuer_path}"),
        MetadataMode::OpenIdAppended => format!("{issuer_path}/.well-known/openid-configuration"),
    };
    drop(st);
    if path.contains("/.well-known/") {
        return authorization::metadata(&s, path == served);
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}
