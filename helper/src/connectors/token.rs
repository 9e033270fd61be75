//! What the token connectors share: GitHub's personal access token, Manus's API key and
//! Vercel (forwarded to the edge) serve the same four routes, and the first two keep their
//! credential the same way, under one key of `mcp-tokens.json`.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{get, post};
use patchbay_proto::Secret;
use patchbay_proto::api::ConnectorId;
use patchbay_proto::tokens::{SaveTokenRequest, TokenStatus};
use serde_json::Value;

use crate::engine::store::{self, blocking};
use crate::{ApiError, AppState};

/// The contract's routes of a token connector, under `/api/connectors/{id}/`: `POST token`,
/// `GET status`, `POST disconnect`, `POST reconnect`.
pub fn routes<T1, T2, T3, T4>(
    id: ConnectorId,
    save: impl Handler<T1, AppState>,
    status: impl Handler<T2, AppState>,
    disconnect: impl Handler<T3, AppState>,
    reconnect: impl Handler<T4, AppState>,
) -> Router<AppState>
where
    T1: 'static,
    T2: 'static,
    T3: 'static,
    T4: 'static,
{
    let base = format!("/api/connectors/{}", id.as_str());
    Router::new()
        .route(&format!("{base}/token"), post(save))
        .route(&format!("{base}/status"), get(status))
        .route(&format!("{base}/disconnect"), post(disconnect))
        .route(&format!("{base}/reconnect"), post(reconnect))
}

/// The credential in a `POST …/token` body, trimmed, once `check_shape` (proto's check for
/// this service) accepts it. Runs before any network call, so a typo costs no round trip.
pub fn pasted(
    body: &SaveTokenRequest,
    check_shape: fn(&str) -> Result<(), String>,
) -> Result<Secret, ApiError> {
    let token = Secret::new(body.token.expose().trim());
    check_shape(token.expose()).map_err(ApiError::bad_request)?;
    Ok(token)
}

/// A credential kept under one key of `mcp-tokens.json`; the entry's `token` member holds it.
pub struct StoredToken {
    /// The key (`github`, `manus`).
    pub key: &'static str,
    /// The service as people call it (`GitHub`).
    pub service: &'static str,
    /// What the person pasted (`GitHub token`, `Manus API key`).
    pub what: &'static str,
}

impl StoredToken {
    /// Writes `entry` under the key (replacing what was there).
    pub async fn save(&self, state: &AppState, entry: Value) -> Result<(), ApiError> {
        let tokens = state.tokens().clone();
        let key = self.key;
        blocking(move || tokens.update(|e| e.insert(key.into(), entry))).await?;
        Ok(())
    }

    /// The credential and its whole entry; `None` when nothing usable is stored.
    pub async fn load(&self, state: &AppState) -> Result<Option<(Secret, Value)>, ApiError> {
        store::stored_credential(state.tokens(), self.key).await
    }

    /// Like [`StoredToken::load`], for `reconnect`: with nothing stored, a 404 that says to
    /// connect first.
    pub async fn load_for_reconnect(&self, state: &AppState) -> Result<(Secret, Value), ApiError> {
        self.load(state).await?.ok_or_else(|| {
            ApiError::not_found(format!(
                "No {} is stored, so there is nothing to reconnect. Connect {} first.",
                self.what, self.service
            ))
        })
    }

    /// `GET …/status`: connected with the credential's hint (never the credential), and the
    /// account and source `describe` reads from the entry.
    pub async fn status<U>(
        &self,
        state: &AppState,
        describe: impl FnOnce(&Value) -> (Option<U>, Option<String>),
    ) -> Result<TokenStatus<U>, ApiError> {
        let Some((token, entry)) = self.load(state).await? else {
            return Ok(TokenStatus::disconnected());
        };
        let (user, source) = describe(&entry);
        Ok(TokenStatus {
            connected: true,
            user,
            token_hint: token.hint(),
            source,
        })
    }

    /// Removes the entry (nothing stored is fine).
    pub async fn forget(&self, state: &AppState) -> Result<(), ApiError> {
        let tokens = state.tokens().clone();
        let key = self.key;
        blocking(move || tokens.update(|e| e.remove(key))).await?;
        Ok(())
    }
}
