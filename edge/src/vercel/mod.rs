//! The Vercel connector: manual tokens, OAuth with PKCE (start, exchange, callback),
//! refresh with rotation, status, disconnect, reconnect and the credentials the helper
//! copies into `mcp-tokens.json`.
//!
//! This file holds the routes and the flows; [`api`] talks to Vercel, [`db`] to D1 (and is
//! the only code that turns a secret into a row or JSON), [`callback`] renders `/callback`.
//! Everything is written against the [`Store`] and [`Upstream`] seams, so every path runs
//! natively in tests with an in-memory SQLite and the fake Vercel.

mod api;
pub mod callback;
mod db;
#[cfg(test)]
mod tests;

use patchbay_proto::ErrorCode;
use patchbay_proto::Secret;
use patchbay_proto::oauth::{
    AuthorizationRequest, REFRESH_MARGIN_SECS, TokenFailure, authorization_code_form,
    needs_refresh, refresh_token_form,
};
use patchbay_proto::pkce::{PkceVerifier, new_state};
use patchbay_proto::secret::random_urlsafe;
use patchbay_proto::tokens::{
    OAuthExchangeRequest, OAuthStartResponse, SaveTokenRequest, VercelAccount, VercelFailureReason,
    VercelSaved,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use self::api::Validation;
use self::db::{Claim, Connection, OAuthClient, Registered, Source};
use crate::Edge;
use crate::config::EdgeConfig;
use crate::crypto::Cipher;
use crate::error::{ApiError, wrong_method};
use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::Store;
use crate::upstream::Upstream;

/// Where the connector's `/api` routes live.
pub const PREFIX: &str = "/api/connectors/vercel/";

/// Used sign-ins stay readable this long, so a replayed callback can still say what happened.
const USED_STATE_RETENTION_SECS: u64 = 24 * 3600;

/// The routes under [`PREFIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Token,
    Status,
    Disconnect,
    Reconnect,
    OAuthStart,
    OAuthExchange,
    Credentials,
}

impl Action {
    /// The action a path names after [`PREFIX`].
    pub fn parse(path: &str) -> Option<Action> {
        Some(match path {
            "token" => Action::Token,
            "status" => Action::Status,
            "disconnect" => Action::Disconnect,
            "reconnect" => Action::Reconnect,
            "oauth/start" => Action::OAuthStart,
            "oauth/exchange" => Action::OAuthExchange,
            "credentials" => Action::Credentials,
            _ => return None,
        })
    }

    fn method(self) -> &'static str {
        match self {
            Action::Status | Action::OAuthStart | Action::Credentials => "GET",
            Action::Token | Action::Disconnect | Action::Reconnect | Action::OAuthExchange => {
                "POST"
            }
        }
    }
}

