//! The MCP routes: login sessions (start → `auth_url`, poll or long-poll, submit a pasted
//! redirect, cancel) and the list of servers.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use patchbay_proto::api::{EndReason, FlowStatus, SubmitCodeRequest};
use patchbay_proto::mcp::{McpRemoved, McpServerList, McpSession, StartServerRequest};
use patchbay_proto::redirect::parse_pasted_redirect;
use tokio::sync::mpsc;

use super::login::{self, LoginEnd, LoginEvents, LoginRequest, Pending};
use super::{ctx_of, list_servers, revoke};
use crate::engine::session::{self, SessionCtl};
use crate::engine::text::quote_input;
use crate::error::ApiJson;
use crate::{ApiError, AppState};

/// How long `submit` and `cancel` wait for the flow to settle before answering.
const SETTLE: Duration = Duration::from_secs(15);

struct SessionEvents<'a>(&'a SessionCtl<McpSession>);

impl LoginEvents for SessionEvents<'_> {
    fn awaiting(&mut self, pending: &Pending) {
        self.0.update(|s| {
            s.status = FlowStatus::AwaitingOauth;
            s.auth_url = Some(pending.auth_url.clone());
            s.issuer = Some(pending.issuer().to_owned());
        });
    }

    fn bad_paste(&mut self, _message: &str) {
        // `submit` checks a paste's shape before handing it over.
    }
}

/// `POST /api/connectors/mcp/servers {"url"}` → 202 `{session_id, status: "pending"}`.
pub async fn start(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StartServerRequest>,
) -> Result<session::Started, ApiError> {
    let url = login::server_url(&body.url)?;
    let ctx = ctx_of(&state);
    let req = LoginRequest::plain(&url);
    // Refuse at once (409, naming the holder) while another flow uses port 53682.
    let options = login::options_for(&ctx, &req).await?;
    let lease = login::lease_for(&ctx, &options, &url)?;
    let mcp = &state.connectors().mcp;
    let (paste_tx, mut pasted) = mpsc::channel::<String>(4);
    let pastes = mcp.pastes.clone();
    let initial = McpSession {
        status: FlowStatus::Pending,
        auth_url: None,
        server_url: url.clone(),
        issuer: None,
        error: None,
        reason: None,
    };
    // The flow waits until its paste slot is registered, so a paste can never arrive first.
    let (id_tx, id_rx) = tokio::sync::oneshot::channel::<()>();
    let id = mcp.sessions.start(initial, move |ctl| async move {
        let _ = id_rx.await;
        let result = login::run(
            &ctx,
            &req,
            lease,
            &mut SessionEvents(&ctl),
            &mut pasted,
            &ctl.cancel,
        )
        .await;
        pastes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ctl.id);
        ctl.update(|s| match result {
            Result::Ok(_) => {
                s.status = FlowStatus::Completed;
                s.auth_url = None;
            }
            // The session words are the rclone sessions' four; the detail is `reason`.
            Err(LoginEnd::Cancelled) => {
                s.status = FlowStatus::Error;
                s.reason = Some(EndReason::Cancelled);
                s.error = Some("The sign-in was cancelled.".into());
            }
            Err(LoginEnd::TimedOut) => {
                s.status = FlowStatus::Error;
                s.reason = Some(EndReason::Expired);
                s.error = Some("No redirect arrived in time. Start the sign-in again.".into());
            }
            Err(LoginEnd::Failed(e)) => {
                s.status = FlowStatus::Error;
                s.reason = Some(EndReason::Failed);
                s.error = Some(e.message);
            }
        });
    });
    mcp.pastes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone(), paste_tx);
    let _ = id_tx.send(());
    Result::Ok(session::started(id))
}

/// `GET /api/connectors/mcp/sessions/{id}` (`?wait=SECONDS` long-polls).
pub async fn session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<McpSession>, ApiError> {
    state
        .connectors()
        .mcp
        .sessions
        .poll(&id, &q)
        .await
        .map(Json)
}

/// `POST …/sessions/{id}/submit {"code": "<pasted redirect URL>"}`.
pub async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubmitCodeRequest>,
) -> Result<Json<McpSession>, ApiError> {
    let mcp = &state.connectors().mcp;
    let current = mcp
        .sessions
        .get(&id)
        .ok_or_else(|| mcp.sessions.unknown(&id))?;
    if current.status != FlowStatus::AwaitingOauth {
        return Err(ApiError::conflict(format!(
            "This sign-in is {}, not waiting for a redirect.",
            serde_json::to_value(current.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        )));
    }
    let response =
        parse_pasted_redirect(&body.code).map_err(|e| ApiError::bad_request(e.message()))?;
    if response.state.is_none() {
        return Err(ApiError::bad_request(
            "Paste the whole address your browser showed after you approved (it contains \
             code= and state=), not only the code.",
        ));
    }
    let tx = mcp
        .pastes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned()
        .ok_or_else(|| mcp.sessions.unknown(&id))?;
    tx.send(body.code)
        .await
        .map_err(|_| ApiError::conflict("This sign-in has already ended."))?;
    let after = mcp
        .sessions
        .wait(&id, Some(SETTLE))
        .await
        .ok_or_else(|| mcp.sessions.unknown(&id))?;
    if after.status == FlowStatus::Error {
        return Err(ApiError::bad_request(after.error.unwrap_or_default()));
    }
    Result::Ok(Json(after))
}

/// `POST …/sessions/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<McpSession>, ApiError> {
    let sessions = &state.connectors().mcp.sessions;
    sessions.cancel_and_settle(&id, SETTLE).await.map(Json)
}

/// `GET /api/connectors/mcp/servers`.
pub async fn list(State(state): State<AppState>) -> Result<Json<McpServerList>, ApiError> {
    let servers = list_servers(&ctx_of(&state)).await?;
    Result::Ok(Json(McpServerList { servers }))
}

/// `DELETE /api/connectors/mcp/servers/{id}`: signs out (revoking at the authorization
/// server when it offers revocation) and removes the server; the body says which happened.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<McpRemoved>, ApiError> {
    let ctx = ctx_of(&state);
    let servers = list_servers(&ctx).await?;
    let url = servers.into_iter().find(|s| s.id == id).map(|s| s.url);
    let removed = match url {
        Some(url) => revoke::sign_out(&ctx, &url).await?,
        None => None,
    };
    let Some(removed) = removed else {
        return Err(ApiError::not_found(format!(
            "There is no MCP server “{}”. GET /api/connectors/mcp/servers lists them.",
            quote_input(&id)
        )));
    };
    tracing::info!(server = %id, "MCP server removed");
    Result::Ok(Json(removed))
}
