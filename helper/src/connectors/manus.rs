//! Manus with an API key: `POST /api/connectors/manus/token`, `GET …/status`,
//! `POST …/disconnect`, `POST …/reconnect`.

use axum::extract::State;
use axum::{Json, Router};
use patchbay_proto::Secret;
use patchbay_proto::api::{ConnectorId, Ok};
use patchbay_proto::tokens::{SaveTokenRequest, TokenStatus, check_manus_key_shape};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::token::{self, StoredToken};
use crate::engine::store::now_unix;
use crate::engine::upstream::{self, Attempt};
use crate::error::ApiJson;
use crate::{ApiError, AppState};

const SERVICE: &str = "Manus";
const STORED: StoredToken = StoredToken {
    key: "manus",
    service: SERVICE,
    what: "Manus API key",
};

pub fn routes() -> Router<AppState> {
    token::routes(
        ConnectorId::Manus,
        save_token,
        status,
        disconnect,
        reconnect,
    )
}

/// Checks the key with the cheapest authenticated call: `GET /v2/task.list?limit=1`.
pub async fn validate(state: &AppState, key: &Secret, attempt: Attempt) -> Result<(), ApiError> {
    let api_url = &state.config().manus_api_url;
    let request = state
        .http()
        .get(format!("{api_url}/v2/task.list?limit=1"))
        .header("x-manus-api-key", key.expose());
    let response = upstream::send(SERVICE, api_url, request, attempt).await?;
    match response.status() {
        s if s.is_success() => Ok(()),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ApiError::bad_request(format!(
            "Manus does not accept this API key: it may be mistyped or revoked. Create one in \
             Manus → Settings → API. {}",
            attempt.consequence()
        ))),
        other => Err(ApiError::upstream(format!(
            "Manus answered with {other}. {}",
            attempt.consequence()
        ))),
    }
}

pub async fn save_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SaveTokenRequest>,
) -> Result<Json<Ok>, ApiError> {
    let key = token::pasted(&body, check_manus_key_shape)?;
    validate(&state, &key, Attempt::Save).await?;
    let entry = json!({"token": key.expose(), "saved_at": now_unix()});
    STORED.save(&state, entry).await?;
    tracing::info!("manus key saved");
    Ok(Json(Ok::YES))
}

pub async fn status(State(state): State<AppState>) -> Result<Json<TokenStatus<Value>>, ApiError> {
    let status = STORED
        .status(&state, |_| (None, Some("api_key".into())))
        .await?;
    Ok(Json(status))
}

pub async fn disconnect(State(state): State<AppState>) -> Result<Json<Ok>, ApiError> {
    STORED.forget(&state).await?;
    tracing::info!("manus disconnected");
    Ok(Json(Ok::YES))
}

pub async fn reconnect(State(state): State<AppState>) -> Result<Json<Ok>, ApiError> {
    let (key, _) = STORED.load_for_reconnect(&state).await?;
    validate(&state, &key, Attempt::Revalidate).await?;
    Ok(Json(Ok::YES))
}
