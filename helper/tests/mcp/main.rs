//! The MCP connector against the fake MCP server + authorization server: sign-in (listener
//! and paste), discovery round trips, registration once per issuer, refusals, refresh
//! (proactive, after a 401, single-flight, rotation, outages, revocation), Streamable HTTP
//! calls through rmcp, and the API sessions with `oneshot`.
//!
//! Every test that binds 127.0.0.1:53682 takes [`port`] first: one at a time in this binary.

#[path = "../common/mod.rs"]
mod common;
mod spec;

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use patchbay_helper::connectors::mcp::client::Session;
use patchbay_helper::connectors::mcp::login::{
    self, Ctx, LoginEnd, LoginEvents, LoginRequest, Pending,
};
use patchbay_helper::connectors::mcp::store::{McpFiles, ServerEntry};
use patchbay_helper::connectors::mcp::tokens::{Inflight, TokenError, TokenManager};
use patchbay_helper::engine::fsutil;
use patchbay_helper::engine::lease::LoopbackLease;
use patchbay_testkit::mcp::{Counters, FakeMcp};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// Serialises the tests that use 127.0.0.1:53682, with every other test on the machine that
/// does (a file lock; see `testkit::process::machine_port`).
async fn port() -> patchbay_testkit::process::MachinePort {
    tokio::task::spawn_blocking(|| patchbay_testkit::process::machine_port(53682))
        .await
        .expect("waiting for port 53682")
}

struct Setup {
    fake: FakeMcp,
    _dir: tempfile::TempDir,
    ctx: Ctx,
}

fn setup() -> Setup {
    let fake = FakeMcp::start();
    let dir = tempfile::tempdir().unwrap();
    let ctx = Ctx {
        http: patchbay_helper::engine::upstream::client(),
        files: McpFiles::new(&dir.path().join("data")),
        client_metadata_url: None,
    };
    Setup {
        fake,
        _dir: dir,
        ctx,
    }
}

impl Setup {
    fn data_dir(&self) -> &Path {
        &self.ctx.files.data_dir
    }

    fn tokens_json(&self) -> Value {
        read_json(&self.data_dir().join("mcp-tokens.json"))
    }

    fn clients_json(&self) -> Value {
        read_json(&self.data_dir().join("mcp-clients.json"))
    }

    fn manager(&self) -> TokenManager {
        TokenManager::new(self.ctx.clone(), Inflight::default())
    }

    /// Makes the stored access token look expired (as after an hour), and kills it at the
    /// server too.
    fn expire_everywhere(&self) {
        self.fake.expire_access_tokens();
        let path = self.data_dir().join("mcp-tokens.json");
        let mut v = read_json(&path);
        v[self.fake.mcp_url()]["expires_at"] = json!(1);
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
}

fn read_json(path: &Path) -> Value {
    match std::fs::read_to_string(path) {
        Ok(s) => serde_json::from_str(&s).unwrap(),
        Err(_) => json!({}),
    }
}

struct Capture(Option<oneshot::Sender<String>>);

impl LoginEvents for Capture {
    fn awaiting(&mut self, pending: &Pending) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(pending.auth_url.clone());
        }
    }
    fn bad_paste(&mut self, _: &str) {}
}

struct Running {
    auth_url: Option<String>,
    paste: mpsc::Sender<String>,
    task: tokio::task::JoinHandle<Result<ServerEntry, LoginEnd>>,
}

/// Starts a sign-in; `auth_url` is `None` when it ended before handing one out.
async fn start_login(ctx: &Ctx, url: &str) -> Running {
    start_login_with(ctx, LoginRequest::plain(url)).await
}

