//! The one-shot listener on 127.0.0.1:53682 that catches the authorization server's redirect.
//!
//! It hands every `GET /callback` query to the login flow and answers with a fixed page that
//! reflects nothing from the request. The flow closes it as soon as it has an answer; it is
//! only ever bound while the caller holds the [`crate::engine::lease::LoopbackLease`].

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ApiError;
use crate::engine::lease::{LOOPBACK_PORT, LoopbackLease};

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>Patchbay</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>Patchbay received the sign-in</h1>\
<p>You can close this tab and go back to Patchbay.</p></body>";

/// The running listener. Dropping it (or [`CallbackListener::close`]) stops it.
pub struct CallbackListener {
    queries: mpsc::Receiver<String>,
    task: JoinHandle<()>,
}

impl CallbackListener {
    /// Binds 127.0.0.1:53682. The lease proves no other Patchbay flow is using the port.
    pub async fn bind(_lease: &LoopbackLease) -> Result<CallbackListener, ApiError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], LOOPBACK_PORT));
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            ApiError::conflict(format!(
                "Cannot listen on {addr} for the sign-in redirect ({e}). Another program is \
                 using the port; stop it and try again."
            ))
        })?;
        let (tx, queries) = mpsc::channel(8);
        let router = Router::new()
            .route("/callback", get(callback))
            .with_state(tx);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(CallbackListener { queries, task })
    }

    /// The next redirect's raw query string.
    pub async fn next(&mut self) -> Option<String> {
        self.queries.recv().await
    }

    /// Stops listening (the port is free when this returns).
    pub async fn close(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for CallbackListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn callback(State(tx): State<mpsc::Sender<String>>, RawQuery(q): RawQuery) -> Response {
    let _ = tx.send(q.unwrap_or_default()).await;
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}