/// Serves one route; the router has checked the edge bearer.
pub async fn serve<S: Store, U: Upstream>(
    action: Action,
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> Result<EdgeResponse, ApiError> {
    if req.method != action.method() {
        return Ok(wrong_method(req, action.method()));
    }
    match action {
        Action::Token => {
            let body: SaveTokenRequest = json_body(req, r#"{"token": "…"}"#)?;
            let cipher = edge.cipher()?;
            saved(save_manual_token(edge, &cipher, body.token).await?)
        }
        Action::Status => Ok(EdgeResponse::json(200, &db::status(edge).await?)),
        Action::Disconnect => {
            let cipher = edge.cipher().ok();
            let revoked = disconnect(edge, cipher.as_ref()).await?;
            Ok(EdgeResponse::json(
                200,
                &json!({"ok": true, "revoked": revoked}),
            ))
        }
        Action::Reconnect => {
            let cipher = edge.cipher()?;
            saved(reconnect(edge, &cipher).await?)
        }
        Action::OAuthStart => {
            let cipher = edge.cipher()?;
            let redirect = redirect_uri(edge.config, &req.origin);
            Ok(EdgeResponse::json(
                200,
                &start(edge, &cipher, &redirect).await?,
            ))
        }
        Action::OAuthExchange => {
            let body: OAuthExchangeRequest = json_body(req, r#"{"code": "…", "state": "…"}"#)?;
            let cipher = edge.cipher()?;
            saved(exchange_or_replay(edge, &cipher, &body.code, &body.state).await?)
        }
        Action::Credentials => {
            let cipher = edge.cipher()?;
            Ok(EdgeResponse::json(200, &credentials(edge, &cipher).await?))
        }
    }
}

fn json_body<T: DeserializeOwned>(req: &EdgeRequest, example: &str) -> Result<T, ApiError> {
    serde_json::from_slice(&req.body)
        .map_err(|_| ApiError::bad_request(format!("Send a JSON body like {example}.")))
}

/// `{"ok": true, "user": …}`. Its members keep the order the helper and the dashboard have
/// always been sent (sorted), whether or not a build unifies serde_json's `preserve_order`.
fn saved(user: VercelAccount) -> Result<EdgeResponse, ApiError> {
    let body = VercelSaved {
        ok: true,
        user: Some(user),
    };
    let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
    value.sort_all_objects();
    Ok(EdgeResponse::json(200, &value))
}

/// The redirect URI of this deployment.
pub fn redirect_uri(config: &EdgeConfig, origin: &str) -> String {
    config.vercel.redirect_uri.clone().unwrap_or_else(|| {
        let base = config.public_url.as_deref().unwrap_or(origin);
        format!("{}/callback", base.trim_end_matches('/'))
    })
}

/// Why a sign-in could not be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteError {
    /// No sign-in was started with this state here.
    Unknown,
    /// Started, but longer ago than the state TTL.
    Expired,
    /// The state was already used; the first attempt's outcome.
    AlreadyUsed(FirstOutcome),
    /// The exchange (or the account lookup after it) failed.
    Failed(ApiError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstOutcome {
    Connected,
    /// It failed; why, when the edge recorded it.
    Failed(Option<ApiError>),
    InProgress,
}

impl From<CompleteError> for ApiError {
    fn from(e: CompleteError) -> Self {
        match e {
            CompleteError::Unknown => ApiError::not_found(
                "This sign-in is unknown to the edge; start the Vercel sign-in again.",
            ),
            CompleteError::Expired => ApiError::not_found(
                "This sign-in expired (it must be finished within 10 minutes); start it again.",
            ),
            // The first attempt's failure, again: the same code and reason.
            CompleteError::AlreadyUsed(FirstOutcome::Failed(Some(first))) => ApiError::new(
                first.code,
                format!("This sign-in already failed: {}", first.message),
            ),
            CompleteError::AlreadyUsed(first) => ApiError::conflict(match first {
                FirstOutcome::Connected => {
                    "This sign-in was already used, and Vercel is connected; nothing more to do."
                }
                FirstOutcome::Failed(_) => {
                    "This sign-in was already used, and it failed; start the Vercel sign-in again."
                }
                FirstOutcome::InProgress => {
                    "This sign-in is being completed already; check the Vercel status in a moment."
                }
            }),
            CompleteError::Failed(e) => e,
        }
    }
}

/// The client for `client_id` if it is still the one configured or registered.
async fn client_by_id<S: Store, U>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    client_id: &str,
) -> Result<Option<OAuthClient>, ApiError> {
    match OAuthClient::configured(edge.secrets) {
        Some(configured) => Ok((configured.client_id == client_id).then_some(configured)),
        None => db::registered_client(edge, cipher, Registered::WithId(client_id)).await,
    }
}

/// The configured client, else the registered one for this redirect URI, else a new
/// registration (stored, so every later sign-in reuses it).
pub async fn ensure_client<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    redirect_uri: &str,
) -> Result<OAuthClient, ApiError> {
    if let Some(configured) = OAuthClient::configured(edge.secrets) {
        return Ok(configured);
    }
    if let Some(registered) =
        db::registered_client(edge, cipher, Registered::ForRedirect(redirect_uri)).await?
    {
        return Ok(registered);
    }
    let registration = api::register(edge, redirect_uri).await?;
    db::save_registered_client(edge, cipher, redirect_uri, &registration).await?;
    db::registered_client(edge, cipher, Registered::ForRedirect(redirect_uri))
        .await?
        .ok_or_else(|| ApiError::internal("The registered client was not stored; try again."))
}

/// `POST …/token`: validate a pasted token, then store it.
pub async fn save_manual_token<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    token: Secret,
) -> Result<VercelAccount, ApiError> {
    let token = Secret::new(token.expose().trim());
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "Paste a Vercel token; the field is empty. Create one at https://vercel.com/account/tokens.",
        ));
    }
    match api::user(edge, &token).await? {
        Validation::Valid(user) => {
            db::save_connection(
                edge,
                cipher,
                &Connection {
                    source: Source::Manual,
                    access_token: token,
                    refresh_token: None,
                    token_type: "Bearer".into(),
                    expires_at: None,
                    scope: None,
                    user: user.clone(),
                    client_id: None,
                },
            )
            .await?;
            db::forget_sign_in_failure(edge).await?;
            Ok(user)
        }
        Validation::Rejected(status) => Err(ApiError::bad_request(format!(
            "Vercel rejected this token (HTTP {status}): it is wrong, expired or revoked. \
             Create a new one at https://vercel.com/account/tokens and paste it."
        ))),
    }
}

