//! The helper's HTTP surface, exercised without a socket (`tower::ServiceExt::oneshot`).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{HOST, TOKEN, TestApp};
use patchbay_proto::api::{ConnectorId, ConnectorsOverview};

const DASHBOARD: &str = "https://dash.example.com";

fn get(path: &str) -> axum::http::request::Builder {
    Request::builder().uri(path).header(header::HOST, HOST)
}

fn authed(path: &str) -> Request<Body> {
    get(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn health_needs_no_token() {
    let f = TestApp::new(|_| {});
    let (status, _, body) = f
        .send(get("/api/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ok"], true);
}

#[tokio::test]
async fn connectors_require_the_pairing_token() {
    let f = TestApp::new(|_| {});
    let (status, headers, body) = f
        .send(get("/api/connectors").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    assert!(body["message"].as_str().unwrap().contains("pairing token"));
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));

    let wrong = get("/api/connectors")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}x"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = f.send(wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        !body.to_string().contains(TOKEN),
        "an error body echoed the token"
    );

    let (status, _, body) = f.send(authed("/api/connectors")).await;
    assert_eq!(status, StatusCode::OK);
    let overview: ConnectorsOverview = serde_json::from_value(body).unwrap();
    let ids: Vec<_> = overview.connectors.iter().map(|c| c.id).collect();
    assert_eq!(ids, ConnectorId::ALL);
    assert!(overview.connectors.iter().all(|c| !c.connected));
}

