//! Fresh access tokens: refresh before expiry (with a margin) and after a 401, once for all
//! callers.
//!
//! Refresh tokens rotate, so two refreshes with the same refresh token would leave one
//! caller with a dead grant. Refreshes are therefore single-flight twice over: an async
//! mutex per server in this process, then an exclusive `flock` on `.mcp-refresh.lock` in the
//! data folder across processes (`patchbay serve`, `patchbay mcp proxy`, …). Inside both,
//! the entry is read again, and the refresh happens only if the stored access token is
//! still the one the caller found stale; otherwise someone else refreshed and that token is
//! used. The lock is a separate file so the credential store's own lock is held only for
//! the short write, never across a network call.
//!
//! A failed refresh keeps the credentials unless the server said `invalid_grant` (the entry
//! is marked `needs_login`: sign in again, which reuses the client id) or `invalid_client`
//! (the registration is forgotten as well). A process that can sign in again by itself (the
//! headless proxy) installs a [`Relogin`]: callers that find the grant dead then wait for
//! that one sign-in instead of failing.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use patchbay_proto::Secret;
use patchbay_proto::mcp::{refresh_form, step_up_scope};
use patchbay_proto::oauth::{
    ClientAuth, REFRESH_MARGIN_SECS, TokenFailure, TokenResponse, classify_token_error,
    missing_scopes, needs_refresh,
};

use super::login::{self, Ctx};
use super::store::{ServerEntry, client_of};
use crate::ApiError;
use crate::engine::fsutil;
use crate::engine::store::{blocking, now_unix};

const REFRESH_LOCK: &str = ".mcp-refresh.lock";

/// Per-server async locks of one process (kept in `McpState`, or made by the CLI).
#[derive(Default, Clone)]
pub struct Inflight {
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Inflight {
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_owned()).or_default().clone()
    }
}

/// Why no token can be had.
#[derive(Debug, Clone)]
pub enum TokenError {
    /// No entry for this server: `patchbay mcp login <url>` first.
    NotLoggedIn(String),
    /// The grant is dead: sign in again.
    NeedsLogin(String),
    /// The server wants more scope (403 `insufficient_scope`): sign in again for it.
    InsufficientScope(String),
    /// Anything else (network, outage, files); the credentials are kept.
    Other(ApiError),
}

impl TokenError {
    pub fn message(&self) -> String {
        match self {
            TokenError::NotLoggedIn(m)
            | TokenError::NeedsLogin(m)
            | TokenError::InsufficientScope(m) => m.clone(),
            TokenError::Other(e) => e.message.clone(),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NotLoggedIn(m) => ApiError::not_found(m),
            TokenError::NeedsLogin(m) => ApiError::unauthorized(m),
            TokenError::InsufficientScope(m) => ApiError::forbidden(m),
            TokenError::Other(e) => e,
        }
    }
}

fn not_logged_in(url: &str) -> TokenError {
    TokenError::NotLoggedIn(format!(
        "Patchbay has no sign-in for {url}. Run `patchbay mcp login {url}` (or connect it \
         from the dashboard) first."
    ))
}

fn needs_login(url: &str, why: &str) -> TokenError {
    TokenError::NeedsLogin(format!(
        "The sign-in for {url} {why}. Run `patchbay mcp login {url}` to sign in again (the \
         registration is kept)."
    ))
}

/// Signs in again when the grant is dead, for processes that can (the headless proxy).
pub trait Relogin: Send + Sync {
    /// Runs (or waits for) one new sign-in to `url`; afterwards the caller reads the store.
    fn relogin<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<(), TokenError>>;
}

/// Hands out access tokens for one data folder.
#[derive(Clone)]
pub struct TokenManager {
    ctx: Ctx,
    inflight: Inflight,
    relogin: Option<Arc<dyn Relogin>>,
}

impl TokenManager {
    pub fn new(ctx: Ctx, inflight: Inflight) -> Self {
        Self {
            ctx,
            inflight,
            relogin: None,
        }
    }

    /// A manager that signs in again through `relogin` instead of failing on a dead grant.
    pub fn with_relogin(mut self, relogin: Arc<dyn Relogin>) -> Self {
        self.relogin = Some(relogin);
        self
    }