/// Starts a sign-in as `req` asks.
async fn start_login_with(ctx: &Ctx, req: LoginRequest) -> Running {
    let (url_tx, url_rx) = oneshot::channel();
    let (paste, mut pasted) = mpsc::channel(4);
    let ctx = ctx.clone();
    let task = tokio::spawn(async move {
        let lease = LoopbackLease::try_acquire(&ctx.files.data_dir, "test login").unwrap();
        let cancel = tokio_util::sync::CancellationToken::new();
        login::run(
            &ctx,
            &req,
            Some(lease),
            &mut Capture(Some(url_tx)),
            &mut pasted,
            &cancel,
        )
        .await
    });
    Running {
        auth_url: url_rx.await.ok(),
        paste,
        task,
    }
}

/// The person approves: the authorization server's redirect, not followed.
async fn approve(auth_url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser.get(auth_url).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The browser follows the redirect to the listener.
async fn follow(location: &str) {
    assert!(location.starts_with("http://127.0.0.1:53682/callback?"));
    assert_eq!(land(location).await, 200);
}

/// A GET to the listener: its status (its page never reflects the request).
async fn land(url: &str) -> u16 {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("code-") && !page.contains("state="),
        "the callback page reflects input"
    );
    status
}

async fn login_via_browser(s: &Setup) -> ServerEntry {
    let running = start_login(&s.ctx, &s.fake.mcp_url()).await;
    let location = approve(running.auth_url.as_deref().expect("an auth URL")).await;
    follow(&location).await;
    running.task.await.unwrap().expect("signed in")
}

/// Signs in again and returns what that cost at the fake (and prints it, for the log).
async fn login_and_count(s: &Setup, what: &str) -> Counters {
    s.fake.reset_counters();
    login_via_browser(s).await;
    let c = s.fake.counters();
    println!("{what}: {c:?} = {} round trips", c.oauth_round_trips());
    c
}

/// A fresh setup, signed in once; port 53682 is free again when this returns.
async fn logged_in() -> Setup {
    let _port = port().await;
    let s = setup();
    login_via_browser(&s).await;
    s
}

