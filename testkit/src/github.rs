//! A fake GitHub: the REST API's `GET /user` (and, with the device flow, the OAuth device
//! endpoints). Tokens are registered by the test; anything else is "Bad credentials".

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::fake::{FakeServer, Mode, trouble_response};

#[derive(Debug, Clone)]
pub struct FakeUser {
    pub login: String,
    pub id: u64,
    pub scopes: String,
}

#[derive(Default)]
pub struct GithubState {
    tokens: Mutex<HashMap<String, FakeUser>>,
    mode: Mutex<Mode>,
    /// How many times `GET /user` was called.
    pub user_calls: AtomicUsize,
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
