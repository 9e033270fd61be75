//! Shared by the helper's integration tests: an app with a temp data folder, driven with
//! `oneshot`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use patchbay_helper::{AppState, Config, app};
use patchbay_proto::Secret;
use tower::ServiceExt;

pub const TOKEN: &str = "test-pairing-token-0123456789";
pub const HOST: &str = "127.0.0.1:7878";

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub state: AppState,
}

impl TestApp {
    pub fn new(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(
            HOST.parse().unwrap(),
            dir.path().join("data"),
            &["https://dash.example.com"],
        );
        configure(&mut config);
        std::fs::create_dir_all(&config.data_dir).unwrap();
        TestApp {
            state: AppState::new(config, Secret::new(TOKEN)),
            dir,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.state.config().data_dir
    }

    pub fn tokens_file(&self) -> PathBuf {
        self.data_dir().join("mcp-tokens.json")
    }

    /// The parsed mcp-tokens.json (empty object when missing).
    pub fn tokens_json(&self) -> serde_json::Value {
        match std::fs::read_to_string(self.tokens_file()) {
            Ok(s) => serde_json::from_str(&s).expect("mcp-tokens.json parses"),
            Err(_) => serde_json::json!({}),
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        let body = match body {
            Some(json) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// Sends a request built by the test (any headers) through the whole app.
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, HeaderMap, serde_json::Value) {
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let (s, _, b) = self.request(Method::GET, path, None).await;
        (s, b)
    }

    pub async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let (s, _, b) = self.request(Method::POST, path, Some(body)).await;
        (s, b)
    }
}