/// Calls the fake's `echo` tool and checks that it answered `text`.
async fn echo(session: &Session, text: &str) {
    let result = session
        .call_tool(
            "echo",
            Some(json!({"text": text}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&result).unwrap()["content"][0]["text"],
        text
    );
}

async fn failure(running: Running) -> String {
    match running.task.await.unwrap() {
        Err(LoginEnd::Failed(e)) => e.message,
        Err(other) => panic!("expected a failure, got {other:?}"),
        Ok(_) => panic!("expected a failure, got a sign-in"),
    }
}

#[tokio::test]
async fn first_login_discovers_registers_once_and_reconnects_with_fewer_round_trips() {
    let _port = port().await;
    let s = setup();
    let url = s.fake.mcp_url();

    let entry = login_via_browser(&s).await;
    let first = s.fake.counters();
    println!(
        "first sign-in: {first:?} = {} round trips",
        first.oauth_round_trips()
    );
    assert_eq!(first.registrations, 1);
    assert_eq!(first.code_exchanges, 1);
    assert!(first.oauth_round_trips() <= 6, "{first:?}");
    assert_eq!(entry.issuer, s.fake.issuer());
    assert_eq!(s.fake.last_resource().as_deref(), Some(url.as_str()));

    let tokens = s.tokens_json();
    let e = &tokens[&url];
    assert!(e["token"].as_str().unwrap().starts_with("at"));
    assert!(e["refresh_token"].as_str().unwrap().starts_with("rt"));
    assert!(e["expires_at"].as_u64().unwrap() > 1_000_000_000);
    assert_eq!(e["issuer"], s.fake.issuer());
    assert_eq!(e["resource"], url);
    assert_eq!(
        e["token_endpoint"],
        format!("{}/as/token", s.fake.base_url())
    );
    let client_id = e["client_id"].as_str().unwrap().to_owned();
    assert_eq!(s.clients_json()[s.fake.issuer()]["client_id"], client_id);
    assert!(
        s.clients_json().to_string().find("at1-").is_none(),
        "tokens leaked into mcp-clients.json"
    );
    for f in ["mcp-tokens.json", "mcp-clients.json"] {
        assert_eq!(fsutil::mode(&s.data_dir().join(f)).unwrap(), 0o600, "{f}");
    }

    // Reconnect to the same server: no discovery, no registration.
    let again = login_and_count(&s, "reconnect").await;
    assert_eq!(again.registrations, 0);
    assert!(again.oauth_round_trips() <= 4, "{again:?}");
    assert_eq!(s.tokens_json()[&url]["client_id"], client_id);

    // Signed out (tokens gone, registration kept): discovery again, still no registration.
    let removed = patchbay_helper::connectors::mcp::revoke::sign_out(&s.ctx, &url)
        .await
        .unwrap();
    assert!(removed.is_some());
    let known = login_and_count(&s, "known client id").await;
    assert_eq!(known.registrations, 0);
    assert!(known.oauth_round_trips() <= 4, "{known:?}");
    assert_eq!(s.tokens_json()[&url]["client_id"], client_id);
    assert_eq!(s.fake.registered_clients(), 1);
}

#[tokio::test]
async fn stray_and_forged_requests_to_the_listener_get_a_400_and_the_login_keeps_waiting() {
    let _port = port().await;
    let s = setup();
    let running = start_login(&s.ctx, &s.fake.mcp_url()).await;
    let location = approve(running.auth_url.as_deref().unwrap()).await;
    let forged = location.replace("state=", "state=x");
    assert_eq!(land(&forged).await, 400);
    let without_state = location.split("&state=").next().unwrap().to_owned();
    assert_eq!(land(&without_state).await, 400);
    assert_eq!(land("http://127.0.0.1:53682/favicon.ico").await, 400);
    assert_eq!(land("http://127.0.0.1:53682/").await, 400);
    assert_eq!(s.fake.counters().code_exchanges, 0);
    assert!(
        !running.task.is_finished(),
        "a stray request ended the login"
    );
    // The real redirect still completes it.
    follow(&location).await;
    running.task.await.unwrap().expect("signed in");
    assert_eq!(s.fake.counters().code_exchanges, 1);
}

#[tokio::test]
async fn a_pasted_redirect_with_another_issuer_is_refused() {
    let _port = port().await;
    let s = setup();

    let running = start_login(&s.ctx, &s.fake.mcp_url()).await;
    let location = approve(running.auth_url.as_deref().unwrap()).await;
    let forged = location.replace("iss=", "iss=https%3A%2F%2Fevil.example%2F");
    running.paste.send(forged).await.unwrap();
    let message = failure(running).await;
    assert!(message.contains("iss mismatch"), "{message}");
    assert_eq!(s.fake.counters().code_exchanges, 0);
}

#[tokio::test]
async fn an_authorization_server_without_s256_is_refused_before_registration() {
    let _port = port().await;
    let s = setup();
    s.fake.set_s256(false);
    let running = start_login(&s.ctx, &s.fake.mcp_url()).await;
    assert!(running.auth_url.is_none(), "an auth URL was handed out");
    let message = failure(running).await;
    assert!(message.contains("S256"), "{message}");
    assert!(message.contains(&s.fake.issuer()), "{message}");
    assert_eq!(s.fake.counters().registrations, 0);
    assert_eq!(s.fake.counters().authorizations, 0);
    // The port was released.
    assert!(std::net::TcpListener::bind("127.0.0.1:53682").is_ok());
}

#[tokio::test]
async fn a_pasted_redirect_signs_in_and_garbage_is_ignored() {
    let _port = port().await;
    let s = setup();
    s.fake.set_iss_supported(false);
    let running = start_login(&s.ctx, &s.fake.mcp_url()).await;
    let location = approve(running.auth_url.as_deref().unwrap()).await;
    assert!(!location.contains("iss="));
    running.paste.send("hello world".into()).await.unwrap();
    running.paste.send(format!("  {location}  ")).await.unwrap();
    let entry = running.task.await.unwrap().expect("signed in");
    assert!(entry.token.is_some());
    // The listener is closed after a paste too.
    assert!(std::net::TcpListener::bind("127.0.0.1:53682").is_ok());
}

#[tokio::test]
async fn tools_and_calls_refresh_expired_tokens_transparently() {
    let s = logged_in().await;
    let url = s.fake.mcp_url();
    let tokens = s.manager();
    let old_refresh = s.tokens_json()[&url]["refresh_token"].clone();

    // Expired in the file: refreshed before the request.
    s.expire_everywhere();
    s.fake.reset_counters();
    let session = Session::connect(tokens.clone(), &url).await.unwrap();
    let tools = session.list_tools().await.unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0].name, "echo");
    echo(&session, "hello").await;
    session.close().await;
    let c = s.fake.counters();
    assert_eq!(c.refreshes, 1, "{c:?}");
    assert_eq!(c.mcp_unauthorized, 0, "{c:?}");
    let stored = s.tokens_json();
    assert_ne!(
        stored[&url]["refresh_token"], old_refresh,
        "rotation not stored"
    );

    // Still valid in the file, but the server refuses it: one 401, one refresh, one retry.
    s.fake.expire_access_tokens();
    s.fake.reset_counters();
    s.fake.set_sse(true);
    let session = Session::connect(tokens.clone(), &url).await.unwrap();
    assert_eq!(session.list_tools().await.unwrap().len(), 2);
    session.close().await;
    let c = s.fake.counters();
    assert_eq!(c.refreshes, 1, "{c:?}");
    assert_eq!(c.mcp_unauthorized, 1, "{c:?}");
}

