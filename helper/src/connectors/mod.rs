//! One module per connector, all of the same shape:
//! - `routes() -> Router<AppState>`: every route of the connector, merged by [`crate::app`];
//! - its state, if it runs flows: a field of [`Connectors`] holding its session tables (which
//!   reap themselves), with a `shutdown()` that [`Connectors::shutdown`] awaits;
//! - only what differs: how it validates, what it stores, how its flow runs.
//!
//! Vercel and Agents live on the edge and are forwarded to it through `engine::edge`.
//!
//! The token connectors (GitHub's personal access token, Manus, Vercel through the edge) share
//! their four routes and their stored entry through [`token`].

pub mod agents;
pub mod github;
pub mod manus;
pub mod mcp;
pub mod overview;
pub mod rclone;
pub mod token;
pub mod vercel;

use crate::Config;

/// The state of every connector that runs flows (Manus and Vercel keep none: their
/// credentials live in the store and on the edge), and the overview's cache.
pub struct Connectors {
    pub agents: agents::AgentsState,
    pub rclone: rclone::RcloneState,
    pub github: github::GithubState,
    pub mcp: mcp::McpState,
    pub overview: overview::OverviewCache,
}

impl Connectors {
    pub fn new(config: &Config) -> Self {
        Self {
            agents: agents::AgentsState::default(),
            rclone: rclone::RcloneState::new(config.session_ttl),
            github: github::GithubState::default(),
            mcp: mcp::McpState::default(),
            overview: overview::OverviewCache::new(&config.data_dir),
        }
    }

    /// Cancels every flow of every connector and waits until their child processes and
    /// listeners are gone.
    pub async fn shutdown(&self) {
        tokio::join!(
            self.rclone.shutdown(),
            self.github.shutdown(),
            self.mcp.shutdown()
        );
    }
}
