//! Manus with an API key: `POST /api/connectors/manus/token`, `GET …/status`,
//! `POST …/disconnect`, `POST …/reconnect`.

use axum::Json;
use axum::extract::State;
use patchbay_proto::Secret;
use patchbay_proto::api::Ok;
use patchbay_proto::tokens::{SaveTokenRequest, TokenStatus, check_manus_key_shape};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::engine::store::{self, now_unix};
use crate::engine::upstream::{self, Attempt};
use crate::error::ApiJson;
use crate::{ApiError, AppState};

const KEY: &str = "manus";
const SERVICE: &str = "Manus";

/// Checks the key with the cheapest authenticated call: `GET /v2/task.list?limit=1`.
pub async fn validate(
    http: &reqwest::Client,
    api_url: &str,
    key: &Secret,
    attempt: Attempt,
) -> Result<(), ApiError> {
    let response = http
        .get(format!("{api_url}/v2/task.list?limit=1"))
        .header("x-manus-api-key", key.expose())
        .send()
        .await
        .map_err(|e| upstream::unreachable(SERVICE, api_url, &e, attempt))?;
    if let Some(err) = upstream::service_trouble(SERVICE, &response, attempt) {
        return Err(err);
    }
    match response.status() {
        s if s.is_success() => Ok(()),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ApiError::bad_request(format!(
            "Manus does not accept this API key: it may be mistyped or revoked. Create one in \
             Manus → Settings → API. {}",
            attempt.consequence()
        ))),
        other => Err(ApiError::new(
            patchbay_proto::ErrorCode::Upstream,
            format!("Manus answered with {other}. {}", attempt.consequence()),
        )),
    }
}

pub async fn save_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SaveTokenRequest>,
) -> Result<Json<Ok>, ApiError> {
    let key = Secret::new(body.token.expose().trim());
    check_manus_key_shape(key.expose()).map_err(ApiError::bad_request)?;
    validate(
        state.http(),
        &state.config().manus_api_url,
        &key,
        Attempt::Save,
    )
    .await?;
    let value = json!({"token": key.expose(), "saved_at": now_unix()});
    let tokens = state.tokens().clone();
    store::blocking(move || tokens.update(|e| e.insert(KEY.into(), value))).await?;
    tracing::info!("manus key saved");
    Ok(Json(Ok::YES))
}

pub async fn status(State(state): State<AppState>) -> Result<Json<TokenStatus<Value>>, ApiError> {
    let stored = store::stored_credential(state.tokens(), KEY).await?;
    Ok(Json(match stored {
        Some((t, _)) => TokenStatus {
            connected: true,
            user: None,
            token_hint: t.hint(),
            source: Some("api_key".into()),
        },
        None => TokenStatus::disconnected(),
    }))
}

pub async fn disconnect(State(state): State<AppState>) -> Result<Json<Ok>, ApiError> {
    let tokens = state.tokens().clone();
    store::blocking(move || tokens.update(|e| e.remove(KEY))).await?;
    tracing::info!("manus disconnected");
    Ok(Json(Ok::YES))
}

pub async fn reconnect(State(state): State<AppState>) -> Result<Json<Ok>, ApiError> {
    let (key, _) = store::stored_credential(state.tokens(), KEY)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "No Manus API key is stored, so there is nothing to reconnect. Connect Manus first.",
            )
        })?;
    validate(
        state.http(),
        &state.config().manus_api_url,
        &key,
        Attempt::Revalidate,
    )
    .await?;
    Ok(Json(Ok::YES))
}
