//! A fake Manus API: `GET /v2/task.list` authenticated by `x-manus-api-key`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::fake::{FakeServer, Mode, trouble_response};

#[derive(Default)]
pub struct ManusState {
    keys: Mutex<HashSet<String>>,
    mode: Mutex<Mode>,
    pub calls: AtomicUsize,
}

pub struct FakeManus {
    pub server: FakeServer,
    pub state: Arc<ManusState>,
}

impl FakeManus {
    pub fn start() -> FakeManus {
        let state = Arc::new(ManusState::default());
        let router = Router::new()
            .route("/v2/task.list", get(task_list))
            .with_state(state.clone());
        FakeManus {
            server: FakeServer::start(router),
            state,
        }
    }

    pub fn api_url(&self) -> String {
        self.server.url()
    }

    /// What points a helper's Manus connector at this fake.
    pub fn helper_env(&self) -> Vec<(&'static str, String)> {
        vec![("PATCHBAY_MANUS_API_URL", self.api_url())]
    }

    pub fn add_key(&self, key: &str) {
        self.state.keys.lock().unwrap().insert(key.to_owned());
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    limit: Option<u32>,
}

async fn task_list(
    State(state): State<Arc<ManusState>>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let mode = *state.mode.lock().unwrap();
    if let Some(r) = trouble_response(mode, 429) {
        return r;
    }
    let key = headers
        .get("x-manus-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !state.keys.lock().unwrap().contains(key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": "unauthenticated", "message": "invalid api key"})),
        )
            .into_response();
    }
    let limit = q.limit.unwrap_or(20);
    axum::Json(json!({"object": "list", "data": [], "limit": limit, "has_more": false}))
        .into_response()
}
