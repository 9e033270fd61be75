//! The authorization server's rows in D1 (`migrations/0003_agents.sql`). The only code that
//! writes SQL for agents; tokens, codes and session ids arrive here already hashed
//! ([`patchbay_proto::agents::token_key`]).

use patchbay_proto::agents::{AgentClient, AgentRequest, PENDING_REQUEST_SECS, redirect_host};
use serde_json::Value;

use crate::Edge;
use crate::error::ApiError;
use crate::store::{Row, SqlValue, Store};

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub source: &'static str,
}

/// An authorization request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: String,
    pub resource: String,
    pub status: String,
    pub created_at: u64,
    pub grant_id: Option<String>,
}

impl Request {
    fn from_row(row: &Row) -> Option<Request> {
        Some(Request {
            id: row.text("id")?,
            client_id: row.text("client_id")?,
            redirect_uri: row.text("redirect_uri")?,
            scope: row.text("scope")?,
            code_challenge: row.text("code_challenge")?,
            resource: row.text("resource")?,
            status: row.text("status")?,
            created_at: row.int("created_at")?,
            grant_id: row.text("grant_id"),
        })
    }
}

/// What a grant lets its tokens do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub scope: String,
    pub resource: String,
}

impl Grant {
    fn from_row(row: &Row) -> Option<Grant> {
        Some(Grant {
            id: row.text("grant_id").or_else(|| row.text("id"))?,
            client_id: row.text("client_id")?,
            scope: row.text("scope")?,
            resource: row.text("resource")?,
        })
    }
}

type Db<'e, 'a, S, U> = &'e Edge<'a, S, U>;

pub async fn client<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    client_id: &str,
) -> Result<Option<Client>, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT client_id, client_name, redirect_uris, source FROM agent_clients \
             WHERE client_id = ?1",
            &[client_id.into()],
        )
        .await?;
    Ok(rows.first().and_then(|r| {
        let uris: Vec<String> = serde_json::from_str(&r.text("redirect_uris")?).ok()?;
        Some(Client {
            client_id: r.text("client_id")?,
            client_name: r.text("client_name")?,
            redirect_uris: uris,
            source: if r.text("source")? == "cimd" {
                "cimd"
            } else {
                "dcr"
            },
        })
    }))
}

/// Stores a client (a CIMD client's row is replaced when its document changed).
pub async fn save_client<S: Store, U>(edge: Db<'_, '_, S, U>, c: &Client) -> Result<(), ApiError> {
    let uris = serde_json::to_string(&c.redirect_uris).unwrap_or_else(|_| "[]".into());
    edge.store
        .execute(
            "INSERT INTO agent_clients (client_id, client_name, redirect_uris, source, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (client_id) DO UPDATE SET \
             client_name = excluded.client_name, redirect_uris = excluded.redirect_uris",
            &[
                c.client_id.as_str().into(),
                c.client_name.as_str().into(),
                uris.into(),
                c.source.into(),
                edge.now.into(),
            ],
        )
        .await?;
    Ok(())
}

/// Dynamically registered clients nobody has approved, registered before `before`, are
/// forgotten; returns how many registered clients remain unapproved.
pub async fn prune_unapproved<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    before: u64,
) -> Result<u64, ApiError> {
    edge.store
        .execute(
            "DELETE FROM agent_clients WHERE approved_at IS NULL AND source = 'dcr' \
             AND created_at < ?1",
            &[before.into()],
        )
        .await?;
    let rows = edge
        .store
        .query(
            "SELECT COUNT(*) AS n FROM agent_clients WHERE approved_at IS NULL",
            &[],
        )
        .await?;
    Ok(rows.first().and_then(|r| r.int("n")).unwrap_or(0))
}

pub async fn request<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    id: &str,
) -> Result<Option<Request>, ApiError> {
    let rows = edge
        .store
        .query("SELECT * FROM agent_requests WHERE id = ?1", &[id.into()])
        .await?;
    Ok(rows.first().and_then(Request::from_row))
}

/// Stores a new pending request (an existing one with the same id is kept as it is).
pub async fn save_request<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    r: &Request,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "INSERT INTO agent_requests (id, client_id, redirect_uri, scope, code_challenge, \
             resource, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (id) DO NOTHING",
            &[
                r.id.as_str().into(),
                r.client_id.as_str().into(),
                r.redirect_uri.as_str().into(),
                r.scope.as_str().into(),
                r.code_challenge.as_str().into(),
                r.resource.as_str().into(),
                r.created_at.into(),
            ],
        )
        .await?;
    Ok(())
}