#[tokio::test]
async fn unknown_api_routes_are_protected_json_404s() {
    let f = TestApp::new(|_| {});
    let (status, _, _) = f.send(get("/api/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = f.send(authed("/api/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn overview_reflects_the_credential_files() {
    let f = TestApp::new(|_| {});
    std::fs::write(
        f.data_dir().join("rclone.conf"),
        "[personal]\ntype = drive\n\n[work]\ntype = drive\n\n[od]\ntype = onedrive\n",
    )
    .unwrap();
    std::fs::write(
        f.data_dir().join("mcp-tokens.json"),
        r#"{"manus": {"token": "manus_abc"}, "github": null, "https://mcp.example.com/mcp": {"access_token": "x"}}"#,
    )
    .unwrap();
    let (status, _, body) = f.send(authed("/api/connectors")).await;
    assert_eq!(status, StatusCode::OK);
    let overview: ConnectorsOverview = serde_json::from_value(body.clone()).unwrap();
    let by_id = |id: ConnectorId| overview.connectors.iter().find(|c| c.id == id).unwrap();
    assert!(by_id(ConnectorId::Gdrive).connected);
    assert_eq!(
        by_id(ConnectorId::Gdrive).detail.as_deref(),
        Some("2 remotes")
    );
    assert!(by_id(ConnectorId::Onedrive).connected);
    assert!(by_id(ConnectorId::Manus).connected);
    assert!(
        !by_id(ConnectorId::Github).connected,
        "null is not a credential"
    );
    assert!(!by_id(ConnectorId::Vercel).connected);
    assert!(by_id(ConnectorId::Mcp).connected);
    assert!(
        !body.to_string().contains("manus_abc"),
        "overview leaked a secret"
    );
}

#[tokio::test]
async fn each_rclone_kind_has_the_cards_status_badge() {
    let f = TestApp::new(|_| {});
    let (status, body) = f.get("/api/connectors/gdrive/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"connected": false, "remotes": []}));
    std::fs::write(
        f.data_dir().join("rclone.conf"),
        "[personal]\ntype = drive\n\n[work]\ntype = drive\n\n[od]\ntype = onedrive\n",
    )
    .unwrap();
    let (_, body) = f.get("/api/connectors/gdrive/status").await;
    assert_eq!(
        body,
        serde_json::json!({"connected": true, "remotes": ["personal", "work"]})
    );
    let (_, body) = f.get("/api/connectors/onedrive/status").await;
    assert_eq!(
        body,
        serde_json::json!({"connected": true, "remotes": ["od"]})
    );
}

/// Which named connectors the overview says are connected right now.
async fn connected(f: &TestApp) -> Vec<ConnectorId> {
    let (status, _, body) = f.send(authed("/api/connectors")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let overview: ConnectorsOverview = serde_json::from_value(body).unwrap();
    let on = overview.connectors.into_iter().filter(|c| c.connected);
    on.map(|c| c.id).collect()
}

#[tokio::test]
async fn the_overview_is_kept_until_a_file_changes_and_a_change_shows_at_once() {
    use patchbay_helper::engine::cached::SETTLE;

    let f = TestApp::new(|_| {});
    let tokens = f.data_dir().join("mcp-tokens.json");
    // Same length, so only the times (and not the size) can tell the writes apart.
    let manus = r#"{"manus": {"token": "k"}}"#;
    let other = r#"{"mcp_x": {"token": "k"}}"#;
    assert_eq!(manus.len(), other.len());

    // Rewritten in place as fast as possible: every read sees the last write, even within
    // one tick of the file clock.
    for i in 0..40 {
        let (text, expect) = if i % 2 == 0 {
            (manus, ConnectorId::Manus)
        } else {
            (other, ConnectorId::Mcp)
        };
        std::fs::write(&tokens, text).unwrap();
        assert_eq!(connected(&f).await, vec![expect], "write {i}");
    }
    assert!(
        !f.state.connectors().overview.is_kept(),
        "kept while the file was moving"
    );

    // Left alone, the answer is kept; the next in-place write is read at once.
    tokio::time::sleep(SETTLE + std::time::Duration::from_millis(100)).await;
    assert_eq!(connected(&f).await, vec![ConnectorId::Mcp]);
    assert!(f.state.connectors().overview.is_kept());
    std::fs::write(&tokens, manus).unwrap();
    assert_eq!(connected(&f).await, vec![ConnectorId::Manus]);

    // A new file (rclone.conf appears) and an atomic replace count too.
    std::fs::write(f.data_dir().join("rclone.conf"), "[d]\ntype = drive\n").unwrap();
    let got = connected(&f).await;
    assert_eq!(got, vec![ConnectorId::Gdrive, ConnectorId::Manus]);
    let tmp = f.data_dir().join("tmp.json");
    std::fs::write(&tmp, other).unwrap();
    std::fs::rename(&tmp, &tokens).unwrap();
    assert_eq!(
        connected(&f).await,
        vec![ConnectorId::Gdrive, ConnectorId::Mcp]
    );
}

#[tokio::test]
async fn overview_says_which_connectors_need_setup_before_a_sign_in_can_work() {
    let bare = TestApp::new(|_| {});
    let (status, _, body) = bare.send(authed("/api/connectors")).await;
    assert_eq!(status, StatusCode::OK);
    let overview: ConnectorsOverview = serde_json::from_value(body).unwrap();
    let setup = |o: &ConnectorsOverview, id: ConnectorId| {
        o.connectors
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .setup
            .clone()
    };
    // Without an OAuth client or an edge: the settings to provide, and where the steps are.
    let drive = setup(&overview, ConnectorId::Gdrive).expect("Drive needs a client");
    assert_eq!(
        drive.settings,
        ["PATCHBAY_GDRIVE_CLIENT_ID", "PATCHBAY_GDRIVE_CLIENT_SECRET"]
    );
    assert!(drive.message.contains("Google"), "{}", drive.message);
    assert_eq!(drive.docs, "your-own-google-or-microsoft-client");
    let onedrive = setup(&overview, ConnectorId::Onedrive).expect("OneDrive needs a client");
    assert!(onedrive.how.contains("\"onedrive\""), "{}", onedrive.how);
    let vercel = setup(&overview, ConnectorId::Vercel).expect("Vercel needs the edge");
    assert_eq!(
        vercel.settings,
        ["PATCHBAY_EDGE_URL", "PATCHBAY_EDGE_TOKEN"]
    );
    let agents = setup(&overview, ConnectorId::Agents).expect("Agents need the edge");
    assert_eq!(agents.settings, vercel.settings);
    assert!(agents.message.contains("agents"), "{}", agents.message);
    for id in [ConnectorId::Github, ConnectorId::Manus, ConnectorId::Mcp] {
        assert_eq!(setup(&overview, id), None, "{id:?} needs nothing");
    }

    // A client in connectors.json and an edge in the config: nothing is missing any more,
    // and the answer changes without a restart.
    let configured = TestApp::new(|c| {
        c.edge_url = Some("http://127.0.0.1:8787".into());
        c.edge_token = Some(patchbay_proto::Secret::new("edge-token-for-tests"));
    });
    let (_, _, body) = configured.send(authed("/api/connectors")).await;
    let overview: ConnectorsOverview = serde_json::from_value(body).unwrap();
    assert_eq!(setup(&overview, ConnectorId::Vercel), None);
    assert_eq!(setup(&overview, ConnectorId::Agents), None);
    assert!(setup(&overview, ConnectorId::Gdrive).is_some());
    std::fs::write(
        configured.data_dir().join("connectors.json"),
        r#"{"gdrive": {"client_id": "mine.apps.googleusercontent.com", "client_secret": "s3cr3t-value"}}"#,
    )
    .unwrap();
    let (_, _, body) = configured.send(authed("/api/connectors")).await;
    assert!(!body.to_string().contains("s3cr3t-value"), "{body}");
    let overview: ConnectorsOverview = serde_json::from_value(body).unwrap();
    assert_eq!(setup(&overview, ConnectorId::Gdrive), None);
    assert!(setup(&overview, ConnectorId::Onedrive).is_some());
}

#[tokio::test]
async fn a_corrupt_token_file_is_reported_not_ignored() {
    let f = TestApp::new(|_| {});
    std::fs::write(f.data_dir().join("mcp-tokens.json"), "{not json").unwrap();
    let (status, _, body) = f.send(authed("/api/connectors")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not a JSON object")
    );
    assert_eq!(
        std::fs::read_to_string(f.data_dir().join("mcp-tokens.json")).unwrap(),
        "{not json"
    );
}

#[tokio::test]
async fn rebinding_host_is_refused_everywhere() {
    let f = TestApp::new(|_| {});
    for path in ["/api/health", "/api/connectors", "/"] {
        let req = Request::builder()
            .uri(path)
            .header(header::HOST, "evil.example:7878")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = f.send(req).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body["error"], "forbidden");
    }
    let no_host = Request::builder()
        .uri("/api/health")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = f.send(no_host).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
}

/// RFC 9112 §3.2.3: for `GET http://evil.example:P/… HTTP/1.1` the request target's host is
/// the one that counts, whatever the Host header says; §3.2: two Host headers are a 400.
#[tokio::test]
async fn an_absolute_uri_names_the_host_and_two_host_headers_are_refused() {
    let f = TestApp::new(|_| {});
    let forged = Request::builder()
        .uri("http://evil.example:7878/api/connectors")
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = f.send(forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let own = Request::builder()
        .uri(format!("http://{HOST}/api/connectors"))
        .header(header::HOST, "evil.example:7878")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(f.send(own).await.0, StatusCode::OK);
    for second in [HOST, "evil.example:7878"] {
        let twice = Request::builder()
            .uri("/api/health")
            .header(header::HOST, HOST)
            .header(header::HOST, second)
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = f.send(twice).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("more than one Host")
        );
    }
}

#[tokio::test]
async fn foreign_origin_is_refused_even_with_the_token() {
    let f = TestApp::new(|_| {});
    let req = get("/api/connectors")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = f.send(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("--allow-origin"));
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn allowed_origin_gets_cors_headers() {
    let f = TestApp::new(|_| {});
    let req = get("/api/connectors")
        .header(header::ORIGIN, DASHBOARD)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = f.send(req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], DASHBOARD);
}

fn preflight(origin: &str) -> Request<Body> {
    get("/api/connectors")
        .method(Method::OPTIONS)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .header("access-control-request-private-network", "true")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn preflight_answers_allowed_origins_with_private_network_access() {
    let f = TestApp::new(|_| {});
    let (status, headers, _) = f.send(preflight(DASHBOARD)).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], DASHBOARD);
    assert_eq!(headers["access-control-allow-private-network"], "true");
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");

    let (status, headers, _) = f.send(preflight("https://evil.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    assert!(!headers.contains_key("access-control-allow-private-network"));
}

/// Every connector's unknown-session answer goes through the one `SessionTable::unknown`:
/// a 404 that never echoes a control character or a long id.
#[tokio::test]
async fn unknown_sessions_are_404s_that_echo_no_control_characters_and_no_long_ids() {
    let f = TestApp::new(|_| {});
    let long = "x".repeat(4000);
    // ESC [2J (clear screen), CR LF and a forged header, BEL: as sent in a URL, then as JSON.
    let hostile_path = format!("id%1B%5B2J%0D%0ASet-Cookie:%20a%07{long}");
    let hostile = format!("id\u{1b}[2J\r\nSet-Cookie: a\u{7}{long}");
    let mut answers = Vec::new();
    for connector in ["gdrive", "onedrive", "mcp"] {
        for (method, path) in [
            (
                Method::GET,
                format!("/api/connectors/{connector}/sessions/{hostile_path}"),
            ),
            (
                Method::POST,
                format!("/api/connectors/{connector}/sessions/{hostile_path}/cancel"),
            ),
        ] {
            // Named without the id, so a failure does not print 4000 characters.
            let label = format!("{method} {}", path.split("/id").next().unwrap());
            let (status, _, body) = f.request(method, &path, Some(serde_json::json!({}))).await;
            answers.push((label, status, body));
        }
    }
    for action in ["poll", "cancel"] {
        let path = format!("/api/connectors/github/cli/{action}");
        let (status, body) = f
            .post(&path, serde_json::json!({"session_id": hostile}))
            .await;
        answers.push((path, status, body));
    }
    for (path, status, body) in answers {
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"], "not_found", "{path}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("“id[2J"),
            "{path}: the id is not quoted: {message}"
        );
        assert!(
            !message.chars().any(char::is_control),
            "{path}: a control character was echoed: {message:?}"
        );
        assert!(
            !message.contains(&"x".repeat(100)),
            "{path}: echoed a long id"
        );
    }
}

/// Asserts the one error shape, `{"ok": false, "error", "message"}`, and nothing else.
fn assert_error_shape(what: &str, status: StatusCode, body: &serde_json::Value, code: &str) {
    assert_eq!(body["ok"], false, "{what}: {status} {body}");
    assert_eq!(body["error"], code, "{what}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.ends_with('.'), "{what}: no sentence: {body}");
    assert_eq!(body.as_object().unwrap().len(), 3, "{what}: {body}");
}

fn raw(method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    req.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_that_names_the_right_one() {
    let f = TestApp::new(|_| {});
    for (method, path, allowed) in [
        (Method::PUT, "/api/connectors/gdrive/remotes", "POST"),
        (Method::GET, "/api/connectors/github/token", "POST"),
        (Method::DELETE, "/api/connectors/manus/status", "GET"),
        (Method::POST, "/api/health", "GET"),
    ] {
        let (status, headers, body) = f.send(raw(method.clone(), path, None, vec![])).await;
        let what = format!("{method} {path}");
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}: {body}");
        assert_error_shape(&what, status, &body, "method_not_allowed");
        assert!(
            body["message"].as_str().unwrap().contains("Allow header"),
            "{what}: {body}"
        );
        let allow = headers[header::ALLOW].to_str().unwrap();
        assert!(allow.contains(allowed), "{what}: Allow: {allow}");
    }
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_a_json_400() {
    let f = TestApp::new(|_| {});
    for (method, path) in [
        (Method::DELETE, "/api/connectors/gdrive/remotes/%FF%FE"),
        (Method::GET, "/api/connectors/onedrive/sessions/%C3%28"),
        (Method::GET, "/api/connectors/mcp/sessions/a%80b"),
    ] {
        let (status, _, body) = f.send(raw(method.clone(), path, None, vec![])).await;
        let what = format!("{method} {path}");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_error_shape(&what, status, &body, "bad_request");
        assert!(
            body["message"].as_str().unwrap().contains("UTF-8"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413_and_changes_nothing() {
    let f = TestApp::new(|_| {});
    let token = "x".repeat(patchbay_helper::error::BODY_LIMIT + 1);
    let body = serde_json::json!({ "token": token })
        .to_string()
        .into_bytes();
    for ct in [Some("application/json"), None] {
        let req = raw(
            Method::POST,
            "/api/connectors/manus/token",
            ct,
            body.clone(),
        );
        let (status, _, answer) = f.send(req).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
        assert_error_shape("413", status, &answer, "payload_too_large");
        assert!(!answer.to_string().contains("xxxx"), "the body was echoed");
    }
    assert!(
        !f.tokens_file().exists(),
        "a refused body wrote mcp-tokens.json"
    );
}

#[tokio::test]
async fn a_json_body_is_read_whatever_its_content_type() {
    let f = TestApp::new(|_| {});
    // A remote name the route refuses: the answer is about the name, so the body was read.
    let body = br#"{"name": "no spaces allowed"}"#.to_vec();
    for ct in [
        None,
        Some("text/plain;charset=UTF-8"),
        Some("application/json"),
    ] {
        let req = raw(
            Method::POST,
            "/api/connectors/gdrive/remotes",
            ct,
            body.clone(),
        );
        let (status, _, answer) = f.send(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{ct:?}: {answer}");
        assert_error_shape("bad name", status, &answer, "bad_request");
        let message = answer["message"].as_str().unwrap();
        assert!(!message.contains("Content-Type"), "{ct:?}: {message}");
        assert!(message.contains("name"), "{ct:?}: {message}");
    }
}

#[tokio::test]
async fn malformed_bodies_are_json_400s_that_say_what_to_send() {
    let f = TestApp::new(|_| {});
    for (body, says) in [
        (&b"{not json"[..], "not valid JSON"),
        (b"", "not valid JSON"),
        (br#"{"token": 42}"#, "wrong type"),
        (br#"{"tokn": "manus_x"}"#, "missing field"),
        (br#"{"token": ["manus_x"]}"#, "wrong type"),
    ] {
        let req = raw(
            Method::POST,
            "/api/connectors/manus/token",
            Some("application/json"),
            body.to_vec(),
        );
        let (status, _, answer) = f.send(req).await;
        let what = String::from_utf8_lossy(body).into_owned();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        assert_error_shape(&what, status, &answer, "bad_request");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{what}: {answer}"
        );
    }
    assert!(!f.tokens_file().exists());
}

#[tokio::test]
async fn unknown_routes_outside_the_api_are_json_404s_too() {
    let f = TestApp::new(|_| {});
    for path in ["/nope", "/api", "/callback"] {
        let (status, _, body) = f.send(get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_error_shape(path, status, &body, "not_found");
    }
}
