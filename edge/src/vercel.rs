//! The Vercel connector: manual tokens, OAuth with PKCE (start, exchange, callback),
//! refresh with rotation, status, disconnect, reconnect and the credentials the helper
//! copies into `mcp-tokens.json`.
//!
//! Written against the [`Store`] and [`Upstream`] seams only, so every path runs natively
//! in tests with an in-memory SQLite and the fake Vercel.

use patchbay_proto::oauth::{
    AuthorizationRequest, ClientAuth, ClientRegistrationRequest, ClientRegistrationResponse,
    TokenErrorResponse, TokenResponse, authorization_code_form, refresh_token_form,
    revocation_form,
};
use patchbay_proto::pkce::{PkceVerifier, new_state, state_key};
use patchbay_proto::secret::random_urlsafe;
use patchbay_proto::{ErrorCode, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{EdgeConfig, EdgeSecrets};
use crate::crypto::Cipher;
use crate::error::ApiError;
use crate::store::{Row, SqlValue, Store};
use crate::upstream::{Upstream, UpstreamRequest};

/// Refresh an OAuth access token this long before it expires.
const REFRESH_LEEWAY_SECS: u64 = 60;
/// Used sign-ins stay readable this long, so a replayed callback can still say what happened.
const USED_STATE_RETENTION_SECS: u64 = 24 * 3600;

const COL_ACCESS: &str = "vercel_connection.access_token";
const COL_REFRESH: &str = "vercel_connection.refresh_token";
const COL_CLIENT_SECRET: &str = "vercel_client.client_secret";
const COL_VERIFIER: &str = "oauth_states.code_verifier";

/// Everything a request may touch.
pub struct Edge<'a, S, U> {
    pub config: &'a EdgeConfig,
    pub secrets: &'a EdgeSecrets,
    pub store: &'a S,
    pub upstream: &'a U,
    /// Unix seconds.
    pub now: u64,
}

/// A Vercel account as Patchbay reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VercelUser {
    #[serde(alias = "uid")]
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    OAuth,
    Manual,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::OAuth => "oauth",
            Source::Manual => "manual",
        }
    }
}

/// The stored connection, decrypted.
#[derive(Debug)]
pub struct Connection {
    pub source: Source,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub token_type: String,
    pub expires_at: Option<u64>,
    pub scope: Option<String>,
    pub user: VercelUser,
    pub client_id: Option<String>,
}

/// The OAuth client the edge signs in with.
#[derive(Debug)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// `"configured"` (Worker secrets) or `"dynamic"` (registered by the edge).
    pub registration: &'static str,
}

impl OAuthClient {
    fn auth(&self) -> ClientAuth<'_> {
        ClientAuth {
            client_id: &self.client_id,
            client_secret: self.client_secret.as_ref(),
        }
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstOutcome {
    Connected,
    Failed,
    InProgress,
}

/// `GET …/oauth/start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthStart {
    pub authorize_url: String,
    pub state: String,
    pub code_verifier_id: String,
}

/// `GET …/status`: never a token, only a hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VercelStatus {
    pub connected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<VercelUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

fn sql_err(e: crate::store::StoreError) -> ApiError {
    ApiError::from(e)
}

/// The redirect URI of this deployment.
pub fn redirect_uri(config: &EdgeConfig, origin: &str) -> String {
    config.vercel.redirect_uri.clone().unwrap_or_else(|| {
        let base = config.public_url.as_deref().unwrap_or(origin);
        format!("{}/callback", base.trim_end_matches('/'))
    })
}

// ---- Talking to Vercel ----------------------------------------------------------------

/// What `GET /v2/user` said about a token.
enum Validation {
    Valid(VercelUser),
    Rejected(u16),
}