/// Decides a pending, unexpired request; `None` if there is none with this id. Approving
/// also marks the client approved and adds the request's scopes to it.
pub async fn decide<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    id: &str,
    approve: bool,
) -> Result<Option<Request>, ApiError> {
    let rows = edge
        .store
        .query(
            "UPDATE agent_requests SET status = ?2 WHERE id = ?1 AND status = 'pending' \
             AND created_at > ?3 RETURNING *",
            &[
                id.into(),
                if approve { "approved" } else { "denied" }.into(),
                edge.now.saturating_sub(PENDING_REQUEST_SECS).into(),
            ],
        )
        .await?;
    let Some(r) = rows.first().and_then(Request::from_row) else {
        return Ok(None);
    };
    if approve {
        let scope = client_scope(edge, &r.client_id).await?;
        let merged = patchbay_proto::oauth::scope_union(&scope, &r.scope);
        edge.store
            .execute(
                "UPDATE agent_clients SET approved_at = COALESCE(approved_at, ?2), scope = ?3 \
                 WHERE client_id = ?1",
                &[r.client_id.as_str().into(), edge.now.into(), merged.into()],
            )
            .await?;
    }
    Ok(Some(r))
}

async fn client_scope<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    client_id: &str,
) -> Result<String, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT scope FROM agent_clients WHERE client_id = ?1",
            &[client_id.into()],
        )
        .await?;
    Ok(rows
        .first()
        .and_then(|r| r.text("scope"))
        .unwrap_or_default())
}

/// Hands out the code of an approved request, once: `false` if it was not `approved` any
/// more (another tab got there first).
pub async fn issue_code<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    id: &str,
    code_key: &str,
    expires_at: u64,
) -> Result<bool, ApiError> {
    let rows = edge
        .store
        .query(
            "UPDATE agent_requests SET status = 'issued', code_key = ?2, code_expires_at = ?3 \
             WHERE id = ?1 AND status = 'approved' RETURNING id",
            &[id.into(), code_key.into(), expires_at.into()],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// What presenting a code found.
pub enum CodeClaim {
    /// Unused and unexpired: it is now used.
    Claimed(Request),
    /// Already exchanged: the grant it made (to revoke, RFC 6749 §4.1.2).
    Reused(Option<String>),
    /// Unknown or expired.
    Invalid,
}

pub async fn claim_code<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    code_key: &str,
) -> Result<CodeClaim, ApiError> {
    let rows = edge
        .store
        .query(
            "UPDATE agent_requests SET status = 'used' WHERE code_key = ?1 AND status = 'issued' \
             AND code_expires_at > ?2 RETURNING *",
            &[code_key.into(), edge.now.into()],
        )
        .await?;
    if let Some(r) = rows.first().and_then(Request::from_row) {
        return Ok(CodeClaim::Claimed(r));
    }
    let rows = edge
        .store
        .query(
            "SELECT * FROM agent_requests WHERE code_key = ?1 AND status = 'used'",
            &[code_key.into()],
        )
        .await?;
    Ok(match rows.first().and_then(Request::from_row) {
        Some(r) => CodeClaim::Reused(r.grant_id),
        None => CodeClaim::Invalid,
    })
}

pub async fn save_grant<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    grant: &Grant,
    request_id: &str,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "INSERT INTO agent_grants (id, client_id, scope, resource, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            &[
                grant.id.as_str().into(),
                grant.client_id.as_str().into(),
                grant.scope.as_str().into(),
                grant.resource.as_str().into(),
                edge.now.into(),
            ],
        )
        .await?;
    edge.store
        .execute(
            "UPDATE agent_requests SET grant_id = ?2 WHERE id = ?1",
            &[request_id.into(), grant.id.as_str().into()],
        )
        .await?;
    Ok(())
}

pub async fn save_token<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    token_key: &str,
    grant_id: &str,
    kind: &'static str,
    expires_at: u64,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "INSERT INTO agent_tokens (token_key, grant_id, kind, expires_at) \
             VALUES (?1, ?2, ?3, ?4)",
            &[
                token_key.into(),
                grant_id.into(),
                kind.into(),
                expires_at.into(),
            ],
        )
        .await?;
    Ok(())
}