#[tokio::test]
async fn fifty_concurrent_calls_during_expiry_cause_exactly_one_refresh() {
    let s = logged_in().await;
    let url = s.fake.mcp_url();
    s.fake.set_refresh_delay(Duration::from_millis(300));
    s.expire_everywhere();
    s.fake.reset_counters();

    // Two token managers with their own in-process locks stand for two processes: only the
    // file lock keeps them from refreshing twice.
    let a = s.manager();
    let b = s.manager();
    let mut calls = Vec::new();
    for i in 0..50 {
        let tokens = if i % 2 == 0 { a.clone() } else { b.clone() };
        let url = url.clone();
        calls.push(tokio::spawn(async move {
            let session = Session::connect(tokens, &url).await.unwrap();
            echo(&session, &format!("call {i}")).await;
            session.close().await;
        }));
    }
    for c in calls {
        c.await.unwrap();
    }
    let c = s.fake.counters();
    assert_eq!(c.refreshes, 1, "{c:?}");
    assert_eq!(c.token_errors, 0, "{c:?}");
}

#[tokio::test]
async fn refresh_keeps_the_old_refresh_token_and_outages_keep_credentials() {
    let s = logged_in().await;
    let url = s.fake.mcp_url();
    let tokens = s.manager();

    s.fake.set_rotate_refresh(false);
    let before = s.tokens_json()[&url].clone();
    s.expire_everywhere();
    let fresh = tokens.access_token(&url).await.unwrap();
    let after = s.tokens_json()[&url].clone();
    assert_eq!(after["token"], fresh.expose());
    assert_ne!(after["token"], before["token"]);
    assert_eq!(after["refresh_token"], before["refresh_token"]);

    s.expire_everywhere();
    s.fake.set_token_outage(true);
    let stored = s.tokens_json()[&url].clone();
    let err = tokens.access_token(&url).await.unwrap_err();
    assert!(matches!(err, TokenError::Other(_)), "{err:?}");
    assert!(err.message().contains("kept"), "{}", err.message());
    assert_eq!(
        s.tokens_json()[&url],
        stored,
        "credentials changed by an outage"
    );
    s.fake.set_token_outage(false);
    assert!(tokens.access_token(&url).await.is_ok());
}