async fn validate<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    token: &Secret,
) -> Result<Validation, ApiError> {
    let url = format!("{}/v2/user", edge.config.vercel.api_url);
    let res = edge
        .upstream
        .send(UpstreamRequest::get(url).bearer(token.expose()))
        .await?;
    match res.status {
        200..=299 => {
            #[derive(Deserialize)]
            struct Body {
                user: VercelUser,
            }
            let body: Body = serde_json::from_slice(&res.body).map_err(|_| {
                ApiError::upstream("Vercel's /v2/user answer was not understood; try again later.")
            })?;
            Ok(Validation::Valid(body.user))
        }
        401 | 403 => Ok(Validation::Rejected(res.status)),
        s => Err(ApiError::upstream(format!(
            "Vercel answered HTTP {s} when checking the token; try again in a moment."
        ))),
    }
}

/// Posts a token request; `Err` carries the OAuth error code when Vercel refused.
async fn token_request<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    form: String,
) -> Result<Result<TokenResponse, String>, ApiError> {
    let res = edge
        .upstream
        .send(UpstreamRequest::post_form(
            edge.config.vercel.token_url.clone(),
            form,
        ))
        .await?;
    if (200..300).contains(&res.status) {
        return serde_json::from_slice(&res.body).map(Ok).map_err(|_| {
            ApiError::upstream("Vercel's token answer was not understood; try again later.")
        });
    }
    match serde_json::from_slice::<TokenErrorResponse>(&res.body) {
        Ok(e) if res.status < 500 => Ok(Err(e.error)),
        _ => Err(ApiError::upstream(format!(
            "Vercel's token endpoint answered HTTP {}; try again in a moment.",
            res.status
        ))),
    }
}

// ---- Storage ---------------------------------------------------------------------------

fn user_from_row(row: &Row) -> VercelUser {
    VercelUser {
        id: row.text("user_id").unwrap_or_default(),
        username: row.text("username").unwrap_or_default(),
        email: row.text("email"),
    }
}

async fn load_connection<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
) -> Result<Option<Connection>, ApiError> {
    let rows = edge
        .store
        .query("SELECT * FROM vercel_connection WHERE id = 1", &[])
        .await
        .map_err(sql_err)?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let undecryptable = || {
        ApiError::unavailable(
            "The stored Vercel token cannot be decrypted: PATCHBAY_ENCRYPTION_KEY changed. \
             Disconnect Vercel and connect it again.",
        )
    };
    let access_token = cipher
        .open(COL_ACCESS, &row.text("access_token").unwrap_or_default())
        .map_err(|_| undecryptable())?;
    let refresh_token = match row.text("refresh_token") {
        Some(r) => Some(cipher.open(COL_REFRESH, &r).map_err(|_| undecryptable())?),
        None => None,
    };
    Ok(Some(Connection {
        source: if row.text("source").as_deref() == Some("oauth") {
            Source::OAuth
        } else {
            Source::Manual
        },
        access_token,
        refresh_token,
        token_type: row.text("token_type").unwrap_or_else(|| "Bearer".into()),
        expires_at: row.int("expires_at"),
        scope: row.text("scope"),
        user: user_from_row(row),
        client_id: row.text("client_id"),
    }))
}

async fn save_connection<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    c: &Connection,
) -> Result<(), ApiError> {
    let params = [
        SqlValue::from(c.source.as_str()),
        cipher.seal(COL_ACCESS, c.access_token.expose()).into(),
        c.refresh_token
            .as_ref()
            .map(|r| cipher.seal(COL_REFRESH, r.expose()))
            .into(),
        c.token_type.as_str().into(),
        c.expires_at.into(),
        c.scope.clone().into(),
        c.access_token.hint().into(),
        c.user.id.as_str().into(),
        c.user.username.as_str().into(),
        c.user.email.clone().into(),
        c.client_id.clone().into(),
        edge.now.into(),
    ];
    edge.store
        .execute(
            "INSERT OR REPLACE INTO vercel_connection (id, source, access_token, refresh_token, \
             token_type, expires_at, scope, token_hint, user_id, username, email, client_id, \
             updated_at) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            &params,
        )
        .await
        .map_err(sql_err)
}

