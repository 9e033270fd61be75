//! One connection: hyper's HTTP/1.1 server with the limits, the app behind it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, Uri};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use super::Limits;
use super::canned::{self, Answers};
use super::guarded_io::GuardedIo;
use super::waiting::Entry;
use crate::ApiError;

/// How long a refused connection may take to send its request before it is closed.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// What every connection of one server shares.
pub struct Server {
    app: Router,
    limits: Limits,
    answers: Arc<Answers>,
    http: http1::Builder,
    refusal: http1::Builder,
    busy: ApiError,
}

impl Server {
    pub fn new(app: Router, limits: Limits, cap: usize) -> Self {
        let builder = |header_timeout: Duration| {
            let mut b = http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(limits.read_buffer())
                .max_header_size(limits.max_header_bytes);
            b
        };
        let http = builder(limits.header_read_timeout);
        let mut refusal = builder(limits.header_read_timeout.min(REFUSAL_HEADER_TIMEOUT));
        refusal.keep_alive(false);
        Self {
            answers: Arc::new(Answers::new(limits.max_header_bytes, limits.max_uri_bytes)),
            busy: ApiError::unavailable(format!(
                "The helper is serving as many connections as it allows ({cap}). Close some \
                 (other tabs or tools using it) or wait a moment, then try again."
            )),
            app,
            limits,
            http,
            refusal,
        }
    }

    fn io(&self, stream: TcpStream) -> TokioIo<GuardedIo<TcpStream>> {
        TokioIo::new(GuardedIo::new(
            stream,
            self.answers.clone(),
            self.limits.write_timeout,
        ))
    }

    /// Serves requests on `stream` until the client goes, a limit ends it, the connection
    /// is closed to make room (`entry`, while it waits for a request), or `stop`
    /// (shutdown: open requests finish, then the connection closes).
    pub async fn serve(&self, stream: TcpStream, entry: Entry, stop: CancellationToken) {
        let (app, limits) = (self.app.clone(), self.limits);
        let make_room = entry.closed();
        let service = hyper::service::service_fn(move |req| {
            let answering = entry.answering();
            let app = app.clone();
            async move {
                let response = handle(app, limits, req).await?;
                Ok::<_, Infallible>(response.map(|body| answering.body(body)))
            }
        });
        let conn = self.http.serve_connection(self.io(stream), service);
        tokio::pin!(conn);
        let ended = tokio::select! {
            ended = conn.as_mut() => ended,
            // Nothing in flight (it waits for a request head): dropped, no answer owed.
            () = make_room.cancelled() => {
                tracing::debug!("connection closed to make room for a new one");
                return;
            }
            () = stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = ended {
            // Timeouts, resets, malformed requests: the client's business, not an error here.
            tracing::debug!("connection ended: {e}");
        }
    }

    /// Answers one request on `stream` with the 503 of a full helper, then closes it.
    pub async fn refuse(&self, stream: TcpStream) {
        let busy = self.busy.clone();
        let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
            let busy = busy.clone();
            async move { Ok::<_, Infallible>(busy.into_response()) }
        });
        let _ = self
            .refusal
            .serve_connection(self.io(stream), service)
            .await;
    }
}

/// One request: the URI limit, a body that must keep arriving, then the app.
async fn handle(
    app: Router,
    limits: Limits,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if uri_len(req.uri()) > limits.max_uri_bytes {
        return Ok(canned::uri_too_long(limits.max_uri_bytes).into_response());
    }
    let timeout = limits.header_read_timeout;
    let req = req.map(|body| Body::new(TimeoutBody::new(timeout, body)));
    app.oneshot(req).await
}

/// The request target's length as the client sent it.
fn uri_len(uri: &Uri) -> usize {
    let absolute = uri.scheme_str().map_or(0, |s| {
        s.len() + 3 + uri.authority().map_or(0, |a| a.as_str().len())
    });
    absolute + uri.path_and_query().map_or(0, |pq| pq.as_str().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_length_counts_what_the_client_sent() {
        let len = |s: &str| uri_len(&s.parse().unwrap());
        assert_eq!(len("/api/health"), 11);
        assert_eq!(len("/a?b=c"), 6);
        assert_eq!(len("http://127.0.0.1:7878/x"), 23);
    }
}
