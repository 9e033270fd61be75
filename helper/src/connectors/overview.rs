//! `GET /api/connectors`: one line per connector, read from the credential files.

use std::path::Path;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use patchbay_proto::api::{ConnectorId, ConnectorSummary, ConnectorsOverview};
use patchbay_proto::rclone;

use crate::engine::store::{JsonStore, LockedFile, entry_token};
use crate::engine::text::plural;
use crate::{ApiError, AppState};

pub const RCLONE_CONF: &str = "rclone.conf";
/// Keys of mcp-tokens.json that belong to named connectors; every other key is an MCP server.
pub const NAMED_TOKEN_KEYS: [&str; 4] = ["github", "vercel", "vercel_client", "manus"];

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/connectors", get(overview))
}

pub async fn overview(State(state): State<AppState>) -> Result<Json<ConnectorsOverview>, ApiError> {
    let data_dir = state.config().data_dir.clone();
    let overview = tokio::task::spawn_blocking(move || read_overview(&data_dir))
        .await
        .map_err(|_| ApiError::internal("reading the credential files failed"))??;
    Ok(Json(overview))
}

/// The overview as the files on disk say it is now.
pub fn read_overview(data_dir: &Path) -> Result<ConnectorsOverview, ApiError> {
    let conf = read_optional(&data_dir.join(RCLONE_CONF))?;
    let remotes = rclone::parse_remotes(&conf);
    let tokens = JsonStore::tokens(data_dir).read()?;

    let summary = |id: ConnectorId| {
        let (connected, detail) = match id {
            ConnectorId::Gdrive | ConnectorId::Onedrive => {
                let kind = if id == ConnectorId::Gdrive {
                    "drive"
                } else {
                    "onedrive"
                };
                let n = remotes.iter().filter(|r| r.kind == kind).count();
                (n > 0, (n > 0).then(|| plural(n as u64, "remote")))
            }
            ConnectorId::Mcp => {
                let n = tokens
                    .keys()
                    .filter(|k| !NAMED_TOKEN_KEYS.contains(&k.as_str()))
                    .count();
                (n > 0, (n > 0).then(|| plural(n as u64, "server")))
            }
            ConnectorId::Github | ConnectorId::Vercel | ConnectorId::Manus => {
                let present = tokens.get(id.as_str()).and_then(entry_token).is_some();
                (present, None)
            }
        };
        ConnectorSummary::new(id, connected, detail)
    };
    Ok(ConnectorsOverview {
        connectors: ConnectorId::ALL.into_iter().map(summary).collect(),
    })
}

fn read_optional(path: &Path) -> Result<String, ApiError> {
    let file = LockedFile::at(path.to_owned());
    let bytes = file.read()?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
