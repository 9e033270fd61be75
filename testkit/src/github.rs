//! A fake GitHub: the REST API's `GET /user`, GraphQL's `viewer`, and the OAuth device flow
//! (`/login/device/code`, `/login/oauth/access_token` with authorization_pending, slow_down,
//! expired_token, access_denied and success). Tokens are registered by the test, or issued
//! when a test approves a device code; anything else is "Bad credentials".
//!
//! gh 2.23 speaks plain HTTP to a host named `github.localhost` (and `api.github.localhost`);
//! with `HTTP_PROXY` pointing here, its absolute-form requests arrive and are routed by path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::json;

use crate::fake::{FakeServer, Mode, trouble_response};

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub login: String,
    pub id: u64,
    pub scopes: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Pending,
    Approved(String),
    Denied,
}

struct DeviceGrant {
    user_code: String,
    expires_at: Instant,
    outcome: Outcome,
    slow_down: bool,
}

pub struct GithubState {
    tokens: Mutex<HashMap<String, FakeUser>>,
    mode: Mutex<Mode>,
    /// How many times `GET /user` was called.
    pub user_calls: AtomicUsize,
    devices: Mutex<HashMap<String, DeviceGrant>>,
    device_lifetime: Mutex<Duration>,
    slow_down_first_poll: Mutex<bool>,
    serial: AtomicUsize,
    /// How many times gh polled the token endpoint.
    pub token_polls: AtomicUsize,
}

impl Default for GithubState {
    fn default() -> Self {
        Self {
            tokens: Mutex::default(),
            mode: Mutex::default(),
            user_calls: AtomicUsize::new(0),
            devices: Mutex::default(),
            device_lifetime: Mutex::new(Duration::from_secs(900)),
            slow_down_first_poll: Mutex::new(false),
            serial: AtomicUsize::new(1),
            token_polls: AtomicUsize::new(0),
        }
    }
}

pub struct FakeGithub {
    pub server: FakeServer,
    pub state: Arc<GithubState>,
}

impl FakeGithub {
    pub fn start() -> FakeGithub {
        let state = Arc::new(GithubState::default());
        let router = Router::new()
            .route("/user", get(user))
            .route("/graphql", post(graphql))
            .route("/login/device/code", post(device_code))
            .route("/login/oauth/access_token", post(access_token))
            .with_state(state.clone());
        FakeGithub {
            server: FakeServer::start(router),
            state,
        }
    }

    /// The API base URL, as `PATCHBAY_GITHUB_API_URL` takes it.
    pub fn api_url(&self) -> String {
        self.server.url()
    }

    pub fn add_token(&self, token: &str, login: &str, id: u64, scopes: &str) {
        self.state.tokens.lock().unwrap().insert(
            token.to_owned(),
            FakeUser {
                login: login.to_owned(),
                id,
                scopes: scopes.to_owned(),
            },
        );
    }

    pub fn revoke(&self, token: &str) {
        self.state.tokens.lock().unwrap().remove(token);
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn user_calls(&self) -> usize {
        self.state.user_calls.load(Ordering::SeqCst)
    }

    /// What `HTTP_PROXY` should be for gh to reach this fake as `github.localhost`.
    pub fn proxy_url(&self) -> String {
        self.server.url()
    }

    /// What points a helper's token checks at this fake's API.
    pub fn helper_env(&self) -> Vec<(&'static str, String)> {
        vec![("PATCHBAY_GITHUB_API_URL", self.api_url())]
    }

    /// [`FakeGithub::helper_env`] plus what sends its `gh` device flow here too: gh 2.23
    /// talks plain HTTP to `github.localhost`, which the proxy routes to this fake.
    pub fn gh_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.helper_env();
        env.extend([
            ("HTTP_PROXY", self.proxy_url()),
            ("http_proxy", self.proxy_url()),
            ("PATCHBAY_GITHUB_HOST", "github.localhost".to_owned()),
        ]);
        env
    }

    /// How long new device codes live (GitHub: 15 minutes).
    pub fn set_device_lifetime(&self, lifetime: Duration) {
        *self.state.device_lifetime.lock().unwrap() = lifetime;
    }

    /// Answer the first poll of each new device code with `slow_down`.
    pub fn slow_down_first_poll(&self, on: bool) {
        *self.state.slow_down_first_poll.lock().unwrap() = on;
    }