/// The client for `client_id` if it is still the one configured or registered.
async fn client_by_id<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    client_id: &str,
) -> Result<Option<OAuthClient>, ApiError> {
    if let Some(id) = &edge.secrets.vercel_client_id {
        return Ok((id == client_id).then(|| OAuthClient {
            client_id: id.clone(),
            client_secret: edge.secrets.vercel_client_secret.clone(),
            registration: "configured",
        }));
    }
    let rows = edge
        .store
        .query(
            "SELECT client_id, client_secret FROM vercel_client WHERE id = 1 AND client_id = ?1",
            &[client_id.into()],
        )
        .await
        .map_err(sql_err)?;
    rows.first().map(|r| dynamic_client(r, cipher)).transpose()
}

fn dynamic_client(row: &Row, cipher: &Cipher) -> Result<OAuthClient, ApiError> {
    let client_secret = match row.text("client_secret") {
        Some(s) => Some(cipher.open(COL_CLIENT_SECRET, &s).map_err(|_| {
            ApiError::unavailable(
                "The stored Vercel client cannot be decrypted: PATCHBAY_ENCRYPTION_KEY changed. \
                 Delete the vercel_client row (wrangler d1 execute) to register again.",
            )
        })?),
        None => None,
    };
    Ok(OAuthClient {
        client_id: row.text("client_id").unwrap_or_default(),
        client_secret,
        registration: "dynamic",
    })
}

/// The configured client, else the registered one for this redirect URI, else a new
/// registration (stored, so every later sign-in reuses it).
pub async fn ensure_client<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    redirect_uri: &str,
) -> Result<OAuthClient, ApiError> {
    if let Some(id) = &edge.secrets.vercel_client_id {
        return Ok(OAuthClient {
            client_id: id.clone(),
            client_secret: edge.secrets.vercel_client_secret.clone(),
            registration: "configured",
        });
    }
    let select =
        "SELECT client_id, client_secret FROM vercel_client WHERE id = 1 AND redirect_uri = ?1";
    let rows = edge
        .store
        .query(select, &[redirect_uri.into()])
        .await
        .map_err(sql_err)?;
    if let Some(row) = rows.first() {
        return dynamic_client(row, cipher);
    }
    let request = ClientRegistrationRequest::authorization_code(
        "Patchbay",
        redirect_uri,
        &edge.config.vercel.scopes,
    );
    let res = edge
        .upstream
        .send(UpstreamRequest::post_json(
            edge.config.vercel.register_url.clone(),
            serde_json::to_vec(&request).unwrap_or_default(),
        ))
        .await?;
    if !(200..300).contains(&res.status) {
        return Err(ApiError::upstream(format!(
            "Vercel refused to register Patchbay as an OAuth client (HTTP {}). Create a client \
             by hand and run `npx wrangler secret put VERCEL_CLIENT_ID` (and \
             VERCEL_CLIENT_SECRET).",
            res.status
        )));
    }
    let reg: ClientRegistrationResponse = serde_json::from_slice(&res.body).map_err(|_| {
        ApiError::upstream("Vercel's client registration answer was not understood.")
    })?;
    // A different redirect URI (the deployment moved) replaces the old client; two
    // registrations racing keep the first one stored.
    edge.store
        .execute(
            "DELETE FROM vercel_client WHERE id = 1 AND redirect_uri <> ?1",
            &[redirect_uri.into()],
        )
        .await
        .map_err(sql_err)?;
    edge.store
        .execute(
            "INSERT INTO vercel_client (id, client_id, client_secret, redirect_uri, created_at) \
             VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
            &[
                reg.client_id.as_str().into(),
                reg.client_secret
                    .as_ref()
                    .map(|s| cipher.seal(COL_CLIENT_SECRET, s.expose()))
                    .into(),
                redirect_uri.into(),
                edge.now.into(),
            ],
        )
        .await
        .map_err(sql_err)?;
    let rows = edge
        .store
        .query(select, &[redirect_uri.into()])
        .await
        .map_err(sql_err)?;
    rows.first()
        .map(|r| dynamic_client(r, cipher))
        .unwrap_or_else(|| {
            Err(ApiError::new(
                ErrorCode::Internal,
                "The registered client was not stored; try again.",
            ))
        })
}

// ---- Flows -----------------------------------------------------------------------------