#[tokio::test]
async fn a_revoked_refresh_token_leads_to_a_new_login_without_registration() {
    let _port = port().await;
    let s = setup();
    login_via_browser(&s).await;
    let url = s.fake.mcp_url();
    let client_id = s.tokens_json()[&url]["client_id"].clone();
    let tokens = s.manager();

    s.fake.revoke_refresh_tokens();
    s.expire_everywhere();
    let err = Session::connect(tokens.clone(), &url).await.err().unwrap();
    assert_eq!(err.code, patchbay_proto::ErrorCode::Unauthorized);
    assert!(
        err.message.contains("patchbay mcp login"),
        "{}",
        err.message
    );
    let entry = &s.tokens_json()[&url];
    assert_eq!(entry["needs_login"], true);
    assert!(entry["token"].is_null() && entry["refresh_token"].is_null());
    let servers = patchbay_helper::connectors::mcp::list_servers(&s.ctx)
        .await
        .unwrap();
    assert_eq!(
        servers[0].token_state,
        patchbay_proto::mcp::TokenState::ReauthorizationRequired
    );

    s.fake.reset_counters();
    login_via_browser(&s).await;
    assert_eq!(s.fake.counters().registrations, 0);
    assert_eq!(s.tokens_json()[&url]["client_id"], client_id);
    assert_eq!(s.tokens_json()[&url]["needs_login"], false);
    let session = Session::connect(tokens, &url).await.unwrap();
    assert_eq!(session.list_tools().await.unwrap().len(), 2);
    session.close().await;
}

#[tokio::test]
async fn a_forgotten_client_id_is_registered_again() {
    let _port = port().await;
    let s = setup();
    login_via_browser(&s).await;
    let url = s.fake.mcp_url();
    s.fake.forget_clients();
    s.expire_everywhere();
    let err = s.manager().access_token(&url).await.unwrap_err();
    assert!(matches!(err, TokenError::NeedsLogin(_)), "{err:?}");
    assert!(s.clients_json().get(s.fake.issuer()).is_none());
    s.fake.reset_counters();
    login_via_browser(&s).await;
    assert_eq!(s.fake.counters().registrations, 1);
}

// ----- the API ------------------------------------------------------------------------

