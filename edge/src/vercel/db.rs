//! The Vercel connector's storage: D1 rows to types and back. Every secret is sealed on its
//! way into a row and opened on its way out here, and the credentials the helper copies
//! into `mcp-tokens.json` become JSON here: nowhere else does a Vercel secret leave its
//! [`Secret`].

use patchbay_proto::Secret;
use patchbay_proto::oauth::{AuthorizationRequest, ClientAuth, ClientRegistrationResponse};
use patchbay_proto::pkce::{PkceVerifier, state_key};
use patchbay_proto::tokens::{
    TokenStatus, VercelAccount, VercelFailureReason, VercelSignInFailure, VercelStatus,
};
use serde_json::{Value, json};

use crate::Edge;
use crate::config::EdgeSecrets;
use crate::crypto::Cipher;
use crate::error::ApiError;
use crate::store::{Row, SqlValue, Store};

/// The associated data of each sealed column, so a value moved to another column fails.
const COL_ACCESS: &str = "vercel_connection.access_token";
const COL_REFRESH: &str = "vercel_connection.refresh_token";
const COL_CLIENT_SECRET: &str = "vercel_client.client_secret";
const COL_VERIFIER: &str = "oauth_states.code_verifier";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    OAuth,
    Manual,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::OAuth => "oauth",
            Source::Manual => "manual",
        }
    }
}

/// The stored connection, decrypted.
#[derive(Debug, Clone)]
pub struct Connection {
    pub source: Source,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub token_type: String,
    pub expires_at: Option<u64>,
    pub scope: Option<String>,
    pub user: VercelAccount,
    pub client_id: Option<String>,
}

impl Connection {
    /// Patchbay signed in itself and holds a refresh token, so it can renew the access token.
    pub fn can_refresh(&self) -> bool {
        self.source == Source::OAuth && self.refresh_token.is_some()
    }
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
    /// The client registered by hand at Vercel, when its id is a Worker secret.
    pub fn configured(secrets: &EdgeSecrets) -> Option<OAuthClient> {
        secrets.vercel_client_id.as_ref().map(|id| OAuthClient {
            client_id: id.clone(),
            client_secret: secrets.vercel_client_secret.clone(),
            registration: "configured",
        })
    }

    pub fn auth(&self) -> ClientAuth<'_> {
        ClientAuth {
            client_id: &self.client_id,
            client_secret: self.client_secret.as_ref(),
        }
    }
}

fn user_from_row(row: &Row) -> VercelAccount {
    VercelAccount {
        id: row.text("user_id").unwrap_or_default(),
        username: row.text("username").unwrap_or_default(),
        email: row.text("email"),
    }
}

pub async fn load_connection<S: Store, U>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
) -> Result<Option<Connection>, ApiError> {
    let rows = edge
        .store
        .query("SELECT * FROM vercel_connection WHERE id = 1", &[])
        .await?;
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

pub async fn save_connection<S: Store, U>(
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
        .map_err(ApiError::from)
}

pub async fn delete_connection<S: Store, U>(edge: &Edge<'_, S, U>) -> Result<(), ApiError> {
    edge.store
        .execute("DELETE FROM vercel_connection WHERE id = 1", &[])
        .await
        .map_err(ApiError::from)
}

/// The connection as `GET …/status` shows it, read without the key: never a token, only its
/// hint.
pub async fn status<S: Store, U>(edge: &Edge<'_, S, U>) -> Result<VercelStatus, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT source, token_hint, expires_at, user_id, username, email \
             FROM vercel_connection WHERE id = 1",
            &[],
        )
        .await?;
    let last_failure = sign_in_failure(edge).await?;
    Ok(match rows.first() {
        None => VercelStatus {
            token: TokenStatus::disconnected(),
            expires_at: None,
            last_failure,
        },
        Some(row) => VercelStatus {
            token: TokenStatus {
                connected: true,
                user: Some(user_from_row(row)),
                token_hint: row.text("token_hint"),
                source: row.text("source"),
            },
            expires_at: row.int("expires_at"),
            last_failure,
        },
    })
}

