//! The Patchbay helper: the native half of Patchbay.
//!
//! The browser cannot spawn `rclone` or `gh`, bind 127.0.0.1:53682 or write credential files;
//! this process does, behind a loopback-only API that needs the pairing token.
//!
//! [`app`] builds the whole HTTP surface as a value; `main` only binds and serves it, and the
//! tests call it with `tower::ServiceExt::oneshot`, no socket needed.

pub mod cli;
pub mod config;
pub mod connectors;
pub mod engine;
pub mod error;
pub mod logging;
pub mod openapi;
pub mod pairing;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use patchbay_proto::Secret;
use patchbay_proto::api::Health;

pub use config::Config;
use connectors::Connectors;
use engine::{security, store, upstream};
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
    loopback_http: reqwest::Client,
    tokens: store::JsonStore,
    connectors: Connectors,
}

impl AppState {
    pub fn new(config: Config, pairing_token: Secret) -> Self {
        sweep_stale_temp_files(&config);
        Self {
            inner: Arc::new(Inner {
                tokens: store::JsonStore::tokens(&config.data_dir),
                http: upstream::client(),
                loopback_http: upstream::loopback_client(),
                connectors: Connectors::new(&config),
                config,
                pairing_token,
            }),
        }
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

    /// For 127.0.0.1 listeners of our own children: never through a proxy, no redirects.
    pub fn loopback_http(&self) -> &reqwest::Client {
        &self.inner.loopback_http
    }

    /// `mcp-tokens.json` in the data folder.
    pub fn tokens(&self) -> &store::JsonStore {
        &self.inner.tokens
    }

    /// The state of the connectors that run flows (their sessions).
    pub fn connectors(&self) -> &Connectors {
        &self.inner.connectors
    }

    /// Stops every running flow and waits until their child processes and listeners are
    /// gone. `main` calls it after the server stops accepting requests.
    pub async fn shutdown(&self) {
        self.inner.connectors.shutdown().await;
    }
}

/// Temporary files of writers killed mid-write hold whole credentials: they go at start-up,
/// not at the next write of their file.
fn sweep_stale_temp_files(config: &Config) {
    let token_dir = config.github_token_file.parent();
    for dir in std::iter::once(config.data_dir.as_path()).chain(token_dir) {
        match store::sweep_stale_temp_files(dir) {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(dir = %dir.display(), removed = n, "stale temporary files removed")
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
}

/// The helper's whole HTTP surface: every connector's `routes()`, behind the front door.
///
/// Layers, outermost first: the refusals axum writes itself get the JSON error shape, the
/// Host/Origin guard (every request, static files included), CORS for allowed origins, the
/// body limit, then the pairing-token check on every `/api` route but `/api/health`.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .merge(connectors::overview::routes())
        .merge(connectors::rclone::routes())
        .merge(connectors::github::routes())
        .merge(connectors::vercel::routes())
        .merge(connectors::manus::routes())
        .merge(connectors::mcp::routes())
        .merge(connectors::agents::routes())
        .route("/api/{*rest}", any(api_not_found))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            connectors::agents::push_after_change,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::require_pairing_token,
        ));

    let mut router = Router::new()
        .route("/api/health", get(health))
        // It holds no secret: a client may read it before pairing.
        .route("/api/openapi.json", get(openapi_json))
        .merge(protected)
        .with_state(state.clone());

    if let Some(dir) = &state.config().dashboard_dir {
        router = router.fallback_service(security::dashboard_files(dir));
    }

    router
        .layer(axum::extract::DefaultBodyLimit::max(error::BODY_LIMIT))
        .layer(security::cors_layer(state.config()))
        .layer(axum::middleware::from_fn_with_state(
            state,
            security::guard_host_and_origin,
        ))
        .layer(axum::middleware::from_fn(error::json_refusals))
}

async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        ok: true,
        service: "patchbay-helper".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn openapi_json() -> axum::Json<&'static utoipa::openapi::OpenApi> {
    axum::Json(openapi::document())
}

async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "There is no API route {}. See the Connectors API for the routes Patchbay serves.",
        engine::text::quote_input(uri.path())
    ))
}
