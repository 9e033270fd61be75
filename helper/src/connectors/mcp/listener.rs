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
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use patchbay_proto::Secret;
use patchbay_proto::mcp::check_state;
use patchbay_proto::page::{RESULT_PAGE_HEADERS, result_page, result_page_csp};
use patchbay_proto::redirect::AuthorizationResponse;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ApiError;

/// The pages (`proto::page::result_page`): what happened, then what to do next. The flow
/// still has to exchange the code, so the received page says where the outcome shows.
const RECEIVED: (&str, &str) = (
    "Approval received",
    "Patchbay has your approval and is finishing the sign-in. Close this tab and go back to \
     where you started it: the terminal running patchbay mcp login, or the Patchbay \
     dashboard, which says when the server is signed in.",
);

const NOT_THIS: (&str, &str) = (
    "Not a sign-in Patchbay is waiting for",
    "This address only takes the redirect of the sign-in that is running now. If you \
     approved an older attempt, start the sign-in again and use its newest link.",
);

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

fn page(status: StatusCode, (title, next): (&'static str, &'static str)) -> Response {
    let mut response = (status, result_page(title, next)).into_response();
    let headers = response.headers_mut();
    for (name, value) in RESULT_PAGE_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(csp) = HeaderValue::from_str(&result_page_csp()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn its_pages_say_patchbay_and_what_to_do_and_reflect_nothing() {
        let port = patchbay_testkit::process::free_port();
        let mut listener = CallbackListener::bind(port, Secret::new("the-state"))
            .await
            .unwrap();
        let get = |q: &'static str| async move {
            let r = reqwest::get(format!("http://127.0.0.1:{port}{q}"))
                .await
                .unwrap();
            let csp = r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned();
            (r.status().as_u16(), csp, r.text().await.unwrap())
        };

        let (status, csp, html) = get("/callback?state=%3Cscript%3Estale&code=c0de").await;
        assert_eq!(status, 400);
        assert!(html.contains("Patchbay</p><h1>Not a sign-in Patchbay is waiting for"));
        assert!(html.contains("start the sign-in again"), "{html}");
        assert!(!html.contains("script") && !html.contains("c0de"), "{html}");
        assert_eq!(csp, result_page_csp());

        let (status, _, html) = get("/callback?state=the-state&code=c0de").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Patchbay</p><h1>Approval received</h1>"),
            "{html}"
        );
        assert!(html.contains("go back to where you started it"), "{html}");
        assert!(
            !html.contains("c0de") && !html.contains("the-state"),
            "{html}"
        );
        assert_eq!(listener.next().await.unwrap(), "state=the-state&code=c0de");
        listener.close().await;
    }
}