/// `POST …/disconnect`: revoke what Patchbay itself obtained (OAuth tokens), then forget
/// the connection. A pasted personal token is not revoked: the person may use it elsewhere.
/// Returns whether Vercel confirmed the revocation.
pub async fn disconnect<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: Option<&Cipher>,
) -> Result<bool, ApiError> {
    let mut revoked = false;
    if let Some(cipher) = cipher
        && let Ok(Some(conn)) = db::load_connection(edge, cipher).await
        && conn.source == Source::OAuth
        && let Some(client_id) = &conn.client_id
        && let Ok(Some(client)) = client_by_id(edge, cipher, client_id).await
    {
        revoked = true;
        let tokens = [
            conn.refresh_token.as_ref().map(|t| (t, "refresh_token")),
            Some((&conn.access_token, "access_token")),
        ];
        for (token, hint) in tokens.into_iter().flatten() {
            revoked &= api::revoke(edge, &client, token, hint).await;
        }
    }
    db::delete_connection(edge).await?;
    db::forget_sign_in_failure(edge).await?;
    Ok(revoked)
}

/// Whether the access token is about to expire and can be renewed: the MCP client's timing.
fn refresh_due(conn: &Connection, now: u64) -> bool {
    conn.can_refresh() && needs_refresh(conn.expires_at, now, REFRESH_MARGIN_SECS)
}

/// Refreshes an OAuth connection. Vercel rotates refresh tokens: the new one is stored, and
/// the old one kept only if the response carries none.
async fn refresh<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    conn: Connection,
) -> Result<Connection, ApiError> {
    let reconnect =
        || ApiError::conflict("Vercel no longer accepts Patchbay's sign-in; connect Vercel again.");
    let (Some(refresh_token), Some(client_id)) = (&conn.refresh_token, &conn.client_id) else {
        return Err(reconnect());
    };
    let Some(client) = client_by_id(edge, cipher, client_id).await? else {
        return Err(reconnect());
    };
    let form = refresh_token_form(client.auth(), refresh_token);
    let tokens = match api::token(edge, form).await? {
        Ok(tokens) => tokens,
        Err(TokenFailure::Transient(why)) => return Err(api::token_endpoint_failed(&why)),
        // The refresh token or the client is dead: only a new sign-in helps.
        Err(TokenFailure::InvalidGrant | TokenFailure::InvalidClient) => return Err(reconnect()),
    };
    let updated = Connection {
        expires_at: tokens.expires_at(edge.now),
        refresh_token: tokens.refresh_token.or(conn.refresh_token),
        access_token: tokens.access_token,
        token_type: tokens.token_type,
        scope: tokens.scope.or(conn.scope),
        ..conn
    };
    db::save_connection(edge, cipher, &updated).await?;
    Ok(updated)
}

/// `POST …/reconnect`: re-validate the stored token, refreshing an OAuth one when it has
/// expired or Vercel refuses it.
pub async fn reconnect<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
) -> Result<VercelAccount, ApiError> {
    let Some(mut conn) = db::load_connection(edge, cipher).await? else {
        return Err(ApiError::not_found(
            "Vercel is not connected; connect it first.",
        ));
    };
    let mut refreshed = false;
    if refresh_due(&conn, edge.now) {
        conn = refresh(edge, cipher, conn).await?;
        refreshed = true;
    }
    loop {
        match api::user(edge, &conn.access_token).await? {
            Validation::Valid(user) => {
                if user != conn.user {
                    conn.user = user.clone();
                    db::save_connection(edge, cipher, &conn).await?;
                }
                return Ok(user);
            }
            Validation::Rejected(_) if !refreshed && conn.can_refresh() => {
                conn = refresh(edge, cipher, conn).await?;
                refreshed = true;
            }
            Validation::Rejected(status) => {
                return Err(ApiError::conflict(format!(
                    "Vercel no longer accepts the stored token (HTTP {status}); connect \
                     Vercel again."
                )));
            }
        }
    }
}

