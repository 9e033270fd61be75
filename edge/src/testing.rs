//! What the edge's native tests stand on: the real router and SQL on an in-memory SQLite,
//! and the fake Vercel from testkit called in-process, with a clock the test moves.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use patchbay_proto::ErrorBody;
use patchbay_testkit::vercel::{FakeRequest, FakeVercel};

use crate::Edge;
use crate::config::{EdgeConfig, EdgeSecrets};
use crate::crypto::test_key;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::router::route;
use crate::store::memory::MemoryStore;
use crate::upstream::{Upstream, UpstreamError, UpstreamRequest, UpstreamResponse};
use crate::vercel;

pub const FAKE: &str = "http://fake.vercel.test";
pub const ORIGIN: &str = "http://127.0.0.1:8787";
pub const EDGE_TOKEN: &str = "edge-token-for-tests-0001";
/// A URL whose server accepts the request and never answers.
pub const SILENT: &str = "http://127.0.0.1:9/never-answers.json";

/// Every seam is synchronous in tests, so one poll finishes any future.
fn block_on<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a test future was not ready"),
    }
}

/// The fake Vercel, called in-process.
pub struct InProcess(FakeVercel);

impl Upstream for InProcess {
    async fn send(&self, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        if req.url == SILENT {
            return std::future::pending().await;
        }
        let rest = req
            .url
            .strip_prefix(FAKE)
            .ok_or_else(|| UpstreamError(format!("unexpected host in {}", req.url)))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let r = self.0.handle(FakeRequest {
            method: req.method.into(),
            path: path.into(),
            query: query.into(),
            headers: req
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: req.body.unwrap_or_default(),
        });
        Ok(UpstreamResponse {
            status: r.status,
            body: r.body,
        })
    }

    /// Every time limit is reached at once: the fake Vercel answers within the first poll,
    /// and only [`SILENT`] is ever late.
    async fn delay(&self, _ms: u32) {}
}

/// An edge with every secret set, pointed at a fresh fake Vercel.
pub struct TestEdge {
    pub config: EdgeConfig,
    pub secrets: EdgeSecrets,
    pub store: MemoryStore,
    pub fake: FakeVercel,
    pub upstream: InProcess,
    pub now: Cell<u64>,
}

impl TestEdge {
    pub fn new() -> TestEdge {
        Self::with(&[])
    }

    /// With extra Worker vars or secrets.
    pub fn with(extra: &[(&str, &str)]) -> TestEdge {
        let mut vars: HashMap<String, String> = FakeVercel::edge_vars(FAKE)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        vars.insert("PATCHBAY_EDGE_TOKEN".into(), EDGE_TOKEN.into());
        vars.insert(
            "PATCHBAY_ENCRYPTION_KEY".into(),
            test_key().expose().to_owned(),
        );
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        let lookup = |k: &str| vars.get(k).cloned();
        let fake = FakeVercel::new();
        TestEdge {
            config: EdgeConfig::from_vars(lookup),
            secrets: EdgeSecrets::from_vars(lookup),
            store: MemoryStore::default(),
            upstream: InProcess(fake.clone()),
            fake,
            now: Cell::new(1_800_000_000),
        }
    }

    pub fn send(&self, req: EdgeRequest) -> EdgeResponse {
        let edge = Edge {
            config: &self.config,
            secrets: &self.secrets,
            store: &self.store,
            upstream: &self.upstream,
            now: self.now.get(),
        };
        block_on(route(&req, &edge))
    }

    /// A Vercel `/api` route with the edge bearer: status and JSON body (`null` if none).
    pub fn api(&self, method: &str, action: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.api_text(method, action, body);
        let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, v)
    }

    /// The answer's body as sent, byte for byte.
    pub fn api_text(&self, method: &str, action: &str, body: &str) -> (u16, String) {
        let r = self.send(EdgeRequest {
            method: method.into(),
            origin: ORIGIN.into(),
            path: format!("{}{action}", vercel::PREFIX),
            authorization: Some(format!("Bearer {EDGE_TOKEN}")),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        });
        (r.status, String::from_utf8(r.body).unwrap())
    }

    pub fn callback(&self, query: &str) -> EdgeResponse {
        self.send(EdgeRequest {
            query: query.into(),
            ..get(vercel::callback::PATH)
        })
    }
}

/// The `(error, message)` of a JSON error body.
pub fn error_of(v: &serde_json::Value) -> (String, String) {
    let body: ErrorBody = serde_json::from_value(v.clone()).unwrap();
    assert!(!body.ok);
    (
        serde_json::to_value(body.error)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned(),
        body.message,
    )
}

/// Asserts that an answer (from [`TestEdge::api`]) is an error with this status whose message
/// contains `needle`.
pub fn assert_refused((status, body): (u16, serde_json::Value), expected: u16, needle: &str) {
    assert_eq!(status, expected, "{body}");
    let (_, message) = error_of(&body);
    assert!(message.contains(needle), "{message}");
}

pub fn get(path: &str) -> EdgeRequest {
    EdgeRequest {
        method: "GET".into(),
        origin: ORIGIN.into(),
        path: path.into(),
        ..Default::default()
    }
}
