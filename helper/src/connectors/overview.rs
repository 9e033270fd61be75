//! `GET /api/connectors`: one line per connector, read from the credential files.
//!
//! The dashboard asks for it on every load and reconnect, and other tools may poll it, so the
//! answer is kept as JSON bytes until one of the files it is read from changes
//! ([`FilesCache`]): a request then costs three `stat`s. Everything else it depends on (the
//! edge settings, the process environment) is fixed for the life of the process.

use std::path::Path;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use patchbay_proto::api::{ConnectorId, ConnectorSummary, ConnectorsOverview, SetupNeeded};
use patchbay_proto::rclone;

use crate::connectors::rclone::Kind;
use crate::connectors::rclone::settings::{ProviderSettings, SETTINGS_FILE};
use crate::engine::cached::FilesCache;
use crate::engine::store::{JsonStore, LockedFile, TOKENS_FILE, entry_token};
use crate::engine::text::plural;
use crate::{ApiError, AppState};

pub const RCLONE_CONF: &str = "rclone.conf";
/// Keys of mcp-tokens.json that belong to named connectors; every other key is an MCP server.
pub const NAMED_TOKEN_KEYS: [&str; 4] = ["github", "vercel", "vercel_client", "manus"];

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/connectors", get(overview))
}

/// The overview's JSON, kept until rclone.conf, mcp-tokens.json or connectors.json changes.
pub struct OverviewCache(FilesCache<Bytes>);

impl OverviewCache {
    pub fn new(data_dir: &Path) -> Self {
        let files = [RCLONE_CONF, TOKENS_FILE, SETTINGS_FILE];
        Self(FilesCache::new(
            files.iter().map(|f| data_dir.join(f)).collect(),
        ))
    }

    /// Whether an answer is kept (for tests).
    pub fn is_kept(&self) -> bool {
        self.0.is_kept()
    }
}

pub async fn overview(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    // A hit is a few `stat`s, cheaper than a hop to the blocking pool; a miss reads and
    // parses there, and pushes what changed to the edge (for its `list_connections`).
    let json = match state.connectors().overview.0.fresh() {
        Some(json) => json,
        None => tokio::task::spawn_blocking(move || {
            state.connectors().overview.0.get(|| {
                let overview = read_now(&state)?;
                crate::connectors::agents::push_overview(&state, &overview);
                serde_json::to_vec(&overview)
                    .map(Bytes::from)
                    .map_err(|_| ApiError::internal("the overview could not be written as JSON"))
            })
        })
        .await
        .map_err(|_| ApiError::internal("reading the credential files failed"))??,
    };
    Ok(([(CONTENT_TYPE, "application/json")], json))
}

/// The overview as the credential files say now.
pub async fn current(state: &AppState) -> Result<ConnectorsOverview, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || read_now(&state))
        .await
        .map_err(|_| ApiError::internal("reading the credential files failed"))?
}

fn read_now(state: &AppState) -> Result<ConnectorsOverview, ApiError> {
    let config = state.config();
    let has_edge = config.edge_url.is_some() && config.edge_token.is_some();
    let mut overview = read_overview(&config.data_dir)?;
    for c in &mut overview.connectors {
        c.setup = setup_needed(c.id, &config.data_dir, has_edge, |k| std::env::var(k).ok());
    }
    Ok(overview)
}

/// What `id` lacks before a sign-in can work: Drive and OneDrive need an OAuth client of the
/// person's own (the providers refuse rclone's shared ones), Vercel and Agents need the edge.
pub fn setup_needed(
    id: ConnectorId,
    data_dir: &Path,
    has_edge: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Option<SetupNeeded> {
    let (kind, message, provider) = match id {
        ConnectorId::Gdrive => (
            Kind::Gdrive,
            "Add your own Google OAuth client to connect Drive folders: Google no longer \
             accepts rclone's shared one.",
            "an OAuth client of type Desktop app in Google Cloud",
        ),
        ConnectorId::Onedrive => (
            Kind::Onedrive,
            "Add your own Microsoft app registration to connect OneDrive folders: many \
             Microsoft accounts refuse rclone's shared client.",
            "an app registration in Microsoft Entra (redirect URI http://localhost:53682/, \
             with a client secret)",
        ),
        ConnectorId::Vercel if !has_edge => {
            return Some(edge_needed(
                "Tell this helper where your Patchbay edge is to sign in to Vercel: the edge \
                 holds Vercel's OAuth client and its callback.",
            ));
        }
        ConnectorId::Agents if !has_edge => {
            return Some(edge_needed(
                "Tell this helper where your Patchbay edge is to let hosted agents in: the edge \
                 is their authorization server and keeps their requests.",
            ));
        }
        _ => return None,
    };
    let settings = ProviderSettings::load(kind, data_dir, &env);
    if settings.effective_client(kind, &env).0.is_some() {
        return None;
    }
    let prefix = match kind {
        Kind::Gdrive => "PATCHBAY_GDRIVE",
        Kind::Onedrive => "PATCHBAY_ONEDRIVE",
    };
    Some(SetupNeeded {
        message: message.into(),
        settings: vec![
            format!("{prefix}_CLIENT_ID"),
            format!("{prefix}_CLIENT_SECRET"),
        ],
        how: format!(
            "Create {provider}, then set these in the environment of patchbay serve and \
             restart it, or put client_id and client_secret under \"{}\" in connectors.json \
             in its data folder (read at each sign-in).",
            id.as_str()
        ),
        docs: "your-own-google-or-microsoft-client".into(),
    })
}

/// The edge's two settings, for a connector that works only through the edge.
fn edge_needed(message: &str) -> SetupNeeded {
    SetupNeeded {
        message: message.into(),
        settings: vec!["PATCHBAY_EDGE_URL".into(), "PATCHBAY_EDGE_TOKEN".into()],
        how: "Set both in the environment of patchbay serve (the edge's address and its \
              PATCHBAY_EDGE_TOKEN secret) and restart it. cargo xtask dev does this for a local \
              edge."
            .into(),
        docs: "deploying-the-edge-to-cloudflare".into(),
    }
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
            // Its clients live on the edge: the card reads them there, the overview reads
            // only files.
            ConnectorId::Agents => (false, None),
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