/// `POST …/token`: validate a pasted token, then store it.
pub async fn save_manual_token<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    token: Secret,
) -> Result<VercelUser, ApiError> {
    let token = Secret::new(token.expose().trim());
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "Paste a Vercel token; the field is empty. Create one at https://vercel.com/account/tokens.",
        ));
    }
    match validate(edge, &token).await? {
        Validation::Valid(user) => {
            save_connection(
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
            Ok(user)
        }
        Validation::Rejected(status) => Err(ApiError::bad_request(format!(
            "Vercel rejected this token (HTTP {status}): it is wrong, expired or revoked. \
             Create a new one at https://vercel.com/account/tokens and paste it."
        ))),
    }
}

/// `GET …/status`.
pub async fn status<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
) -> Result<VercelStatus, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT source, token_hint, expires_at, user_id, username, email \
             FROM vercel_connection WHERE id = 1",
            &[],
        )
        .await
        .map_err(sql_err)?;
    Ok(match rows.first() {
        None => VercelStatus {
            connected: false,
            user: None,
            token_hint: None,
            source: None,
            expires_at: None,
        },
        Some(row) => VercelStatus {
            connected: true,
            user: Some(user_from_row(row)),
            token_hint: row.text("token_hint"),
            source: row.text("source"),
            expires_at: row.int("expires_at"),
        },
    })
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
        && let Ok(Some(conn)) = load_connection(edge, cipher).await
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
            let mut req = UpstreamRequest::post_form(
                edge.config.vercel.revoke_url.clone(),
                revocation_form(client.auth(), token, hint),
            );
            if let Some(secret) = &client.client_secret {
                req.headers
                    .push(("authorization", basic_auth(&client.client_id, secret)));
            }
            let ok =
                matches!(edge.upstream.send(req).await, Ok(r) if (200..300).contains(&r.status));
            revoked &= ok;
        }
    }
    edge.store
        .execute("DELETE FROM vercel_connection WHERE id = 1", &[])
        .await
        .map_err(sql_err)?;
    Ok(revoked)
}

/// `client_secret_basic` (RFC 6749 §2.3.1), which Vercel's revocation endpoint asks for.
fn basic_auth(client_id: &str, secret: &Secret) -> String {
    use base64::Engine as _;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Refreshes an OAuth connection. Vercel rotates refresh tokens: the new one is stored, and
/// the old one kept only if the response carries none.
async fn refresh<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    conn: Connection,
) -> Result<Connection, ApiError> {
    let reconnect = || {
        ApiError::new(
            ErrorCode::Conflict,
            "Vercel no longer accepts Patchbay's sign-in; connect Vercel again.",
        )
    };
    let (Some(refresh_token), Some(client_id)) = (&conn.refresh_token, &conn.client_id) else {
        return Err(reconnect());
    };
    let Some(client) = client_by_id(edge, cipher, client_id).await? else {
        return Err(reconnect());
    };
    let tokens = match token_request(edge, refresh_token_form(client.auth(), refresh_token)).await?
    {
        Ok(t) => t,
        Err(_) => return Err(reconnect()),
    };
    let updated = Connection {
        expires_at: tokens.expires_at(edge.now),
        refresh_token: tokens.refresh_token.or(conn.refresh_token),
        access_token: tokens.access_token,
        token_type: tokens.token_type,
        scope: tokens.scope.or(conn.scope),
        ..conn
    };
    save_connection(edge, cipher, &updated).await?;
    Ok(updated)
}

fn needs_refresh(conn: &Connection, now: u64) -> bool {
    conn.source == Source::OAuth
        && conn.refresh_token.is_some()
        && conn
            .expires_at
            .is_some_and(|t| t <= now + REFRESH_LEEWAY_SECS)
}