/// The last sign-in that did not connect, if nothing happened since.
async fn sign_in_failure<S: Store, U>(
    edge: &Edge<'_, S, U>,
) -> Result<Option<VercelSignInFailure>, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT reason, at FROM vercel_sign_in_failure WHERE id = 1",
            &[],
        )
        .await?;
    Ok(rows.first().and_then(|row| {
        let reason = VercelFailureReason::parse(&row.text("reason")?)?;
        Some(VercelSignInFailure::new(reason, row.int("at")?))
    }))
}

/// Remembers why a sign-in did not connect (replacing an older one). Best effort: the
/// sign-in's own answer already says it.
pub async fn record_sign_in_failure<S: Store, U>(
    edge: &Edge<'_, S, U>,
    reason: VercelFailureReason,
) {
    let _ = edge
        .store
        .execute(
            "INSERT INTO vercel_sign_in_failure (id, reason, at) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, at = excluded.at",
            &[reason.as_str().into(), edge.now.into()],
        )
        .await;
}

/// Forgets the last failure: something new happened (a sign-in started or succeeded, a
/// token was saved, Vercel was disconnected).
pub async fn forget_sign_in_failure<S: Store, U>(edge: &Edge<'_, S, U>) -> Result<(), ApiError> {
    edge.store
        .execute("DELETE FROM vercel_sign_in_failure", &[])
        .await
        .map_err(ApiError::from)
}

/// Which registered client to read.
#[derive(Debug, Clone, Copy)]
pub enum Registered<'a> {
    WithId(&'a str),
    ForRedirect(&'a str),
    Any,
}

/// The client the edge registered at Vercel (there is at most one), if it is the one asked
/// for.
pub async fn registered_client<S: Store, U>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    which: Registered<'_>,
) -> Result<Option<OAuthClient>, ApiError> {
    let (sql, params): (&str, Vec<SqlValue>) = match which {
        Registered::WithId(id) => (
            "SELECT client_id, client_secret FROM vercel_client WHERE id = 1 AND client_id = ?1",
            vec![id.into()],
        ),
        Registered::ForRedirect(uri) => (
            "SELECT client_id, client_secret FROM vercel_client WHERE id = 1 AND redirect_uri = ?1",
            vec![uri.into()],
        ),
        Registered::Any => (
            "SELECT client_id, client_secret FROM vercel_client WHERE id = 1",
            vec![],
        ),
    };
    let rows = edge.store.query(sql, &params).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let client_secret = match row.text("client_secret") {
        Some(s) => Some(cipher.open(COL_CLIENT_SECRET, &s).map_err(|_| {
            ApiError::unavailable(
                "The stored Vercel client cannot be decrypted: PATCHBAY_ENCRYPTION_KEY changed. \
                 Delete the vercel_client row (wrangler d1 execute) to register again.",
            )
        })?),
        None => None,
    };
    Ok(Some(OAuthClient {
        client_id: row.text("client_id").unwrap_or_default(),
        client_secret,
        registration: "dynamic",
    }))
}

/// Keeps a new registration. A different redirect URI (the deployment moved) replaces the
/// old client; two registrations racing keep the first one stored.
pub async fn save_registered_client<S: Store, U>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    redirect_uri: &str,
    reg: &ClientRegistrationResponse,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "DELETE FROM vercel_client WHERE id = 1 AND redirect_uri <> ?1",
            &[redirect_uri.into()],
        )
        .await?;
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
        .map_err(ApiError::from)
}

/// Forgets sign-ins that expired before `before`.
pub async fn forget_sign_ins<S: Store, U>(
    edge: &Edge<'_, S, U>,
    before: u64,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "DELETE FROM oauth_states WHERE expires_at < ?1",
            &[before.into()],
        )
        .await
        .map_err(ApiError::from)
}

/// Keeps a started sign-in: the state only as its hash, the verifier only sealed.
pub async fn save_sign_in<S: Store, U>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    request: &AuthorizationRequest<'_>,
    verifier: &PkceVerifier,
    verifier_id: &str,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "INSERT INTO oauth_states (state_key, verifier_id, code_verifier, client_id, \
             redirect_uri, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                state_key(request.state).into(),
                verifier_id.into(),
                cipher.seal(COL_VERIFIER, verifier.expose()).into(),
                request.client_id.into(),
                request.redirect_uri.into(),
                edge.now.into(),
                (edge.now + edge.config.vercel.state_ttl_secs).into(),
            ],
        )
        .await
        .map_err(ApiError::from)
}