/// What presenting a refresh token found.
pub enum RefreshClaim {
    /// Valid and unused: it is now used.
    Rotated(Grant),
    /// Used before: the grant it belongs to must die.
    Reused(String),
    Invalid,
}

pub async fn use_refresh_token<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    token_key: &str,
) -> Result<RefreshClaim, ApiError> {
    let rows = edge
        .store
        .query(
            "UPDATE agent_tokens SET used_at = ?2 WHERE token_key = ?1 AND kind = 'refresh' \
             AND used_at IS NULL AND expires_at > ?2 RETURNING grant_id",
            &[token_key.into(), edge.now.into()],
        )
        .await?;
    if let Some(grant_id) = rows.first().and_then(|r| r.text("grant_id")) {
        return Ok(match grant(edge, &grant_id).await? {
            Some(g) => RefreshClaim::Rotated(g),
            None => RefreshClaim::Invalid,
        });
    }
    let rows = edge
        .store
        .query(
            "SELECT grant_id FROM agent_tokens WHERE token_key = ?1 AND kind = 'refresh' \
             AND used_at IS NOT NULL",
            &[token_key.into()],
        )
        .await?;
    Ok(match rows.first().and_then(|r| r.text("grant_id")) {
        Some(g) => RefreshClaim::Reused(g),
        None => RefreshClaim::Invalid,
    })
}

async fn grant<S: Store, U>(edge: Db<'_, '_, S, U>, id: &str) -> Result<Option<Grant>, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT id, client_id, scope, resource FROM agent_grants WHERE id = ?1",
            &[id.into()],
        )
        .await?;
    Ok(rows.first().and_then(Grant::from_row))
}

/// The grant of a live token of `kind`, with its kind.
pub async fn token_grant<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    token_key: &str,
    kind: Option<&str>,
) -> Result<Option<(Grant, String)>, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT t.grant_id, t.kind, g.client_id, g.scope, g.resource FROM agent_tokens t \
             JOIN agent_grants g ON g.id = t.grant_id WHERE t.token_key = ?1 \
             AND t.expires_at > ?2 AND t.used_at IS NULL AND (?3 IS NULL OR t.kind = ?3)",
            &[
                token_key.into(),
                edge.now.into(),
                kind.map(str::to_owned).into(),
            ],
        )
        .await?;
    Ok(rows
        .first()
        .and_then(|r| Some((Grant::from_row(r)?, r.text("kind")?))))
}

pub async fn delete_token<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    token_key: &str,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "DELETE FROM agent_tokens WHERE token_key = ?1",
            &[token_key.into()],
        )
        .await?;
    Ok(())
}

/// Kills a grant: its tokens and sessions stop working at once.
pub async fn delete_grant<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    grant_id: &str,
) -> Result<(), ApiError> {
    for sql in [
        "DELETE FROM agent_tokens WHERE grant_id = ?1",
        "DELETE FROM mcp_sessions WHERE grant_id = ?1",
        "DELETE FROM agent_grants WHERE id = ?1",
    ] {
        edge.store.execute(sql, &[grant_id.into()]).await?;
    }
    Ok(())
}

/// Revokes a client: every grant, token, session and request of it, and the client itself.
/// `false` if there was no such client.
pub async fn delete_client<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    client_id: &str,
) -> Result<bool, ApiError> {
    let id: SqlValue = client_id.into();
    let existed = !edge
        .store
        .query(
            "DELETE FROM agent_clients WHERE client_id = ?1 RETURNING client_id",
            std::slice::from_ref(&id),
        )
        .await?
        .is_empty();
    for sql in [
        "DELETE FROM agent_tokens WHERE grant_id IN \
         (SELECT id FROM agent_grants WHERE client_id = ?1)",
        "DELETE FROM mcp_sessions WHERE grant_id IN \
         (SELECT id FROM agent_grants WHERE client_id = ?1)",
        "DELETE FROM agent_grants WHERE client_id = ?1",
        "DELETE FROM agent_requests WHERE client_id = ?1",
    ] {
        edge.store.execute(sql, std::slice::from_ref(&id)).await?;
    }
    Ok(existed)
}

pub async fn touch_client<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    client_id: &str,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "UPDATE agent_clients SET last_used_at = ?2 WHERE client_id = ?1",
            &[client_id.into(), edge.now.into()],
        )
        .await?;
    Ok(())
}