/// `GET …/oauth/start`: a PKCE S256 authorization URL. The verifier stays here, encrypted.
pub async fn start<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    redirect_uri: &str,
) -> Result<OAuthStartResponse, ApiError> {
    // Forget sign-ins that can no longer be completed nor replayed.
    db::forget_sign_ins(edge, edge.now.saturating_sub(USED_STATE_RETENTION_SECS)).await?;
    // A new attempt: the card stops showing why the last one failed.
    db::forget_sign_in_failure(edge).await?;
    let client = ensure_client(edge, cipher, redirect_uri).await?;
    let verifier = PkceVerifier::generate();
    let state = new_state();
    let verifier_id = random_urlsafe(16);
    let code_challenge = verifier.challenge();
    let request = AuthorizationRequest {
        endpoint: &edge.config.vercel.authorize_url,
        client_id: &client.client_id,
        redirect_uri,
        scope: &edge.config.vercel.scopes,
        state: &state,
        code_challenge: &code_challenge,
    };
    db::save_sign_in(edge, cipher, &request, &verifier, &verifier_id).await?;
    let authorize_url = request.url();
    Ok(OAuthStartResponse {
        authorize_url,
        state,
        code_verifier_id: verifier_id,
    })
}

/// Completes a sign-in (the callback and `oauth/exchange`). The state row is claimed
/// atomically first, so a reload or a double click never exchanges the code twice.
/// `code` is `None` when Vercel sent the person back with an error (access denied).
///
/// A sign-in the edge started that does not connect is remembered (`db::record_sign_in_failure`)
/// for the status, so the dashboard's card can say why. A state the edge never issued, or a
/// replay, is not: anyone can open `/callback`, and that must not change what the card says.
pub async fn complete<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    code: Option<&str>,
    state: &str,
) -> Result<VercelAccount, CompleteError> {
    let claim = db::claim_sign_in(edge, cipher, state)
        .await
        .map_err(CompleteError::Failed)?;
    let sign_in = match claim {
        Claim::Claimed(sign_in) => sign_in,
        Claim::Refused(refused) => {
            let why = why_not_claimed(refused);
            if matches!(why, CompleteError::Expired) {
                db::record_sign_in_failure(edge, VercelFailureReason::Expired).await;
            }
            return Err(why);
        }
    };
    let result = exchange(edge, cipher, code, sign_in).await;
    db::finish_sign_in(edge, state, result.as_ref().map(|_| ())).await;
    match &result {
        Ok(_) => db::forget_sign_in_failure(edge)
            .await
            .map_err(CompleteError::Failed)?,
        Err(e) => db::record_sign_in_failure(edge, failure_reason(code, e)).await,
    }
    result.map_err(CompleteError::Failed)
}

/// Why an exchange failed, as the status tells it: no code means the person did not approve;
/// a refusal of the code is a 400 from `exchange`; anything else is Vercel or the edge.
fn failure_reason(code: Option<&str>, e: &ApiError) -> VercelFailureReason {
    if code.is_none_or(str::is_empty) {
        VercelFailureReason::Denied
    } else if e.code == ErrorCode::BadRequest {
        VercelFailureReason::Refused
    } else {
        VercelFailureReason::Failed
    }
}

fn why_not_claimed(refused: Option<db::Refused>) -> CompleteError {
    let Some(refused) = refused else {
        return CompleteError::Unknown;
    };
    match refused.status.as_str() {
        "pending" => CompleteError::Expired,
        "connected" => CompleteError::AlreadyUsed(FirstOutcome::Connected),
        "failed" => CompleteError::AlreadyUsed(FirstOutcome::Failed(refused.failure)),
        _ => CompleteError::AlreadyUsed(FirstOutcome::InProgress),
    }
}