    /// The server's stored entry, if Patchbay has one.
    pub async fn entry(&self, url: &str) -> Result<Option<ServerEntry>, ApiError> {
        let store = self.ctx.files.tokens.clone();
        let entries = blocking(move || store.read()).await?;
        Ok(ServerEntry::find(&entries, url))
    }

    /// Notes a 403 `insufficient_scope`: the next sign-in asks for the union of what was
    /// asked and granted and what the server now wants. Returns the error to report, which
    /// names the missing scope.
    pub async fn record_step_up(&self, url: &str, challenged: Option<&str>) -> TokenError {
        let store = self.ctx.files.tokens.clone();
        let key = url.to_owned();
        let challenged = challenged.unwrap_or("").to_owned();
        let result = blocking(move || {
            store.update(|e| {
                let mut entry = ServerEntry::find(e, &key)?;
                let missing = missing_scopes(&entry.scope, &challenged);
                entry.requested_scope =
                    step_up_scope(&entry.requested_scope, &entry.scope, &challenged);
                e.insert(key, entry.to_value());
                Some(missing)
            })
        })
        .await;
        let missing = match result {
            Ok(Some(m)) if !m.is_empty() => m.join(" "),
            _ => "more".to_owned(),
        };
        TokenError::InsufficientScope(format!(
            "The MCP server at {url} needs the scope {missing}, which this sign-in does not \
             have. Run `patchbay mcp login {url}` to sign in again and grant it (Patchbay \
             asks for it together with what you granted before)."
        ))
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    async fn read(&self, url: &str) -> Result<ServerEntry, TokenError> {
        let store = self.ctx.files.tokens.clone();
        let entries = blocking(move || store.read())
            .await
            .map_err(TokenError::Other)?;
        ServerEntry::find(&entries, url).ok_or_else(|| not_logged_in(url))
    }

    /// A token that is good for at least the margin.
    pub async fn access_token(&self, url: &str) -> Result<Secret, TokenError> {
        self.or_relogin(url, self.get(url, None).await).await
    }

    /// A token other than `rejected`, which the server just refused with 401.
    pub async fn after_rejection(
        &self,
        url: &str,
        rejected: &Secret,
    ) -> Result<Secret, TokenError> {
        self.or_relogin(url, self.get(url, Some(rejected)).await)
            .await
    }

    /// On a dead grant, signs in again (when this process can) and hands out the new token.
    async fn or_relogin(
        &self,
        url: &str,
        got: Result<Secret, TokenError>,
    ) -> Result<Secret, TokenError> {
        match (got, &self.relogin) {
            (Err(TokenError::NeedsLogin(_)), Some(relogin)) => {
                relogin.relogin(url).await?;
                self.get(url, None).await
            }
            (got, _) => got,
        }
    }

    async fn get(&self, url: &str, rejected: Option<&Secret>) -> Result<Secret, TokenError> {
        let entry = self.read(url).await?;
        if entry.needs_login {
            return Err(needs_login(url, "was refused by the authorization server"));
        }
        let seen = rejected.cloned().or_else(|| entry.token.clone());
        if rejected.is_none()
            && let Some(t) = &entry.token
            && !needs_refresh(entry.expires_at, now_unix(), REFRESH_MARGIN_SECS)
        {
            return Ok(t.clone());
        }

        let lock = self
            .inflight
            .lock_for(&format!("{}\n{url}", self.ctx.files.data_dir.display()));
        let _in_process = lock.lock().await;
        let _across_processes = self.file_lock().await.map_err(TokenError::Other)?;
        let entry = self.read(url).await?;
        if entry.needs_login {
            return Err(needs_login(url, "was refused by the authorization server"));
        }
        if let Some(t) = &entry.token
            && entry.token != seen
        {
            // Someone refreshed (or signed in) while we waited.
            return Ok(t.clone());
        }
        self.refresh(entry).await
    }

    async fn file_lock(&self) -> Result<File, ApiError> {
        let dir = self.ctx.files.data_dir.clone();
        blocking(move || {
            let path = dir.join(REFRESH_LOCK);
            let io = |source| crate::engine::store::StoreError::Io {
                action: "lock",
                path: path.clone(),
                source,
            };
            fsutil::ensure_private_dir(&dir).map_err(io)?;
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            f.lock().map_err(io)?;
            Ok(f)
        })
        .await
    }

    /// Spends the refresh token. Called with both locks held.
    async fn refresh(&self, entry: ServerEntry) -> Result<Secret, TokenError> {
        let url = entry.url.clone();
        let Some(refresh_token) = entry.refresh_token.clone() else {
            return Err(needs_login(&url, "has expired and has no refresh token"));
        };
        let clients = self.ctx.files.clients.clone();
        let record = blocking(move || clients.read())
            .await
            .map_err(TokenError::Other)?;
        let record = client_of(&record, &entry.issuer).filter(|r| r.client_id == entry.client_id);
        let client = ClientAuth {
            client_id: &entry.client_id,
            client_secret: record.as_ref().and_then(|r| r.client_secret.as_ref()),
        };
        let form = refresh_form(
            client,
            &refresh_token,
            entry.options.resource(&entry.resource),
        );
        let response = login::token_request(&self.ctx, &entry.token_endpoint, form)
            .send()
            .await
            .map_err(|e| {
                TokenError::Other(ApiError::upstream(format!(
                    "Cannot reach the token endpoint {} to refresh the sign-in for {url} \
                         ({}). The stored credentials were kept; try again.",
                    entry.token_endpoint,
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    }
                )))
            })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(match classify_token_error(status.as_u16(), &body) {
                TokenFailure::InvalidGrant => {
                    self.mark_needs_login(&entry).await?;
                    tracing::info!(server = %url, "refresh token refused; sign-in needed");
                    needs_login(&url, "has expired or was revoked")
                }
                TokenFailure::InvalidClient => {
                    self.mark_needs_login(&entry).await?;
                    super::login::forget_client(&self.ctx, &entry.issuer)
                        .await
                        .map_err(TokenError::Other)?;
                    needs_login(&url, "belongs to a client id the server no longer knows")
                }
                TokenFailure::Transient(why) => TokenError::Other(ApiError::upstream(format!(
                    "Refreshing the sign-in for {url} failed ({why}). The stored \
                         credentials were kept; try again in a moment."
                ))),
            });
        }
        let tokens: TokenResponse = response.json().await.map_err(|_| {
            TokenError::Other(ApiError::upstream(format!(
                "The token endpoint {} answered a refresh with something that is not a \
                     token response. The stored credentials were kept.",
                entry.token_endpoint
            )))
        })?;
        let access = tokens.access_token.clone();
        let mut fresh = entry.clone();
        fresh.expires_at = tokens.expires_at(now_unix());
        fresh.token = Some(tokens.access_token);
        // A server that does not rotate omits the refresh token: keep ours.
        if let Some(rt) = tokens.refresh_token {
            fresh.refresh_token = Some(rt);
        }
        if let Some(scope) = tokens.scope {
            fresh.scope = scope;
        }
        let store = self.ctx.files.tokens.clone();
        let old_token = entry.token.clone();
        let value = fresh.to_value();
        let key = url.clone();
        blocking(move || {
            store.update(|e| {
                // A sign-in that finished meanwhile wins over our refresh.
                let current = ServerEntry::find(e, &key);
                if current.is_some_and(|c| c.token == old_token) {
                    e.insert(key, value);
                }
            })
        })
        .await
        .map_err(TokenError::Other)?;
        tracing::debug!(server = %url, "access token refreshed");
        Ok(access)
    }

    async fn mark_needs_login(&self, entry: &ServerEntry) -> Result<(), TokenError> {
        let store = self.ctx.files.tokens.clone();
        let key = entry.url.clone();
        let old_token = entry.token.clone();
        blocking(move || {
            store.update(|e| {
                if let Some(mut current) = ServerEntry::find(e, &key)
                    && current.token == old_token
                {
                    current.needs_login = true;
                    current.token = None;
                    current.refresh_token = None;
                    e.insert(key, current.to_value());
                }
            })
        })
        .await
        .map_err(TokenError::Other)
    }
}