/// The Agents card: approved clients, and requests still waiting (newest first).
pub async fn overview<S: Store, U>(
    edge: Db<'_, '_, S, U>,
) -> Result<(Vec<AgentClient>, Vec<AgentRequest>), ApiError> {
    let clients = edge
        .store
        .query(
            "SELECT client_id, client_name, scope, approved_at, last_used_at FROM agent_clients \
             WHERE approved_at IS NOT NULL ORDER BY approved_at DESC",
            &[],
        )
        .await?
        .iter()
        .filter_map(|r| {
            Some(AgentClient {
                client_id: r.text("client_id")?,
                client_name: r.text("client_name")?,
                scopes: words(&r.text("scope").unwrap_or_default()),
                approved_at: r.int("approved_at")?,
                last_used_at: r.int("last_used_at"),
            })
        })
        .collect();
    let pending = edge
        .store
        .query(
            "SELECT r.id, r.client_id, c.client_name, r.redirect_uri, r.scope, r.created_at \
             FROM agent_requests r JOIN agent_clients c ON c.client_id = r.client_id \
             WHERE r.status = 'pending' AND r.created_at > ?1 ORDER BY r.created_at DESC",
            &[edge.now.saturating_sub(PENDING_REQUEST_SECS).into()],
        )
        .await?
        .iter()
        .filter_map(|r| {
            Some(AgentRequest {
                id: r.text("id")?,
                client_id: r.text("client_id")?,
                client_name: r.text("client_name")?,
                redirect_host: redirect_host(&r.text("redirect_uri")?),
                scopes: words(&r.text("scope")?),
                created_at: r.int("created_at")?,
            })
        })
        .collect();
    Ok((clients, pending))
}

fn words(s: &str) -> Vec<String> {
    s.split_ascii_whitespace().map(str::to_owned).collect()
}

pub async fn save_session<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    session_key: &str,
    grant_id: &str,
    version: &str,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "INSERT INTO mcp_sessions (session_key, grant_id, protocol_version, created_at) \
             VALUES (?1, ?2, ?3, ?4)",
            &[
                session_key.into(),
                grant_id.into(),
                version.into(),
                edge.now.into(),
            ],
        )
        .await?;
    Ok(())
}

/// The grant a session belongs to.
pub async fn session_grant<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    session_key: &str,
) -> Result<Option<String>, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT grant_id FROM mcp_sessions WHERE session_key = ?1",
            &[session_key.into()],
        )
        .await?;
    Ok(rows.first().and_then(|r| r.text("grant_id")))
}

pub async fn delete_session<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    session_key: &str,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "DELETE FROM mcp_sessions WHERE session_key = ?1",
            &[session_key.into()],
        )
        .await?;
    Ok(())
}

/// The helper's last pushed connector overview, and when it came.
pub async fn connections<S: Store, U>(
    edge: Db<'_, '_, S, U>,
) -> Result<Option<(Value, u64)>, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT overview, updated_at FROM workspace_connections WHERE id = 1",
            &[],
        )
        .await?;
    Ok(rows.first().and_then(|r| {
        Some((
            serde_json::from_str(&r.text("overview")?).ok()?,
            r.int("updated_at")?,
        ))
    }))
}

pub async fn save_connections<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    overview: &Value,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "INSERT INTO workspace_connections (id, overview, updated_at) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET overview = excluded.overview, \
             updated_at = excluded.updated_at",
            &[overview.to_string().into(), edge.now.into()],
        )
        .await?;
    Ok(())
}

/// A cached metadata document fetched after `fresh_after`.
pub async fn cached_document<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    url: &str,
    fresh_after: u64,
) -> Result<Option<String>, ApiError> {
    let rows = edge
        .store
        .query(
            "SELECT document FROM agent_metadata_cache WHERE url = ?1 AND fetched_at > ?2",
            &[url.into(), fresh_after.into()],
        )
        .await?;
    Ok(rows.first().and_then(|r| r.text("document")))
}

pub async fn cache_document<S: Store, U>(
    edge: Db<'_, '_, S, U>,
    url: &str,
    document: &str,
) -> Result<(), ApiError> {
    edge.store
        .execute(
            "INSERT INTO agent_metadata_cache (url, document, fetched_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (url) DO UPDATE SET document = excluded.document, \
             fetched_at = CASE WHEN agent_metadata_cache.document = excluded.document \
             THEN agent_metadata_cache.fetched_at ELSE excluded.fetched_at END",
            &[url.into(), document.into(), edge.now.into()],
        )
        .await?;
    Ok(())
}