/// `POST …/reconnect`: re-validate the stored token, refreshing an OAuth one when it has
/// expired or Vercel refuses it.
pub async fn reconnect<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
) -> Result<VercelUser, ApiError> {
    let Some(mut conn) = load_connection(edge, cipher).await? else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "Vercel is not connected; connect it first.",
        ));
    };
    let mut refreshed = false;
    if needs_refresh(&conn, edge.now) {
        conn = refresh(edge, cipher, conn).await?;
        refreshed = true;
    }
    loop {
        match validate(edge, &conn.access_token).await? {
            Validation::Valid(user) => {
                if user != conn.user {
                    conn.user = user.clone();
                    save_connection(edge, cipher, &conn).await?;
                }
                return Ok(user);
            }
            Validation::Rejected(_)
                if !refreshed && conn.source == Source::OAuth && conn.refresh_token.is_some() =>
            {
                conn = refresh(edge, cipher, conn).await?;
                refreshed = true;
            }
            Validation::Rejected(status) => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "Vercel no longer accepts the stored token (HTTP {status}); connect \
                         Vercel again."
                    ),
                ));
            }
        }
    }
}

/// `GET …/oauth/start`: a PKCE S256 authorization URL. The verifier stays here, encrypted.
pub async fn start<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    redirect_uri: &str,
) -> Result<OAuthStart, ApiError> {
    // Forget sign-ins that can no longer be completed nor replayed.
    edge.store
        .execute(
            "DELETE FROM oauth_states WHERE expires_at < ?1",
            &[edge.now.saturating_sub(USED_STATE_RETENTION_SECS).into()],
        )
        .await
        .map_err(sql_err)?;
    let client = ensure_client(edge, cipher, redirect_uri).await?;
    let verifier = PkceVerifier::generate();
    let state = new_state();
    let verifier_id = random_urlsafe(16);
    edge.store
        .execute(
            "INSERT INTO oauth_states (state_key, verifier_id, code_verifier, client_id, \
             redirect_uri, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                state_key(&state).into(),
                verifier_id.as_str().into(),
                cipher.seal(COL_VERIFIER, verifier.expose()).into(),
                client.client_id.as_str().into(),
                redirect_uri.into(),
                edge.now.into(),
                (edge.now + edge.config.vercel.state_ttl_secs).into(),
            ],
        )
        .await
        .map_err(sql_err)?;
    let authorize_url = AuthorizationRequest {
        endpoint: &edge.config.vercel.authorize_url,
        client_id: &client.client_id,
        redirect_uri,
        scope: &edge.config.vercel.scopes,
        state: &state,
        code_challenge: &verifier.challenge(),
    }
    .url();
    Ok(OAuthStart {
        authorize_url,
        state,
        code_verifier_id: verifier_id,
    })
}

/// Completes a sign-in (the callback and `oauth/exchange`). The state row is claimed
/// atomically first, so a reload or a double click never exchanges the code twice.
/// `code` is `None` when Vercel sent the person back with an error (access denied).
pub async fn complete<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    code: Option<&str>,
    state: &str,
) -> Result<VercelUser, CompleteError> {
    let key = state_key(state);
    let claimed = edge
        .store
        .query(
            "UPDATE oauth_states SET status = 'exchanging', used_at = ?2 \
             WHERE state_key = ?1 AND status = 'pending' AND expires_at > ?2 \
             RETURNING code_verifier, client_id, redirect_uri",
            &[key.as_str().into(), edge.now.into()],
        )
        .await
        .map_err(|e| CompleteError::Failed(e.into()))?;
    let Some(row) = claimed.first() else {
        return Err(why_not_claimed(edge, &key).await);
    };
    let result = exchange(edge, cipher, code, row).await;
    let status = if result.is_ok() {
        "connected"
    } else {
        "failed"
    };
    let _ = edge
        .store
        .execute(
            // RETURNING gave the values after the claim; the verifier is wiped only now.
            "UPDATE oauth_states SET status = ?2, code_verifier = '' WHERE state_key = ?1",
            &[key.as_str().into(), status.into()],
        )
        .await;
    result.map_err(CompleteError::Failed)
}

