//! GitHub: a personal access token ([`pat`]) or the `gh` device flow ([`device`]); both end in
//! the same `github` entry of mcp-tokens.json ([`pat::STORED`]).

pub mod device;
pub mod pat;

use axum::Router;
use axum::routing::post;
use patchbay_proto::api::ConnectorId;

use super::token;
use crate::AppState;

pub use device::GithubState;

/// The PAT's four token routes and the device flow's `cli/start|poll|cancel`.
pub fn routes() -> Router<AppState> {
    token::routes(
        ConnectorId::Github,
        pat::save_token,
        pat::status,
        pat::disconnect,
        pat::reconnect,
    )
    .route("/api/connectors/github/cli/start", post(device::start))
    .route("/api/connectors/github/cli/poll", post(device::poll))
    .route("/api/connectors/github/cli/cancel", post(device::cancel))
}