    /// The user codes handed out so far, newest last.
    pub fn user_codes(&self) -> Vec<String> {
        let devices = self.state.devices.lock().unwrap();
        let mut codes: Vec<_> = devices.values().map(|d| d.user_code.clone()).collect();
        codes.sort();
        codes
    }

    /// The user enters `user_code` and approves: issues a token for `login`. Returns it.
    pub fn approve(&self, user_code: &str, login: &str, id: u64) -> String {
        // Plainly fake (the underscore after the prefix), yet GitHub-shaped.
        let token = format!(
            "gho_fake_{:028}",
            self.state.serial.fetch_add(1, Ordering::SeqCst)
        );
        self.add_token(&token, login, id, "repo, read:org, gist");
        let mut devices = self.state.devices.lock().unwrap();
        let grant = devices
            .values_mut()
            .find(|d| d.user_code == user_code)
            .expect("no such user code");
        grant.outcome = Outcome::Approved(token.clone());
        token
    }

    /// The user enters `user_code` and declines.
    pub fn deny(&self, user_code: &str) {
        let mut devices = self.state.devices.lock().unwrap();
        if let Some(g) = devices.values_mut().find(|d| d.user_code == user_code) {
            g.outcome = Outcome::Denied;
        }
    }
}

#[derive(serde::Deserialize)]
struct DeviceCodeForm {
    client_id: String,
}

async fn device_code(
    State(state): State<Arc<GithubState>>,
    Form(form): Form<DeviceCodeForm>,
) -> Response {
    if form.client_id.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let n = state.serial.fetch_add(1, Ordering::SeqCst);
    let device_code = format!("device-{n}");
    let user_code = format!("{:04X}-{:04}", 0xA000 + n, n % 10_000);
    let lifetime = *state.device_lifetime.lock().unwrap();
    let slow_down = *state.slow_down_first_poll.lock().unwrap();
    state.devices.lock().unwrap().insert(
        device_code.clone(),
        DeviceGrant {
            user_code: user_code.clone(),
            expires_at: Instant::now() + lifetime,
            outcome: Outcome::Pending,
            slow_down,
        },
    );
    axum::Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": "http://github.localhost/login/device",
        "expires_in": lifetime.as_secs().max(1),
        "interval": 1,
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct AccessTokenForm {
    device_code: String,
    grant_type: String,
}

async fn access_token(
    State(state): State<Arc<GithubState>>,
    Form(form): Form<AccessTokenForm>,
) -> Response {
    state.token_polls.fetch_add(1, Ordering::SeqCst);
    let error = |e: &str| axum::Json(json!({"error": e})).into_response();
    if form.grant_type != "urn:ietf:params:oauth:grant-type:device_code" {
        return error("unsupported_grant_type");
    }
    let mut devices = state.devices.lock().unwrap();
    let Some(grant) = devices.get_mut(&form.device_code) else {
        return error("incorrect_device_code");
    };
    if grant.expires_at <= Instant::now() {
        return error("expired_token");
    }
    if grant.slow_down {
        grant.slow_down = false;
        return axum::Json(json!({"error": "slow_down", "interval": 6})).into_response();
    }
    match grant.outcome.clone() {
        Outcome::Pending => error("authorization_pending"),
        Outcome::Denied => error("access_denied"),
        Outcome::Approved(token) => axum::Json(json!({
            "access_token": token,
            "token_type": "bearer",
            "scope": "repo,read:org,gist",
        }))
        .into_response(),
    }
}

async fn graphql(State(state): State<Arc<GithubState>>, headers: HeaderMap) -> Response {
    let user =
        presented_token(&headers).and_then(|t| state.tokens.lock().unwrap().get(&t).cloned());
    match user {
        Some(u) => axum::Json(json!({"data": {"viewer": {"login": u.login}}})).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response(),
    }
}

/// The token of an `Authorization: Bearer …` or `Authorization: token …` header.
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_owned())
}

async fn user(State(state): State<Arc<GithubState>>, headers: HeaderMap) -> Response {
    state.user_calls.fetch_add(1, Ordering::SeqCst);
    let mode = *state.mode.lock().unwrap();
    if let Some(r) = trouble_response(mode, 403) {
        return r;
    }
    let user =
        presented_token(&headers).and_then(|t| state.tokens.lock().unwrap().get(&t).cloned());
    match user {
        Some(u) => (
            [("x-oauth-scopes", u.scopes.clone())],
            axum::Json(json!({"login": u.login, "id": u.id, "type": "User"})),
        )
            .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest"
            })),
        )
            .into_response(),
    }
}
