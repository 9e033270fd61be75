//! GitHub with a personal access token: `POST /api/connectors/github/token`, `GET …/status`,
//! `POST …/disconnect`, `POST …/reconnect`. (The gh device flow is [`super::device`].)

use axum::Json;
use axum::extract::State;
use patchbay_proto::Secret;
use patchbay_proto::api::Ok;
use patchbay_proto::tokens::{
    GithubSaved, GithubUser, SaveTokenRequest, TokenStatus, check_github_token_shape,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::connectors::token::{self, StoredToken};
use crate::engine::store::{self, JsonStore, entry_token, now_unix};
use crate::engine::upstream::{self, Attempt};
use crate::error::ApiJson;
use crate::{ApiError, AppState};

const SERVICE: &str = "GitHub";
/// The `github` entry of mcp-tokens.json, written by the PAT and by the gh device flow.
pub const STORED: StoredToken = StoredToken {
    key: "github",
    service: SERVICE,
    what: "GitHub token",
};

/// Asks GitHub who `token` belongs to (GET /user).
pub async fn fetch_user(
    state: &AppState,
    token: &Secret,
    attempt: Attempt,
) -> Result<GithubUser, ApiError> {
    #[derive(serde::Deserialize)]
    struct User {
        login: String,
        id: u64,
    }
    let api_url = &state.config().github_api_url;
    let request = state
        .http()
        .get(format!("{api_url}/user"))
        .bearer_auth(token.expose())
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28");
    let response = upstream::send(SERVICE, api_url, request, attempt).await?;
    match response.status() {
        StatusCode::OK => {
            let scopes = response
                .headers()
                .get("x-oauth-scopes")
                .and_then(|v| v.to_str().ok())
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let user: User = response.json().await.map_err(|_| {
                ApiError::upstream(format!(
                    "{SERVICE} answered GET /user with something that is not a user. Is \
                     {api_url} the GitHub API?"
                ))
            })?;
            Ok(GithubUser {
                login: user.login,
                id: user.id,
                scopes,
            })
        }
        StatusCode::UNAUTHORIZED => Err(ApiError::bad_request(format!(
            "GitHub does not accept this token (bad credentials): it may be mistyped, expired or \
             revoked. {}",
            attempt.consequence()
        ))),
        StatusCode::FORBIDDEN => Err(ApiError::bad_request(format!(
            "GitHub refused this token (403). If your organisation uses SAML single sign-on, \
             authorise the token for it at https://github.com/settings/tokens. {}",
            attempt.consequence()
        ))),
        other => Err(ApiError::upstream(format!(
            "GitHub answered GET /user with {other}. {}",
            attempt.consequence()
        ))),
    }
}

/// The `github` entry of mcp-tokens.json.
pub fn entry(token: &Secret, user: &GithubUser, source: &str) -> Value {
    json!({
        "token": token.expose(),
        "login": user.login,
        "id": user.id,
        "scopes": user.scopes,
        "source": source,
        "saved_at": now_unix(),
    })
}

fn user_of(entry: &Value) -> Option<GithubUser> {
    Some(GithubUser {
        login: entry.get("login")?.as_str()?.to_owned(),
        id: entry.get("id")?.as_u64()?,
        scopes: entry
            .get("scopes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

pub async fn save_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SaveTokenRequest>,
) -> Result<Json<GithubSaved>, ApiError> {
    let token = token::pasted(&body, check_github_token_shape)?;
    let user = fetch_user(&state, &token, Attempt::Save).await?;
    STORED.save(&state, entry(&token, &user, "pat")).await?;
    tracing::info!(login = %user.login, "github token saved");
    Ok(Json(GithubSaved { ok: true, user }))
}

pub async fn status(
    State(state): State<AppState>,
) -> Result<Json<TokenStatus<GithubUser>>, ApiError> {
    let status = STORED
        .status(&state, |entry| {
            let source = entry.get("source").and_then(Value::as_str);
            (user_of(entry), source.map(str::to_owned))
        })
        .await?;
    Ok(Json(status))
}

/// Forgets the token, and gh's copy for downstream tools (`github_token.json`).
pub async fn disconnect(State(state): State<AppState>) -> Result<Json<Ok>, ApiError> {
    STORED.forget(&state).await?;
    let gh_file = JsonStore::at(state.config().github_token_file.clone());
    store::blocking(move || gh_file.remove()).await?;
    tracing::info!("github disconnected");
    Ok(Json(Ok::YES))
}

pub async fn reconnect(State(state): State<AppState>) -> Result<Json<GithubSaved>, ApiError> {
    let (token, entry) = STORED.load_for_reconnect(&state).await?;
    let source = entry
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or("pat")
        .to_owned();
    let user = fetch_user(&state, &token, Attempt::Revalidate).await?;
    let value = self::entry(&token, &user, &source);
    let tokens = state.tokens().clone();
    store::blocking(move || {
        tokens.update(|e| {
            // Only refresh the entry if it still holds the token we validated: a save that
            // raced with us wins.
            if e.get(STORED.key)
                .and_then(entry_token)
                .is_some_and(|t| t == token)
            {
                e.insert(STORED.key.into(), value);
            }
        })
    })
    .await?;
    Ok(Json(GithubSaved { ok: true, user }))
}
