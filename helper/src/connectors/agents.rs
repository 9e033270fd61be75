//! Agents: hosted MCP clients (Claude, ChatGPT, Cursor…) that use this workspace through the
//! edge's `/mcp`. The edge is their authorization server and keeps every client, request and
//! token; a request waits there until a person decides on the Agents card. Deciding needs the
//! workspace's own secret, so the dashboard goes through this helper, which forwards to the
//! edge with `PATCHBAY_EDGE_TOKEN`, as for Vercel.
//!
//! The helper also keeps the edge's copy of its connector overview current (for the agents'
//! `list_connections` tool): it pushes it after every change made through its API and whenever
//! the dashboard reads a different one.

use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use patchbay_proto::api::ConnectorsOverview;

use crate::connectors::overview;
use crate::engine::edge;
use crate::{ApiError, AppState};

const FEATURE: &str = "The Agents card";
pub const ROOT: &str = "/api/connectors/agents";

/// The last overview the edge accepted, so an unchanged one is not sent again.
#[derive(Default)]
pub struct AgentsState {
    pushed: Mutex<Option<ConnectorsOverview>>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(ROOT, get(list))
        .route(
            "/api/connectors/agents/requests/{id}/approve",
            post(approve),
        )
        .route("/api/connectors/agents/requests/{id}/deny", post(deny))
        .route("/api/connectors/agents/{client_id}", delete(revoke))
}

async fn list(State(state): State<AppState>) -> Response {
    forward(&state, Method::GET, "agents".into()).await
}

async fn approve(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    decide(&state, &id, "approve").await
}

async fn deny(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    decide(&state, &id, "deny").await
}

async fn decide(state: &AppState, id: &str, verb: &str) -> Response {
    let well_formed = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !well_formed {
        return ApiError::bad_request(
            "This is not a request id; use an id from GET /api/connectors/agents.",
        )
        .into_response();
    }
    forward(state, Method::POST, format!("agents/requests/{id}/{verb}")).await
}

async fn revoke(State(state): State<AppState>, Path(client_id): Path<String>) -> Response {
    if client_id.is_empty() || client_id.len() > 2048 {
        return ApiError::bad_request(
            "This is not a client id; use a client_id from GET /api/connectors/agents.",
        )
        .into_response();
    }
    // One path segment on the edge too: a metadata-document client's id is a URL.
    let segment = form_urlencoded::byte_serialize(client_id.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    forward(&state, Method::DELETE, format!("agents/{segment}")).await
}

async fn forward(state: &AppState, method: Method, path: String) -> Response {
    match edge::call(state, FEATURE, method, &path, None).await {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Sends `overview` to the edge unless it is the one it has; in the background, since no
/// answer depends on it. A failed push is retried with the next change or read.
pub fn push_overview(state: &AppState, overview: &ConnectorsOverview) {
    if edge::configured(state, FEATURE).is_err() {
        return;
    }
    {
        let mut pushed = state.connectors().agents.pushed.lock().unwrap();
        if pushed.as_ref() == Some(overview) {
            return;
        }
        *pushed = Some(overview.clone());
    }
    let state = state.clone();
    let body = Bytes::from(serde_json::to_vec(overview).unwrap_or_default());
    tokio::spawn(async move {
        let sent = edge::call(
            &state,
            FEATURE,
            Method::PUT,
            "agents/connections",
            Some(body),
        )
        .await;
        if !matches!(&sent, Ok((status, _)) if status.is_success()) {
            tracing::warn!("the connector overview was not pushed to the edge; will retry");
            *state.connectors().agents.pushed.lock().unwrap() = None;
        }
    });
}

/// Middleware: after a change through the API succeeds (a sign-in, a disconnect…), push the
/// new overview.
pub async fn push_after_change(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let changes = req.method() != Method::GET
        && path.starts_with("/api/connectors/")
        && !path.starts_with(ROOT);
    let response = next.run(req).await;
    if changes && response.status().is_success() {
        let state = state.clone();
        tokio::spawn(async move {
            if let Ok(overview) = overview::current(&state).await {
                push_overview(&state, &overview);
            }
        });
    }
    response
}
