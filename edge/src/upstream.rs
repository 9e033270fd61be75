//! The edge's seam to outside HTTP services: `worker::Fetch` in the Worker, the fake Vercel
//! (called in-process) in native tests.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

/// One outgoing request. `Debug` shows method and URL only: headers and bodies carry tokens.
pub struct UpstreamRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for UpstreamRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

impl UpstreamRequest {
    pub fn get(url: String) -> Self {
        Self {
            method: "GET",
            url,
            headers: vec![("accept", "application/json".into())],
            body: None,
        }
    }

    pub fn post_form(url: String, form: String) -> Self {
        Self::post(url, "application/x-www-form-urlencoded", form.into_bytes())
    }

    pub fn post_json(url: String, json: Vec<u8>) -> Self {
        Self::post(url, "application/json", json)
    }

    fn post(url: String, content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            method: "POST",
            url,
            headers: vec![
                ("accept", "application/json".into()),
                ("content-type", content_type.into()),
            ],
            body: Some(body),
        }
    }

    pub fn bearer(mut self, token: &str) -> Self {
        self.headers
            .push(("authorization", format!("Bearer {token}")));
        self
    }
}

#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The request never got an answer (DNS, connection, TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError(pub String);

/// Outgoing HTTP. The Worker is single-threaded, so futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Upstream {
    async fn send(&self, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError>;

    /// Resolves after `ms` milliseconds: the clock that [`send_within`] races a request with.
    async fn delay(&self, ms: u32);
}

/// `req` with a time limit on the whole answer, body included: `None` when none came within
/// `ms` (a server that accepts the connection and never answers must not hold the request
/// that needed it until the platform kills it).
pub async fn send_within<U: Upstream>(
    upstream: &U,
    req: UpstreamRequest,
    ms: u32,
) -> Option<Result<UpstreamResponse, UpstreamError>> {
    race(upstream.send(req), upstream.delay(ms)).await
}

/// `Some` of `work`'s output if it finishes first, `None` if `timer` does.
async fn race<T>(work: impl Future<Output = T>, timer: impl Future<Output = ()>) -> Option<T> {
    let (mut work, mut timer) = (pin!(work), pin!(timer));
    poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
    })
    .await
}
