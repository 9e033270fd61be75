//! The OpenAPI document: served without the token, equal to the committed
//! `docs/openapi.json` (`cargo xtask openapi` rewrites it), true to the helper's router and
//! complete for the seed's endpoint summary.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{HOST, TestApp};
use serde_json::Value;

fn document() -> Value {
    serde_json::to_value(patchbay_helper::openapi::document()).unwrap()
}

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[test]
fn the_committed_copy_is_the_generated_document() {
    let generated =
        serde_json::to_string_pretty(patchbay_helper::openapi::document()).unwrap() + "\n";
    let path = committed_path();
    if std::env::var_os("PATCHBAY_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the code's document: run `cargo xtask openapi` and commit it"
    );
}

#[tokio::test]
async fn it_is_served_without_the_token_but_behind_the_host_guard() {
    let f = TestApp::new(|_| {});
    let req = Request::builder()
        .uri("/api/openapi.json")
        .header(header::HOST, HOST);
    let (status, _, body) = f.send(req.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, document());
    assert_eq!(body["openapi"], "3.1.0");
    let foreign = Request::builder()
        .uri("/api/openapi.json")
        .header(header::HOST, "evil.example:80");
    let (status, _, _) = f.send(foreign.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The seed's endpoint summary, line by line (GET /callback and the well-known document are
/// the edge's, with their own `servers`).
const SEED: &[(&str, &str)] = &[
    ("get", "/api/connectors/gdrive/remotes"),
    ("post", "/api/connectors/gdrive/remotes"),
    ("get", "/api/connectors/gdrive/sessions/{session_id}"),
    (
        "post",
        "/api/connectors/gdrive/sessions/{session_id}/submit",
    ),
    (
        "post",
        "/api/connectors/gdrive/sessions/{session_id}/cancel",
    ),
    ("delete", "/api/connectors/gdrive/remotes/{name}"),
    ("get", "/api/connectors/onedrive/remotes"),
    ("post", "/api/connectors/onedrive/remotes"),
    ("get", "/api/connectors/onedrive/sessions/{session_id}"),
    (
        "post",
        "/api/connectors/onedrive/sessions/{session_id}/submit",
    ),
    (
        "post",
        "/api/connectors/onedrive/sessions/{session_id}/cancel",
    ),
    ("delete", "/api/connectors/onedrive/remotes/{name}"),
    ("post", "/api/connectors/github/token"),
    ("get", "/api/connectors/github/status"),
    ("post", "/api/connectors/github/disconnect"),
    ("post", "/api/connectors/github/reconnect"),
    ("post", "/api/connectors/github/cli/start"),
    ("post", "/api/connectors/github/cli/poll"),
    ("post", "/api/connectors/github/cli/cancel"),
    ("post", "/api/connectors/vercel/token"),
    ("get", "/api/connectors/vercel/status"),
    ("post", "/api/connectors/vercel/disconnect"),
    ("post", "/api/connectors/vercel/reconnect"),
    ("get", "/api/connectors/vercel/oauth/start"),
    ("post", "/api/connectors/vercel/oauth/exchange"),
    ("get", "/callback"),
    ("get", "/.well-known/oauth-protected-resource"),
    ("post", "/api/connectors/manus/token"),
    ("get", "/api/connectors/manus/status"),
    ("post", "/api/connectors/manus/disconnect"),
    ("post", "/api/connectors/manus/reconnect"),
    // "For each connector card in the UI: on mount, GET /api/connectors/{name}/status".
    ("get", "/api/connectors/gdrive/status"),
    ("get", "/api/connectors/onedrive/status"),
];

#[test]
fn every_route_of_the_seed_is_documented_with_the_error_shape() {
    let doc = document();
    for (method, path) in SEED {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.contains_key("405"), "{method} {path}: no 405");
        for (status, response) in responses {
            // The page a person's browser lands on answers its own outcomes in HTML.
            let page = *path == "/callback" && response["content"]["text/html"].is_object();
            if (status.starts_with('4') || status.starts_with('5')) && !page {
                assert_eq!(
                    response["$ref"],
                    format!("#/components/responses/Error{status}"),
                    "{method} {path} {status}"
                );
            }
        }
    }
    let error = &doc["components"]["schemas"]["ErrorBody"];
    let mut required: Vec<&str> = error["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["error", "message", "ok"]);
}

#[test]
fn every_reference_resolves() {
    fn walk<'a>(v: &'a Value, refs: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    refs.push(r);
                }
                m.values().for_each(|v| walk(v, refs));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let doc = document();
    let mut refs = Vec::new();
    walk(&doc, &mut refs);
    assert!(refs.len() > 50, "{}", refs.len());
    for r in refs {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

/// Every documented operation of the helper is one its router serves: no 404 "no route", no
/// 405. Bodies are empty objects, so no flow gets far enough to start.
#[tokio::test]
async fn the_helper_serves_every_operation_it_documents() {
    let f = TestApp::new(|_| {});
    let doc = document();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("servers").is_some() {
            continue; // the edge's own
        }
        for method in item.as_object().unwrap().keys() {
            let concrete: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "nope" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == Method::POST).then(|| serde_json::json!({}));
            let (status, _, answer) = f.request(method.clone(), &concrete, body).await;
            let message = answer["message"].as_str().unwrap_or_default();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !message.contains("no API route") && !message.contains("nothing at"),
                "{method} {path}: {answer}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 35, "{checked}");
}
