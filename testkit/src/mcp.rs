//! A fake remote MCP server with its own OAuth 2.1 authorization server, on one loopback
//! port.
//!
//! - `POST /mcp`: a minimal MCP Streamable HTTP endpoint (`initialize`, `tools/list`,
//!   `tools/call` of an `echo` tool, notifications → 202) that needs a bearer token; without
//!   a valid one it answers 401 with `WWW-Authenticate: Bearer resource_metadata="…"`. It
//!   hands out an `Mcp-Session-Id` and requires it afterwards; answers JSON, or SSE when
//!   [`FakeMcp::set_sse`] is on.
//! - `GET /.well-known/oauth-protected-resource/mcp`: RFC 9728 metadata naming the issuer
//!   `{base}/as`.
//! - `GET /.well-known/oauth-authorization-server/as`: RFC 8414 metadata (S256 and RFC 9207
//!   `iss` support switchable).
//! - `POST /as/register` (DCR), `GET /as/authorize` (auto-approves: 302 to the redirect URI
//!   with code, state and, when advertised, iss), `POST /as/token` (PKCE S256 checked,
//!   refresh tokens rotate, access tokens expire after a settable lifetime).
//!
//! Counters per endpoint let a test count round trips and refreshes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::FakeServer;

/// Requests per endpoint (every request, whatever its outcome).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `POST /mcp` answered 401 (discovery probes and rejected tokens).
    pub mcp_unauthorized: u32,
    /// `POST`/`GET`/`DELETE /mcp` with a valid token.
    pub mcp_requests: u32,
    pub resource_metadata: u32,
    pub server_metadata: u32,
    pub registrations: u32,
    pub authorizations: u32,
    /// Successful `authorization_code` grants.
    pub code_exchanges: u32,
    /// Successful `refresh_token` grants.
    pub refreshes: u32,
    /// Token requests refused (any error).
    pub token_errors: u32,
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

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    resource: Option<String>,
    scope: String,
}

struct St {
    base: String,
    s256: bool,
    iss_supported: bool,
    access_lifetime: u64,
    rotate_refresh: bool,
    revoked: bool,
    token_outage: bool,
    refresh_delay: Duration,
    sse: bool,
    clients: HashMap<String, Vec<String>>,
    codes: HashMap<String, Grant>,
    /// access token → (expires_at, client_id)
    access: HashMap<String, u64>,
    /// refresh token → (client_id, resource, scope)
    refresh: HashMap<String, (String, Option<String>, String)>,
    sessions: Vec<String>,
    counters: Counters,
    seq: u64,
    last_resource: Option<String>,
}

type Shared = Arc<Mutex<St>>;

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
            revoked: false,
            token_outage: false,
            refresh_delay: Duration::ZERO,
            sse: false,
            clients: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            sessions: Vec::new(),
            counters: Counters::default(),
            seq: 0,
            last_resource: None,
        }));
        let router = Router::new()
            .route("/mcp", post(mcp_post).get(mcp_get).delete(mcp_delete))
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(resource_metadata),
            )
            .route(
                "/.well-known/oauth-authorization-server/as",
                get(server_metadata),
            )
            .route("/as/register", post(register))
            .route("/as/authorize", get(authorize))
            .route("/as/token", post(token))
            .with_state(state.clone());
        let server = FakeServer::start(router);
        state.lock().unwrap().base = server.url();
        FakeMcp { state, server }
    }

    fn st(&self) -> MutexGuard<'_, St> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn base_url(&self) -> String {
        self.server.url()
    }

    /// The MCP endpoint: what a user passes to `patchbay mcp login`.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.server.url())
    }

    pub fn issuer(&self) -> String {
        format!("{}/as", self.server.url())
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
        let mut st = self.st();
        st.refresh.clear();
        st.revoked = true;
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

    /// Forgets every registered client (as if the server lost its database).
    pub fn forget_clients(&self) {
        self.st().clients.clear();
    }

    /// Expires every access token issued so far.
    pub fn expire_access_tokens(&self) {
        for exp in self.st().access.values_mut() {
            *exp = 0;
        }
    }

    /// The `resource` the last token request named.
    pub fn last_resource(&self) -> Option<String> {
        self.st().last_resource.clone()
    }

    pub fn registered_clients(&self) -> usize {
        self.st().clients.len()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn lock(s: &Shared) -> MutexGuard<'_, St> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn random(prefix: &str) -> String {
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).unwrap();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"error": error}))).into_response()
}

