//! The MCP connector: an OAuth 2.1 client for remote MCP servers (`patchbay mcp …` and the
//! `/api/connectors/mcp/…` routes).

use axum::Router;

use crate::AppState;

/// Everything the MCP connector keeps while the helper runs (its login sessions, …).
#[derive(Default)]
pub struct McpState {}

impl McpState {
    /// Cancels running logins and waits for them to release their listener.
    pub async fn shutdown(&self) {}
}

/// The MCP routes, merged into the protected API router by [`crate::app`].
pub fn routes() -> Router<AppState> {
    Router::new()
}
