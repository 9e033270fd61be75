//! Vercel, served by the edge Worker and reached through the helper.
//!
//! The edge owns the confidential half of Vercel's OAuth (client secret, code exchange,
//! encrypted storage) and its public `/callback`. The dashboard talks only to its paired
//! helper, which forwards `/api/connectors/vercel/*` to the edge with the edge's bearer
//! secret (`PATCHBAY_EDGE_TOKEN`, which never reaches a browser), and copies the credentials
//! into `mcp-tokens.json` (`vercel`, `vercel_client`), where downstream tools read them.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use patchbay_proto::api::ConnectorId;
use serde_json::Value;

use super::token;
use crate::engine::{edge, store};
use crate::{ApiError, AppState};

const KEYS: [&str; 2] = ["vercel", "vercel_client"];

/// The token connector's four routes and the OAuth pair, each forwarded to the edge. All
/// but `oauth/start` then bring mcp-tokens.json up to date; `status` too, because an OAuth
/// sign-in finishes on the edge's `/callback`, without the helper, and the dashboard asks for
/// the status right after.
pub fn routes() -> Router<AppState> {
    let send = |action: &'static str| {
        move |State(state): State<AppState>, body: Bytes| {
            forward(state, Method::POST, action, Some(body), true)
        }
    };
    let ask = |action: &'static str, sync: bool| {
        move |State(state): State<AppState>| forward(state, Method::GET, action, None, sync)
    };
    token::routes(
        ConnectorId::Vercel,
        send("token"),
        ask("status", true),
        send("disconnect"),
        send("reconnect"),
    )
    .route(
        "/api/connectors/vercel/oauth/start",
        get(ask("oauth/start", false)),
    )
    .route(
        "/api/connectors/vercel/oauth/exchange",
        post(send("oauth/exchange")),
    )
}

/// Sends the request to the edge's Vercel routes; returns its status and JSON body unchanged.
async fn call_edge(
    state: &AppState,
    method: Method,
    action: &str,
    body: Option<Bytes>,
) -> Result<(StatusCode, Value), ApiError> {
    edge::call(state, "Vercel", method, &format!("vercel/{action}"), body).await
}

/// Copies the edge's Vercel credentials into mcp-tokens.json (absent ones are removed).
pub async fn sync_credentials(state: &AppState) -> Result<(), ApiError> {
    let (status, body) = call_edge(state, Method::GET, "credentials", None).await?;
    if !status.is_success() {
        return Err(ApiError::upstream(
            "The Patchbay edge did not hand over the Vercel credentials.",
        ));
    }
    let tokens = state.tokens().clone();
    store::blocking(move || {
        tokens.update(|entries| {
            for key in KEYS {
                match body.get(key) {
                    Some(v) if v.is_object() => {
                        entries.insert(key.into(), v.clone());
                    }
                    _ => {
                        entries.remove(key);
                    }
                }
            }
        })
    })
    .await
}

/// Forwards, then (after a change the edge accepted) brings mcp-tokens.json up to date.
async fn forward(
    state: AppState,
    method: Method,
    action: &str,
    body: Option<Bytes>,
    sync: bool,
) -> Response {
    match call_edge(&state, method, action, body).await {
        Ok((status, body)) => {
            if sync
                && status.is_success()
                && let Err(e) = sync_credentials(&state).await
            {
                tracing::warn!(
                    "vercel credentials not copied to mcp-tokens.json: {}",
                    e.message
                );
            }
            (status, axum::Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}
