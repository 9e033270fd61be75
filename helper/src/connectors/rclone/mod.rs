//! Google Drive and OneDrive through the real `rclone` binary.
//!
//! A sign-in runs `rclone authorize <backend>`, which does only the OAuth part: it starts its
//! listener on 127.0.0.1:53682, prints a local link that redirects to the provider, and prints
//! the token once the provider redirects back (the browser reaching the listener itself, or
//! the helper forwarding a pasted redirect). The helper then writes the `[name]` section into
//! rclone.conf itself, atomically and under a lock, so a cancelled, failed or killed flow never
//! leaves a half-written remote, and OneDrive needs no Microsoft Graph call from rclone.
//!
//! Client ids and secrets travel to rclone in its environment (`RCLONE_<BACKEND>_CLIENT_…`),
//! never in argv.

mod account;
mod api;
mod flow;
pub mod settings;

use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};
use patchbay_proto::api::{ConnectorId, RemoteSession};

use crate::AppState;
use crate::engine::session::{SessionStatus, SessionTable};

/// Which rclone backend a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gdrive,
    Onedrive,
}

impl Kind {
    pub fn connector(self) -> ConnectorId {
        match self {
            Kind::Gdrive => ConnectorId::Gdrive,
            Kind::Onedrive => ConnectorId::Onedrive,
        }
    }

    /// rclone's backend name, also the `type` in rclone.conf.
    pub fn backend(self) -> &'static str {
        match self {
            Kind::Gdrive => "drive",
            Kind::Onedrive => "onedrive",
        }
    }

    /// rclone's environment prefix for this backend's options.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Kind::Gdrive => "RCLONE_DRIVE_",
            Kind::Onedrive => "RCLONE_ONEDRIVE_",
        }
    }

    pub fn display(self) -> &'static str {
        self.connector().display_name()
    }
}

/// A session's public status plus what only the helper needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteFlow {
    pub public: RemoteSession,
    /// The `state` rclone put in its authorization request; a pasted redirect must match it.
    pub oauth_state: Option<String>,
}

impl SessionStatus for RemoteFlow {
    fn is_finished(&self) -> bool {
        self.public.status.is_finished()
    }
    fn label(&self) -> &'static str {
        self.public.status.as_str()
    }
}

/// The rclone connectors' state: the sign-in sessions of both backends.
pub struct RcloneState {
    gdrive: SessionTable<RemoteFlow>,
    onedrive: SessionTable<RemoteFlow>,
}

impl RcloneState {
    pub fn new(ttl: Duration) -> Self {
        Self {
            gdrive: SessionTable::new("gdrive", Kind::Gdrive.display(), ttl),
            onedrive: SessionTable::new("onedrive", Kind::Onedrive.display(), ttl),
        }
    }

    pub fn sessions(&self, kind: Kind) -> &SessionTable<RemoteFlow> {
        match kind {
            Kind::Gdrive => &self.gdrive,
            Kind::Onedrive => &self.onedrive,
        }
    }

    /// Cancels every sign-in and waits until their rclone processes are gone.
    pub async fn shutdown(&self) {
        tokio::join!(self.gdrive.shutdown(), self.onedrive.shutdown());
    }
}

/// The contract's routes for `gdrive` and `onedrive`.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for kind in [Kind::Gdrive, Kind::Onedrive] {
        let base = format!("/api/connectors/{}", kind.connector().as_str());
        router = router
            .route(
                &format!("{base}/remotes"),
                get(move |s| api::list_remotes(s, kind)).post(move |s, b| api::start(s, kind, b)),
            )
            .route(
                &format!("{base}/status"),
                get(move |s| api::status(s, kind)),
            )
            .route(
                &format!("{base}/remotes/{{name}}"),
                delete(move |s, p| api::delete_remote(s, kind, p)),
            )
            .route(
                &format!("{base}/sessions/{{id}}"),
                get(move |s, p, q| api::session(s, kind, p, q)),
            )
            .route(
                &format!("{base}/sessions/{{id}}/submit"),
                post(move |s, p, b| api::submit(s, kind, p, b)),
            )
            .route(
                &format!("{base}/sessions/{{id}}/cancel"),
                post(move |s, p| api::cancel(s, kind, p)),
            );
    }
    router
}
