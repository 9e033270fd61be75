//! `GET /api/connectors`: one line per connector, read from the credential files.

use std::io;
use std::path::Path;

use axum::Json;
use axum::extract::State;
use patchbay_proto::api::{ConnectorId, ConnectorSummary, ConnectorsOverview};
use patchbay_proto::rclone;

use crate::{ApiError, AppState};

pub const RCLONE_CONF: &str = "rclone.conf";
pub const TOKENS_FILE: &str = "mcp-tokens.json";
/// Keys of mcp-tokens.json that belong to named connectors; every other key is an MCP server.
pub const NAMED_TOKEN_KEYS: [&str; 4] = ["github", "vercel", "vercel_client", "manus"];

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
    let tokens_path = data_dir.join(TOKENS_FILE);
    let tokens_text = read_optional(&tokens_path)?;
    let tokens: serde_json::Map<String, serde_json::Value> = if tokens_text.trim().is_empty() {
        Default::default()
    } else {
        serde_json::from_str(&tokens_text).map_err(|e| {
            ApiError::internal(format!(
                "{} is not a JSON object ({e}); fix it or move it aside, Patchbay will not \
                 overwrite it.",
                tokens_path.display()
            ))
        })?
    };

    let summary = |id: ConnectorId| {
        let (connected, detail) = match id {
            ConnectorId::Gdrive | ConnectorId::Onedrive => {
                let kind = if id == ConnectorId::Gdrive {
                    "drive"
                } else {
                    "onedrive"
                };
                let n = remotes.iter().filter(|r| r.kind == kind).count();
                (n > 0, (n > 0).then(|| plural(n, "remote")))
            }
            ConnectorId::Mcp => {
                let n = tokens
                    .keys()
                    .filter(|k| !NAMED_TOKEN_KEYS.contains(&k.as_str()))
                    .count();
                (n > 0, (n > 0).then(|| plural(n, "server")))
            }
            ConnectorId::Github | ConnectorId::Vercel | ConnectorId::Manus => {
                let present = tokens.get(id.as_str()).is_some_and(|v| !is_empty_value(v));
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
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(ApiError::internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn is_empty_value(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
