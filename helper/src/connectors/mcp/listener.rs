//! The listener on 127.0.0.1 (port 53682 unless `--callback-port` says otherwise) that
//! catches the authorization server's redirect.
//!
//! Only `GET /callback` with this sign-in's `state` reaches the flow; anything else — a
//! favicon, a scanner, an old or forged redirect — gets a 400 page and the sign-in keeps
//! waiting. Every page is fixed text that reflects nothing from the request. The flow closes
//! the listener as soon as it has an answer; on port 53682 it is only ever bound while the
//! caller holds the [`crate::engine::lease::LoopbackLease`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use patchbay_proto::Secret;
use patchbay_proto::mcp::check_state;
use patchbay_proto::redirect::AuthorizationResponse;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ApiError;

const RECEIVED: &str = "<!doctype html><meta charset=utf-8><title>Patchbay</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>Patchbay received the sign-in</h1>\
<p>You can close this tab and go back to Patchbay.</p></body>";

const NOT_THIS: &str = "<!doctype html><meta charset=utf-8><title>Patchbay</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>Not a sign-in Patchbay is waiting for</h1>\
<p>This address only takes the redirect of the sign-in that is running now. If you approved \
an older attempt, start the sign-in again and use its newest link.</p></body>";

/// The running listener. Dropping it (or [`CallbackListener::close`]) stops it.
pub struct CallbackListener {
    queries: mpsc::Receiver<String>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    tx: mpsc::Sender<String>,
    state: Arc<Secret>,
}

impl CallbackListener {
    /// Binds 127.0.0.1:`port` for the redirect that carries `state`.
    pub async fn bind(port: u16, state: Secret) -> Result<CallbackListener, ApiError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            ApiError::conflict(format!(
                "Cannot listen on {addr} for the sign-in redirect ({e}). Another program is \
                 using the port; stop it and try again."
            ))
        })?;
        let (tx, queries) = mpsc::channel(8);
        let shared = Shared {
            tx,
            state: Arc::new(state),
        };
        let router = Router::new().fallback(callback).with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(CallbackListener { queries, task })
    }

    /// The raw query string of the next redirect that carries this sign-in's state.
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

fn page(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ],
        body,
    )
        .into_response()
}

async fn callback(State(s): State<Shared>, uri: Uri, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let state = form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned());
    let response = AuthorizationResponse {
        code: String::new(),
        state,
        iss: None,
    };
    if uri.path() != "/callback" || check_state(&response, s.state.expose()).is_err() {
        tracing::debug!("a request to the sign-in listener that is not this sign-in's redirect");
        return page(StatusCode::BAD_REQUEST, NOT_THIS);
    }
    let _ = s.tx.send(q).await;
    page(StatusCode::OK, RECEIVED)
}