// ----- protected resource ---------------------------------------------------------------

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// `None` when the request carries a live access token; else the 401 to send.
fn authorise(st: &mut St, headers: &HeaderMap) -> Option<Response> {
    let ok = bearer(headers)
        .and_then(|t| st.access.get(&t).copied())
        .is_some_and(|exp| exp > now());
    if ok {
        st.counters.mcp_requests += 1;
        return None;
    }
    st.counters.mcp_unauthorized += 1;
    let challenge = format!(
        "Bearer error=\"invalid_token\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        st.base
    );
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            axum::Json(json!({"error": "invalid_token"})),
        )
            .into_response(),
    )
}

async fn mcp_get(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut st = lock(&s);
    if let Some(r) = authorise(&mut st, &headers) {
        return r;
    }
    // No server-initiated stream.
    StatusCode::METHOD_NOT_ALLOWED.into_response()
}

async fn mcp_delete(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut st = lock(&s);
    if let Some(r) = authorise(&mut st, &headers) {
        return r;
    }
    if let Some(id) = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) {
        st.sessions.retain(|s| s != id);
    }
    StatusCode::OK.into_response()
}

async fn mcp_post(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (sse, session) = {
        let mut st = lock(&s);
        if let Some(r) = authorise(&mut st, &headers) {
            return r;
        }
        let session = headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (st.sse, session)
    };
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let id = msg.get("id").cloned();
    if method == "initialize" {
        let session_id = random("sess-");
        lock(&s).sessions.push(session_id.clone());
        let version = msg["params"]["protocolVersion"]
            .as_str()
            .unwrap_or("2025-06-18")
            .to_owned();
        let result = json!({
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake-mcp", "version": "1.0.0"},
        });
        let mut r = reply(sse, json!({"jsonrpc": "2.0", "id": id, "result": result}));
        r.headers_mut()
            .insert("mcp-session-id", session_id.parse().unwrap());
        return r;
    }
    let known = session.is_some_and(|id| lock(&s).sessions.contains(&id));
    if !known {
        return (StatusCode::BAD_REQUEST, "missing or unknown Mcp-Session-Id").into_response();
    }
    let Some(id) = id else {
        // A notification or a response.
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match method {
        "tools/list" => Ok(json!({"tools": [{
            "name": "echo",
            "description": "Returns its text argument.",
            "inputSchema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        }]})),
        "tools/call" => {
            let name = msg["params"]["name"].as_str().unwrap_or("");
            if name == "echo" {
                let text = msg["params"]["arguments"]["text"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                Ok(json!({"content": [{"type": "text", "text": text}], "isError": false}))
            } else {
                Err(json!({"code": -32602, "message": format!("unknown tool {name}")}))
            }
        }
        "ping" => Ok(json!({})),
        _ => Err(json!({"code": -32601, "message": "method not found"})),
    };
    let body = match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e}),
    };
    reply(sse, body)
}

fn reply(sse: bool, body: Value) -> Response {
    if sse {
        let text = format!("event: message\ndata: {body}\n\n");
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/event-stream")],
            text,
        )
            .into_response()
    } else {
        (StatusCode::OK, axum::Json(body)).into_response()
    }
}

async fn resource_metadata(State(s): State<Shared>) -> Response {
    let mut st = lock(&s);
    st.counters.resource_metadata += 1;
    axum::Json(json!({
        "resource": format!("{}/mcp", st.base),
        "authorization_servers": [format!("{}/as", st.base)],
        "scopes_supported": ["mcp:tools", "offline_access"],
        "bearer_methods_supported": ["header"],
    }))
    .into_response()
}

// ----- authorization server -------------------------------------------------------------

async fn server_metadata(State(s): State<Shared>) -> Response {
    let mut st = lock(&s);
    st.counters.server_metadata += 1;
    let methods = if st.s256 {
        json!(["S256"])
    } else {
        json!(["plain"])
    };
    let base = st.base.clone();
    axum::Json(json!({
        "issuer": format!("{base}/as"),
        "authorization_endpoint": format!("{base}/as/authorize"),
        "token_endpoint": format!("{base}/as/token"),
        "registration_endpoint": format!("{base}/as/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": methods,
        "token_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": st.iss_supported,
    }))
    .into_response()
}

async fn register(State(s): State<Shared>, body: Bytes) -> Response {
    let mut st = lock(&s);
    st.counters.registrations += 1;
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata");
    };
    let uris: Vec<String> = req["redirect_uris"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let loopback = |u: &String| {
        u.starts_with("http://127.0.0.1:")
            || u.starts_with("http://localhost:")
            || u.starts_with("https://")
    };
    if uris.is_empty() || !uris.iter().all(loopback) || req["client_name"].as_str().is_none() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri");
    }
    let client_id = random("client-");
    st.clients.insert(client_id.clone(), uris.clone());
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "client_id": client_id,
            "client_name": req["client_name"],
            "redirect_uris": uris,
            "token_endpoint_auth_method": "none",
        })),
    )
        .into_response()
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut st = lock(&s);
    st.counters.authorizations += 1;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    let redirect_uri = get("redirect_uri");
    let Some(uris) = st.clients.get(&client_id) else {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    };
    if !uris.contains(&redirect_uri) {
        return (StatusCode::BAD_REQUEST, "redirect_uri not registered").into_response();
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
    {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = random("code-");
    st.codes.insert(
        code.clone(),
        Grant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge: get("code_challenge"),
            resource: q.get("resource").cloned(),
            scope: get("scope"),
        },
    );
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    if st.iss_supported {
        query.append_pair("iss", &format!("{}/as", st.base));
    }
    let location = format!("{redirect_uri}?{}", query.finish());
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn token(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let delay = {
        let mut st = lock(&s);
        st.last_resource = form.get("resource").cloned();
        if !is_form {
            st.counters.token_errors += 1;
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        }
        if st.token_outage {
            st.counters.token_errors += 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
        }
        if !st.clients.contains_key(&get("client_id")) {
            st.counters.token_errors += 1;
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        st.refresh_delay
    };
    match get("grant_type").as_str() {
        "authorization_code" => {
            let mut st = lock(&s);
            let Some(grant) = st.codes.remove(&get("code")) else {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier")));
            if grant.client_id != get("client_id")
                || grant.redirect_uri != get("redirect_uri")
                || grant.challenge != challenge
                || grant.resource != form.get("resource").cloned()
            {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            st.counters.code_exchanges += 1;
            issue(&mut st, grant.client_id, grant.resource, grant.scope, true)
        }
        "refresh_token" => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut st = lock(&s);
            let old = get("refresh_token");
            let Some((client_id, resource, scope)) = st.refresh.get(&old).cloned() else {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            if client_id != get("client_id") {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            st.counters.refreshes += 1;
            let rotate = st.rotate_refresh;
            if rotate {
                // Rotation: the old refresh token dies with this use.
                st.refresh.remove(&old);
            }
            issue(&mut st, client_id, resource, scope, rotate)
        }
        _ => {
            lock(&s).counters.token_errors += 1;
            oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type")
        }
    }
}

fn issue(
    st: &mut St,
    client_id: String,
    resource: Option<String>,
    scope: String,
    with_refresh: bool,
) -> Response {
    st.seq += 1;
    let access = random(&format!("at{}-", st.seq));
    let lifetime = st.access_lifetime;
    st.access.insert(access.clone(), now() + lifetime);
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope,
    });
    if with_refresh {
        let refresh = random(&format!("rt{}-", st.seq));
        st.refresh
            .insert(refresh.clone(), (client_id, resource, scope.clone()));
        body["refresh_token"] = json!(refresh);
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}
