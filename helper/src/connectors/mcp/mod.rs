//! The MCP connector: an OAuth 2.1 client for remote MCP servers (`patchbay mcp …` and the
//! `/api/connectors/mcp/…` routes).
//!
//! - [`discovery`]: the probe, protected-resource and authorization-server metadata in the
//!   specification's order.
//! - [`login`]: the client identity (pre-registered, CIMD, DCR), PKCE + state + resource,
//!   the redirect ([`listener`] on 127.0.0.1:53682 under the shared lease, or
//!   `--callback-port`, or a paste), the code exchange; [`device`]: the RFC 8628 flow.
//! - [`tokens`]: fresh access tokens, refreshed once for all callers (in-process and
//!   across processes), and the step-up record.
//! - [`client`]: rmcp's Streamable HTTP client with our tokens and headers; [`proxy`]:
//!   stdio ⇄ remote, signing in again by itself.
//! - [`revoke`]: sign-out with RFC 7009 revocation.
//! - [`api`]: login sessions and the server list for the dashboard; [`cli`]: the terminal;
//!   [`client_config`]: other MCP clients' config files.
//! - [`store`]: the entries in `mcp-tokens.json` and `mcp-clients.json`; [`options`]: what
//!   is stored with each server.
//!
//! The sans-IO parts (parsing, URL building, checks, expiry) are in `patchbay_proto::oauth`
//! and `patchbay_proto::mcp`.

pub mod api;
pub mod cli;
pub mod client;
pub mod client_config;
pub mod device;
pub mod discovery;
pub mod listener;
pub mod login;
pub mod options;
pub mod proxy;
pub mod revoke;
pub mod store;
pub mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};
use patchbay_proto::mcp::{McpServer, McpSession, TokenState, server_id};
use patchbay_proto::oauth::{REFRESH_MARGIN_SECS, needs_refresh};
use tokio::sync::mpsc;

use crate::engine::session::{SessionStatus, SessionTable};
use crate::engine::store::{blocking, now_unix};
use crate::{ApiError, AppState};

/// How long a login session stays readable.
pub const SESSION_TTL: Duration = Duration::from_secs(600);

impl SessionStatus for McpSession {
    fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
    fn label(&self) -> &'static str {
        self.status.as_str()
    }
}

/// The MCP connector's state: its login sessions, and what the helper keeps beside them.
pub struct McpState {
    sessions: SessionTable<McpSession>,
    /// Where `submit` hands a pasted redirect to the session's flow.
    pastes: Arc<Mutex<HashMap<String, mpsc::Sender<String>>>>,
    inflight: tokens::Inflight,
}

impl Default for McpState {
    fn default() -> Self {
        Self {
            sessions: SessionTable::new("mcp", "MCP", SESSION_TTL),
            pastes: Arc::default(),
            inflight: tokens::Inflight::default(),
        }
    }
}

impl McpState {
    /// Cancels running logins and waits for them to release their listener.
    pub async fn shutdown(&self) {
        self.sessions.shutdown().await;
    }

    pub fn sessions(&self) -> &SessionTable<McpSession> {
        &self.sessions
    }

    /// The token manager for this helper's data folder.
    pub fn tokens(&self, state: &AppState) -> tokens::TokenManager {
        tokens::TokenManager::new(ctx_of(state), self.inflight.clone())
    }
}

fn ctx_of(state: &AppState) -> login::Ctx {
    login::Ctx::new(
        state.http().clone(),
        store::McpFiles::new(&state.config().data_dir),
    )
}

/// The MCP routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/connectors/mcp/servers",
            get(api::list).post(api::start),
        )
        .route("/api/connectors/mcp/servers/{id}", delete(api::remove))
        .route("/api/connectors/mcp/sessions/{id}", get(api::session))
        .route(
            "/api/connectors/mcp/sessions/{id}/submit",
            post(api::submit),
        )
        .route(
            "/api/connectors/mcp/sessions/{id}/cancel",
            post(api::cancel),
        )
}

/// The stored servers, as the API and `patchbay mcp list` show them (never a token).
pub async fn list_servers(ctx: &login::Ctx) -> Result<Vec<McpServer>, ApiError> {
    let store = ctx.files.tokens.clone();
    let entries = blocking(move || store.read()).await?;
    let now = now_unix();
    let mut servers: Vec<McpServer> = store::all_servers(&entries)
        .into_iter()
        .map(|(url, entry)| {
            let id = server_id(&url);
            match entry {
                Some(e) => McpServer {
                    id,
                    url,
                    issuer: Some(e.issuer.clone()),
                    scope: Some(e.scope.clone()).filter(|s| !s.is_empty()),
                    token_state: if e.needs_login {
                        TokenState::ReauthorizationRequired
                    } else if e.token.is_none() {
                        TokenState::Missing
                    } else if needs_refresh(e.expires_at, now, REFRESH_MARGIN_SECS) {
                        if e.refresh_token.is_some() {
                            TokenState::Expired
                        } else {
                            TokenState::ReauthorizationRequired
                        }
                    } else {
                        TokenState::Valid
                    },
                    expires_at: e.expires_at,
                    has_refresh_token: e.refresh_token.is_some(),
                },
                // An entry some other tool wrote: show it, but Patchbay cannot refresh it.
                None => McpServer {
                    id,
                    url,
                    issuer: None,
                    scope: None,
                    token_state: TokenState::Valid,
                    expires_at: None,
                    has_refresh_token: false,
                },
            }
        })
        .collect();
    servers.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(servers)
}