/// A sign-in claimed for completion.
pub struct ClaimedSignIn {
    /// `None` when it cannot be decrypted (the key changed since the sign-in started).
    pub verifier: Option<PkceVerifier>,
    pub client_id: String,
    pub redirect_uri: String,
}

/// What claiming a sign-in found.
pub enum Claim {
    /// It was pending and unexpired, and is now the caller's to complete.
    Claimed(ClaimedSignIn),
    /// It cannot be claimed. Its status (`pending`: expired; `exchanging`, `connected`,
    /// `failed`: used) and, for `failed`, why; or `None`: it was never started here.
    Refused(Option<Refused>),
}

/// A sign-in that can no longer be claimed.
pub struct Refused {
    pub status: String,
    /// The first attempt's failure, when it failed.
    pub failure: Option<ApiError>,
}

/// Claims a pending, unexpired sign-in atomically (`pending` → `exchanging`), so a reload or
/// a double click never completes it twice.
pub async fn claim_sign_in<S: Store, U>(
    edge: &Edge<'_, S, U>,
    cipher: &Cipher,
    state: &str,
) -> Result<Claim, ApiError> {
    let key = state_key(state);
    let claimed = edge
        .store
        .query(
            "UPDATE oauth_states SET status = 'exchanging', used_at = ?2 \
             WHERE state_key = ?1 AND status = 'pending' AND expires_at > ?2 \
             RETURNING code_verifier, client_id, redirect_uri",
            &[key.as_str().into(), edge.now.into()],
        )
        .await?;
    if let Some(row) = claimed.first() {
        return Ok(Claim::Claimed(ClaimedSignIn {
            verifier: cipher
                .open(COL_VERIFIER, &row.text("code_verifier").unwrap_or_default())
                .ok()
                .and_then(|v| PkceVerifier::from_stored(v.expose().to_owned())),
            client_id: row.text("client_id").unwrap_or_default(),
            redirect_uri: row.text("redirect_uri").unwrap_or_default(),
        }));
    }
    let rows = edge
        .store
        .query(
            "SELECT status, failure_code, failure_message FROM oauth_states \
             WHERE state_key = ?1",
            &[key.into()],
        )
        .await?;
    Ok(Claim::Refused(rows.first().map(|r| {
        Refused {
            status: r.text("status").unwrap_or_default(),
            failure: r
                .text("failure_code")
                .and_then(|c| serde_json::from_value(serde_json::Value::String(c)).ok())
                .map(|code| ApiError::new(code, r.text("failure_message").unwrap_or_default())),
        }
    })))
}

/// Records how a claimed sign-in ended (and why it failed) and wipes its verifier. Best
/// effort: the outcome only serves to answer a replay.
pub async fn finish_sign_in<S: Store, U>(
    edge: &Edge<'_, S, U>,
    state: &str,
    outcome: Result<(), &ApiError>,
) {
    let status = if outcome.is_ok() {
        "connected"
    } else {
        "failed"
    };
    let _ = edge
        .store
        .execute(
            // RETURNING gave the values after the claim; the verifier is wiped only now.
            "UPDATE oauth_states SET status = ?2, code_verifier = '' WHERE state_key = ?1",
            &[state_key(state).into(), status.into()],
        )
        .await;
    if let Err(failure) = outcome {
        // Its own statement, so a D1 without migration 0002 still records the status.
        let code = serde_json::to_value(failure.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = edge
            .store
            .execute(
                "UPDATE oauth_states SET failure_code = ?2, failure_message = ?3 \
                 WHERE state_key = ?1",
                &[
                    state_key(state).into(),
                    code.into(),
                    failure.message.as_str().into(),
                ],
            )
            .await;
    }
}

/// The `vercel` and `vercel_client` entries of `mcp-tokens.json`.
pub fn credentials_json(conn: Option<&Connection>, client: Option<&OAuthClient>) -> Value {
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
    // Sorted, as these bytes have always been, also in a build with serde_json's
    // `preserve_order` (the helper's, unified in `cargo test --workspace`).
    let mut credentials = json!({"vercel": vercel, "vercel_client": vercel_client});
    credentials.sort_all_objects();
    credentials
}