/// `POST …/oauth/exchange`. A state that `/callback` (or an earlier exchange) already
/// connected answers success with the connected account, without exchanging a code again:
/// the seed's client does both steps.
async fn exchange_or_replay<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    code: &str,
    state: &str,
) -> Result<VercelAccount, ApiError> {
    match complete(edge, cipher, Some(code), state).await {
        Ok(user) => Ok(user),
        Err(CompleteError::AlreadyUsed(FirstOutcome::Connected)) => {
            match db::status(edge).await?.token.user {
                Some(user) => Ok(user),
                None => Err(ApiError::conflict(
                    "This sign-in connected Vercel, but Vercel has been disconnected since; \
                     start the Vercel sign-in again.",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

async fn exchange<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    code: Option<&str>,
    sign_in: db::ClaimedSignIn,
) -> Result<VercelAccount, ApiError> {
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Err(ApiError::bad_request(
            "Vercel did not approve the sign-in (it was cancelled or refused); start again.",
        ));
    };
    let verifier = sign_in.verifier.ok_or_else(|| {
        ApiError::unavailable(
            "This sign-in cannot be completed: PATCHBAY_ENCRYPTION_KEY changed since it \
             started. Start again.",
        )
    })?;
    let client = client_by_id(edge, cipher, &sign_in.client_id)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "Patchbay's Vercel client changed since this sign-in started; start again.",
            )
        })?;
    let form = authorization_code_form(client.auth(), code, &sign_in.redirect_uri, &verifier);
    let tokens = match api::token(edge, form).await? {
        Ok(tokens) => tokens,
        Err(TokenFailure::Transient(why)) => return Err(api::token_endpoint_failed(&why)),
        Err(refused) => {
            return Err(ApiError::bad_request(format!(
                "Vercel refused the sign-in code ({}); start the sign-in again.",
                if refused == TokenFailure::InvalidGrant {
                    "invalid_grant"
                } else {
                    "error"
                }
            )));
        }
    };
    let user = match api::user(edge, &tokens.access_token).await? {
        Validation::Valid(user) => user,
        Validation::Rejected(status) => {
            return Err(ApiError::upstream(format!(
                "Vercel issued a token but then refused it (HTTP {status}); start again."
            )));
        }
    };
    db::save_connection(
        edge,
        cipher,
        &Connection {
            source: Source::OAuth,
            expires_at: tokens.expires_at(edge.now),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            token_type: tokens.token_type,
            scope: tokens.scope,
            user: user.clone(),
            client_id: Some(client.client_id),
        },
    )
    .await?;
    Ok(user)
}

/// The stored access token, refreshed first when it is about to expire: what the MCP tools
/// call Vercel with. `None` when Vercel is not connected.
pub async fn access_token<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
) -> Result<Option<Secret>, ApiError> {
    let Some(conn) = db::load_connection(edge, cipher).await? else {
        return Ok(None);
    };
    let conn = if refresh_due(&conn, edge.now) {
        refresh(edge, cipher, conn).await?
    } else {
        conn
    };
    Ok(Some(conn.access_token))
}

/// `GET …/credentials`: the `vercel` and `vercel_client` entries of `mcp-tokens.json`, with
/// the access token refreshed first when it is about to expire. The only route that returns
/// a secret; the router serves it to the edge bearer only.
pub async fn credentials<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
) -> Result<Value, ApiError> {
    let mut conn = db::load_connection(edge, cipher).await?;
    if let Some(c) = conn.take() {
        conn = Some(if refresh_due(&c, edge.now) {
            // A failed refresh still hands out what is stored; the reader sees expires_at.
            refresh(edge, cipher, c.clone()).await.unwrap_or(c)
        } else {
            c
        });
    }
    let client = match (&edge.secrets.vercel_client_id, &conn) {
        (Some(_), _) => ensure_client(edge, cipher, "").await.ok(),
        (
            None,
            Some(Connection {
                client_id: Some(id),
                ..
            }),
        ) => client_by_id(edge, cipher, id).await?,
        (None, _) => db::registered_client(edge, cipher, Registered::Any).await?,
    };
    Ok(db::credentials_json(conn.as_ref(), client.as_ref()))
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    #[test]
    fn a_failure_is_told_by_what_came_back() {
        let refused = ApiError::bad_request("Vercel refused the sign-in code");
        let down = ApiError::upstream("Vercel's token endpoint answered 503");
        assert_eq!(failure_reason(None, &refused), VercelFailureReason::Denied);
        assert_eq!(failure_reason(Some(""), &down), VercelFailureReason::Denied);
        assert_eq!(
            failure_reason(Some("c"), &refused),
            VercelFailureReason::Refused
        );
        assert_eq!(
            failure_reason(Some("c"), &down),
            VercelFailureReason::Failed
        );
        let changed = ApiError::conflict("Patchbay's Vercel client changed");
        assert_eq!(
            failure_reason(Some("c"), &changed),
            VercelFailureReason::Failed
        );
    }
}