#[tokio::test]
async fn api_session_signs_in_through_the_listener_and_lists_without_tokens() {
    let _port = port().await;
    let fake = FakeMcp::start();
    let app = TestApp::new(|_| {});
    let (status, body) = app
        .post(
            "/api/connectors/mcp/servers",
            json!({"url": fake.mcp_url()}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "pending");
    let id = body["session_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("mcp-"));

    let mut session = json!({});
    for _ in 0..20 {
        let (status, body) = app
            .get(&format!("/api/connectors/mcp/sessions/{id}?wait=5"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session = body;
        if session["status"] != "pending" {
            break;
        }
    }
    assert_eq!(session["status"], "awaiting_oauth", "{session}");
    assert_eq!(session["server_url"], fake.mcp_url());
    assert_eq!(session["issuer"], fake.issuer());
    let auth_url = session["auth_url"].as_str().unwrap().to_owned();

    // A second sign-in while this one holds port 53682: 409 naming it.
    let (status, body) = app
        .post(
            "/api/connectors/mcp/servers",
            json!({"url": fake.mcp_url()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("MCP login for"),
        "{body}"
    );

    follow(&approve(&auth_url).await).await;
    let (_, done) = app
        .get(&format!("/api/connectors/mcp/sessions/{id}?wait=10"))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    // Reading never consumes the result.
    let (_, again) = app.get(&format!("/api/connectors/mcp/sessions/{id}")).await;
    assert_eq!(again["status"], "completed");

    let (status, list) = app.get("/api/connectors/mcp/servers").await;
    assert_eq!(status, StatusCode::OK);
    let servers = list["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{list}");
    assert_eq!(servers[0]["url"], fake.mcp_url());
    assert_eq!(servers[0]["issuer"], fake.issuer());
    assert_eq!(servers[0]["token_state"], "valid");
    let stored = app.tokens_json();
    let access = stored[fake.mcp_url()]["token"].as_str().unwrap();
    let refresh = stored[fake.mcp_url()]["refresh_token"].as_str().unwrap();
    assert!(!list.to_string().contains(access));
    assert!(!list.to_string().contains(refresh));
    assert!(!done.to_string().contains(access));

    let (_, overview) = app.get("/api/connectors").await;
    let mcp = overview["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "mcp")
        .unwrap()
        .clone();
    assert_eq!(mcp["connected"], true, "{overview}");

    let server_id = servers[0]["id"].as_str().unwrap().to_owned();
    let (status, _, body) = app
        .request(
            axum::http::Method::DELETE,
            &format!("/api/connectors/mcp/servers/{server_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The dashboard's remove signs out as `logout` does: revoked at the server first.
    assert_eq!(body["revocation"], "revoked", "{body}");
    let c = fake.counters();
    assert_eq!((c.revoked_refresh, c.revoked_access), (1, 1), "{c:?}");
    let (_, list) = app.get("/api/connectors/mcp/servers").await;
    assert_eq!(list["servers"], json!([]));
    let (status, _, _) = app
        .request(
            axum::http::Method::DELETE,
            &format!("/api/connectors/mcp/servers/{server_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Starts a sign-in through the API; its id, and the session once it awaits the redirect.
async fn api_login(app: &TestApp, fake: &FakeMcp) -> (String, Value) {
    let (_, body) = app
        .post(
            "/api/connectors/mcp/servers",
            json!({"url": fake.mcp_url()}),
        )
        .await;
    let id = body["session_id"].as_str().unwrap().to_owned();
    let session = awaiting(app, &id).await;
    (id, session)
}

async fn awaiting(app: &TestApp, id: &str) -> Value {
    for _ in 0..20 {
        let (_, body) = app
            .get(&format!("/api/connectors/mcp/sessions/{id}?wait=5"))
            .await;
        if body["status"] != "pending" {
            return body;
        }
    }
    panic!("session {id} stayed pending");
}

#[tokio::test]
async fn api_submit_pasted_redirect_cancel_and_bad_input() {
    let _port = port().await;
    let fake = FakeMcp::start();
    let app = TestApp::new(|_| {});

    let (status, body) = app
        .post(
            "/api/connectors/mcp/servers",
            json!({"url": "http://example.com/mcp"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("https"));

    // Paste.
    let (id, session) = api_login(&app, &fake).await;
    let location = approve(session["auth_url"].as_str().unwrap()).await;
    let submit = format!("/api/connectors/mcp/sessions/{id}/submit");
    let (status, body) = app.post(&submit, json!({"code": "not a redirect"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!body.to_string().contains("not a redirect"));
    let (status, body) = app.post(&submit, json!({"code": location})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "completed", "{body}");
    assert!(!body.to_string().contains("code-"), "{body}");
    let (status, _) = app.post(&submit, json!({"code": location})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A forged state ends the session with an error.
    let (id, session) = api_login(&app, &fake).await;
    let location = approve(session["auth_url"].as_str().unwrap()).await;
    let (status, body) = app
        .post(
            &format!("/api/connectors/mcp/sessions/{id}/submit"),
            json!({"code": location.replace("state=", "state=x")}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, body) = app.get(&format!("/api/connectors/mcp/sessions/{id}")).await;
    assert_eq!(body["status"], "error", "{body}");

    // Cancel releases the port at once.
    let (id, _) = api_login(&app, &fake).await;
    let (status, body) = app
        .post(
            &format!("/api/connectors/mcp/sessions/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["reason"], "cancelled", "{body}");
    assert!(std::net::TcpListener::bind("127.0.0.1:53682").is_ok());

    let (status, _) = app.get("/api/connectors/mcp/sessions/mcp-nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.state.shutdown().await;
}
