//! The Patchbay helper: the native half of Patchbay.
//!
//! The browser cannot spawn `rclone` or `gh`, bind 127.0.0.1:53682 or write credential files;
//! this process does, behind a loopback-only API that needs the pairing token.
//!
//! [`app`] builds the whole HTTP surface as a value; `main` only binds and serves it, and the
//! tests call it with `tower::ServiceExt::oneshot`, no socket needed.

pub mod config;
pub mod connectors;
pub mod engine;
pub mod error;
pub mod pairing;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use patchbay_proto::Secret;
use patchbay_proto::api::Health;

use connectors::github::{device as github_cli, pat as github};
use connectors::{manus, mcp, rclone, vercel};
use engine::{security, store, upstream};

pub use config::Config;
pub use error::ApiError;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    pairing_token: Secret,
    http: reqwest::Client,
    tokens: store::JsonStore,
    mcp: mcp::McpState,
    rclone: rclone::RcloneState,
    gh: github_cli::GhState,
    loopback_http: reqwest::Client,
}

impl AppState {
    /// Builds the state; inside a Tokio runtime it also starts the session reapers.
    pub fn new(config: Config, pairing_token: Secret) -> Self {
        let state = Self {
            inner: Arc::new(Inner {
                tokens: store::JsonStore::tokens(&config.data_dir),
                http: upstream::client(),
                mcp: mcp::McpState::default(),
                rclone: rclone::RcloneState::new(config.session_ttl),
                gh: github_cli::GhState::default(),
                loopback_http: upstream::loopback_client(),
                config,
                pairing_token,
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            state.inner.rclone.spawn_reapers();
            state.inner.gh.spawn_reaper();
        }
        state
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn pairing_token(&self) -> &Secret {
        &self.inner.pairing_token
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// `mcp-tokens.json` in the data folder.
    pub fn tokens(&self) -> &store::JsonStore {
        &self.inner.tokens
    }

    pub fn mcp(&self) -> &mcp::McpState {
        &self.inner.mcp
    }

    pub fn rclone(&self) -> &rclone::RcloneState {
        &self.inner.rclone
    }

    pub fn gh(&self) -> &github_cli::GhState {
        &self.inner.gh
    }

    /// For 127.0.0.1 listeners of our own children: never through a proxy, no redirects.
    pub fn loopback_http(&self) -> &reqwest::Client {
        &self.inner.loopback_http
    }

    /// Stops every running flow and waits until their child processes and listeners are
    /// gone. `main` calls it after the server stops accepting requests.
    pub async fn shutdown(&self) {
        tokio::join!(
            self.inner.mcp.shutdown(),
            self.inner.rclone.shutdown(),
            self.inner.gh.shutdown()
        );
    }
}

/// The helper's whole HTTP surface.
///
/// Layers, outermost first: Host/Origin guard (every request, static files included), CORS
/// for allowed origins, then the pairing-token check on every `/api` route but `/api/health`.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/connectors", get(connectors::overview::overview))
        .route("/api/connectors/github/token", post(github::save_token))
        .route("/api/connectors/github/status", get(github::status))
        .route(
            "/api/connectors/github/disconnect",
            post(github::disconnect),
        )
        .route("/api/connectors/github/reconnect", post(github::reconnect))
        .route("/api/connectors/github/cli/start", post(github_cli::start))
        .route("/api/connectors/github/cli/poll", post(github_cli::poll))
        .route(
            "/api/connectors/github/cli/cancel",
            post(github_cli::cancel),
        )
        .route("/api/connectors/vercel/token", post(vercel::token))
        .route("/api/connectors/vercel/status", get(vercel::status))
        .route(
            "/api/connectors/vercel/disconnect",
            post(vercel::disconnect),
        )
        .route("/api/connectors/vercel/reconnect", post(vercel::reconnect))
        .route(
            "/api/connectors/vercel/oauth/start",
            get(vercel::oauth_start),
        )
        .route(
            "/api/connectors/vercel/oauth/exchange",
            post(vercel::oauth_exchange),
        )
        .route("/api/connectors/manus/token", post(manus::save_token))
        .route("/api/connectors/manus/status", get(manus::status))
        .route("/api/connectors/manus/disconnect", post(manus::disconnect))
        .route("/api/connectors/manus/reconnect", post(manus::reconnect))
        .merge(rclone::routes())
        .merge(mcp::routes())
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::require_pairing_token,
        ));

    let mut router = Router::new()
        .route("/api/health", get(health))
        .merge(protected)
        .with_state(state.clone());

    if let Some(dir) = &state.config().dashboard_dir {
        router = router.fallback_service(security::dashboard_files(dir));
    }

    router
        .layer(security::cors_layer(state.config()))
        .layer(axum::middleware::from_fn_with_state(
            state,
            security::guard_host_and_origin,
        ))
}

async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        ok: true,
        service: "patchbay-helper".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "There is no API route {}. See the Connectors API for the routes Patchbay serves.",
        uri.path()
    ))
}