async fn why_not_claimed<S: Store, U: Upstream>(edge: &Edge<'_, S, U>, key: &str) -> CompleteError {
    let rows = match edge
        .store
        .query(
            "SELECT status FROM oauth_states WHERE state_key = ?1",
            &[key.into()],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => return CompleteError::Failed(e.into()),
    };
    match rows.first().and_then(|r| r.text("status")).as_deref() {
        None => CompleteError::Unknown,
        Some("pending") => CompleteError::Expired,
        Some("connected") => CompleteError::AlreadyUsed(FirstOutcome::Connected),
        Some("failed") => CompleteError::AlreadyUsed(FirstOutcome::Failed),
        Some(_) => CompleteError::AlreadyUsed(FirstOutcome::InProgress),
    }
}

async fn exchange<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    code: Option<&str>,
    row: &Row,
) -> Result<VercelUser, ApiError> {
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Err(ApiError::bad_request(
            "Vercel did not approve the sign-in (it was cancelled or refused); start again.",
        ));
    };
    let verifier = cipher
        .open(COL_VERIFIER, &row.text("code_verifier").unwrap_or_default())
        .ok()
        .and_then(|v| PkceVerifier::from_stored(v.expose().to_owned()))
        .ok_or_else(|| {
            ApiError::unavailable(
                "This sign-in cannot be completed: PATCHBAY_ENCRYPTION_KEY changed since it \
                 started. Start again.",
            )
        })?;
    let client_id = row.text("client_id").unwrap_or_default();
    let redirect_uri = row.text("redirect_uri").unwrap_or_default();
    let client = client_by_id(edge, cipher, &client_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Conflict,
                "Patchbay's Vercel client changed since this sign-in started; start again.",
            )
        })?;
    let form = authorization_code_form(client.auth(), code, &redirect_uri, &verifier);
    let tokens = match token_request(edge, form).await? {
        Ok(t) => t,
        Err(error) => {
            return Err(ApiError::bad_request(format!(
                "Vercel refused the sign-in code ({}); start the sign-in again.",
                if error == "invalid_grant" {
                    "invalid_grant"
                } else {
                    "error"
                }
            )));
        }
    };
    let user = match validate(edge, &tokens.access_token).await? {
        Validation::Valid(user) => user,
        Validation::Rejected(status) => {
            return Err(ApiError::upstream(format!(
                "Vercel issued a token but then refused it (HTTP {status}); start again."
            )));
        }
    };
    save_connection(
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

/// `GET …/credentials`: the `vercel` and `vercel_client` entries of `mcp-tokens.json`, with
/// the access token refreshed first when it is about to expire. The only route that returns
/// a secret; the router serves it to the edge bearer only.
pub async fn credentials<S: Store, U: Upstream>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
) -> Result<Value, ApiError> {
    let mut conn = load_connection(edge, cipher).await?;
    if let Some(c) = conn.take() {
        conn = Some(if needs_refresh(&c, edge.now) {
            let fallback = Connection {
                access_token: c.access_token.clone(),
                refresh_token: c.refresh_token.clone(),
                token_type: c.token_type.clone(),
                scope: c.scope.clone(),
                user: c.user.clone(),
                client_id: c.client_id.clone(),
                ..c
            };
            // A failed refresh still hands out what is stored; the reader sees expires_at.
            refresh(edge, cipher, c).await.unwrap_or(fallback)
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
        (None, _) => {
            let rows = edge
                .store
                .query(
                    "SELECT client_id, client_secret FROM vercel_client WHERE id = 1",
                    &[],
                )
                .await
                .map_err(sql_err)?;
            rows.first()
                .map(|r| dynamic_client(r, cipher))
                .transpose()?
        }
    };
    let vercel = conn.map(|c| {
        json!({
            "token": c.access_token.expose(),
            "refresh_token": c.refresh_token.as_ref().map(|t| t.expose()),
            "expires_at": c.expires_at,
            "token_type": c.token_type,
            "source": c.source.as_str(),
            "user": c.user,
        })
    });
    let vercel_client = client.map(|c| {
        let mut v = json!({"client_id": c.client_id, "registration": c.registration});
        if let Some(s) = &c.client_secret {
            v["client_secret"] = json!(s.expose());
        }
        v
    });
    Ok(json!({"vercel": vercel, "vercel_client": vercel_client}))
}
