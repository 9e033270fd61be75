//! The MCP authorization specification (2026-07-28), client side, item by item against the
//! fake's switches: step-up, scope choice, discovery fallbacks, client identity, revocation,
//! `MCP-Protocol-Version`, tokens only to the server's origin, per-server options, the device
//! flow, and the proxy's handshake order.

use std::time::Duration;

use patchbay_helper::connectors::mcp::client::Session;
use patchbay_helper::connectors::mcp::device;
use patchbay_helper::connectors::mcp::login::{GivenClient, LoginRequest};
use patchbay_helper::connectors::mcp::options::ServerOptions;
use patchbay_helper::connectors::mcp::revoke::sign_out;
use patchbay_proto::mcp::{Revocation, client_metadata_document};
use patchbay_proto::{ErrorCode, Secret};
use patchbay_testkit::FakeServer;
use patchbay_testkit::mcp::{ADMIN_SCOPE, MetadataMode, PrmMode};
use serde_json::json;

use super::*;

fn with_options(url: &str, options: ServerOptions) -> LoginRequest {
    LoginRequest {
        url: url.to_owned(),
        options: Some(options),
        client: None,
    }
}

async fn login_as(s: &Setup, req: LoginRequest) -> ServerEntry {
    let running = start_login_with(&s.ctx, req).await;
    let location = approve(running.auth_url.as_deref().expect("an auth URL")).await;
    assert_eq!(land(&location).await, 200);
    running.task.await.unwrap().expect("signed in")
}

async fn call_admin(s: &Setup) -> Result<(), patchbay_helper::ApiError> {
    let session = Session::connect(s.manager(), &s.fake.mcp_url()).await?;
    let r = session.call_tool("admin", None).await.map(|_| ());
    session.close().await;
    r
}

#[tokio::test]
async fn a_403_insufficient_scope_is_recorded_and_the_next_login_asks_for_the_union() {
    let s = logged_in().await;
    let url = s.fake.mcp_url();
    assert_eq!(
        s.fake.last_scope().as_deref(),
        Some("mcp:tools offline_access")
    );
    let err = call_admin(&s).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{}", err.message);
    assert!(err.message.contains(ADMIN_SCOPE), "{}", err.message);
    assert!(
        err.message.contains(&format!("patchbay mcp login {url}")),
        "{}",
        err.message
    );
    // One call, one 403: nothing loops.
    assert_eq!(s.fake.counters().insufficient_scope, 1);
    assert_eq!(
        s.tokens_json()[&url]["requested_scope"],
        "mcp:tools offline_access mcp:admin"
    );

    let _port = port().await;
    login_via_browser(&s).await;
    assert_eq!(
        s.fake.last_scope().as_deref(),
        Some("mcp:tools offline_access mcp:admin"),
        "the step-up must keep what was granted"
    );
    call_admin(&s).await.expect("granted now");
    // The union survives: signing in once more asks for it again, never fewer.
    login_via_browser(&s).await;
    assert_eq!(
        s.fake.last_scope().as_deref(),
        Some("mcp:tools offline_access mcp:admin")
    );
}

#[tokio::test]
async fn scope_comes_from_the_challenge_first_and_offline_access_only_when_listed() {
    let _port = port().await;
    let s = setup();
    s.fake.set_challenge_scope(Some("mcp:admin"));
    login_via_browser(&s).await;
    assert_eq!(
        s.fake.last_scope().as_deref(),
        Some("mcp:admin offline_access")
    );
}

#[tokio::test]
async fn discovery_falls_back_in_the_specifications_order() {
    let _port = port().await;
    // (protected-resource placement, metadata document, issuer at root, PRM GETs, AS GETs)
    let cases = [
        (PrmMode::Challenge, MetadataMode::OAuth, false, 1, 1),
        (PrmMode::PathOnly, MetadataMode::OAuth, false, 1, 1),
        (PrmMode::RootOnly, MetadataMode::OAuth, false, 2, 1),
        (
            PrmMode::Challenge,
            MetadataMode::OpenIdInserted,
            false,
            1,
            2,
        ),
        (
            PrmMode::Challenge,
            MetadataMode::OpenIdAppended,
            false,
            1,
            3,
        ),
        (PrmMode::Challenge, MetadataMode::OpenIdInserted, true, 1, 2),
    ];
    for (prm, metadata, root, prm_gets, as_gets) in cases {
        let s = setup();
        s.fake.set_prm(prm);
        s.fake.set_metadata(metadata);
        s.fake.set_issuer_at_root(root);
        let entry = login_via_browser(&s).await;
        let c = s.fake.counters();
        let case = format!("{prm:?} {metadata:?} root={root}: {c:?}");
        assert_eq!(c.resource_metadata, prm_gets, "{case}");
        assert_eq!(c.server_metadata, as_gets, "{case}");
        assert_eq!(entry.issuer, s.fake.issuer(), "{case}");
    }
}

#[tokio::test]
async fn a_server_without_metadata_needs_auth_server_and_works_with_it() {
    let _port = port().await;
    let s = setup();
    s.fake.set_prm(PrmMode::None);
    let running = start_login(&s.ctx, &s.fake.mcp_url()).await;
    let message = failure(running).await;
    assert!(message.contains("--auth-server"), "{message}");
    assert!(
        message.contains("/.well-known/oauth-protected-resource"),
        "{message}"
    );
    let options = ServerOptions {
        auth_server: Some(s.fake.issuer()),
        ..ServerOptions::default()
    };
    let entry = login_as(&s, with_options(&s.fake.mcp_url(), options)).await;
    assert_eq!(entry.issuer, s.fake.issuer());
    assert_eq!(entry.resource, s.fake.mcp_url());
    // Stored with the server: a later plain login needs no option.
    s.fake.reset_counters();
    login_via_browser(&s).await;
    assert_eq!(s.fake.counters().code_exchanges, 1);
}

#[tokio::test]
async fn a_pre_registered_client_and_its_secret_are_kept_per_issuer() {
    let _port = port().await;
    let s = setup();
    s.fake.set_dcr(false);
    let message = failure(start_login(&s.ctx, &s.fake.mcp_url()).await).await;
    assert!(message.contains("--client-id"), "{message}");

    s.fake.preregister("hand-made", Some("s3cret-value"));
    let wrong = LoginRequest {
        client: Some(GivenClient {
            client_id: "hand-made".into(),
            client_secret: Some(Secret::new("wrong")),
        }),
        ..LoginRequest::plain(&s.fake.mcp_url())
    };
    let running = start_login_with(&s.ctx, wrong).await;
    let location = approve(running.auth_url.as_deref().unwrap()).await;
    land(&location).await;
    let message = failure(running).await;
    assert!(message.contains("--client-id"), "{message}");

    let right = LoginRequest {
        client: Some(GivenClient {
            client_id: "hand-made".into(),
            client_secret: Some(Secret::new("s3cret-value")),
        }),
        ..LoginRequest::plain(&s.fake.mcp_url())
    };
    let entry = login_as(&s, right).await;
    assert_eq!(entry.client_id, "hand-made");
    let record = &s.clients_json()[s.fake.issuer()];
    assert_eq!(record["kind"], "pre_registered");
    assert_eq!(s.fake.counters().registrations, 0);
    assert!(!s.tokens_json().to_string().contains("s3cret-value"));
    // Refresh and a later login use the kept client and secret.
    s.expire_everywhere();
    s.manager()
        .access_token(&s.fake.mcp_url())
        .await
        .expect("refreshed with the secret");
    login_via_browser(&s).await;
}

#[tokio::test]
async fn cimd_is_used_when_the_server_fetches_documents_and_dcr_otherwise() {
    let _port = port().await;
    let doc_server = FakeServer::start(axum::Router::new().route(
        "/oauth/client-metadata.json",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            let host = headers["host"].to_str().unwrap().to_owned();
            let url = format!("http://{host}/oauth/client-metadata.json");
            axum::Json(client_metadata_document(&url))
        }),
    ));
    let doc_url = format!("{}/oauth/client-metadata.json", doc_server.url());

    let mut s = setup();
    s.ctx.client_metadata_url = Some(doc_url.clone());
    s.fake.set_cimd(true);
    let entry = login_via_browser(&s).await;
    let c = s.fake.counters();
    assert_eq!(entry.client_id, doc_url);
    assert_eq!((c.registrations, c.metadata_documents), (0, 1), "{c:?}");
    assert_eq!(
        s.clients_json()[s.fake.issuer()]["kind"],
        "metadata_document"
    );

    // Without CIMD at the server: dynamic registration, as a native app.
    let mut s = setup();
    s.ctx.client_metadata_url = Some(doc_url);
    login_via_browser(&s).await;
    assert_eq!(s.fake.counters().registrations, 1);
    let registration = s.fake.last_registration().unwrap();
    assert_eq!(registration["application_type"], "native");
    assert_eq!(registration["token_endpoint_auth_method"], "none");
}

#[tokio::test]
async fn sign_out_revokes_refresh_then_access_and_always_forgets_locally() {
    let s = logged_in().await;
    let url = s.fake.mcp_url();
    let done = sign_out(&s.ctx, &url).await.unwrap().unwrap();
    assert_eq!(done.revocation, Revocation::Revoked, "{}", done.message);
    let c = s.fake.counters();
    assert_eq!((c.revoked_refresh, c.revoked_access), (1, 1), "{c:?}");
    assert_eq!(s.fake.live_tokens(), (0, 0));
    assert!(s.tokens_json().get(&url).is_none());
    assert!(sign_out(&s.ctx, &url).await.unwrap().is_none());

    let s = logged_in().await;
    s.fake.set_revocation_outage(true);
    let done = sign_out(&s.ctx, &s.fake.mcp_url()).await.unwrap().unwrap();
    assert_eq!(done.revocation, Revocation::Failed);
    assert!(
        done.message.contains("removed here all the same"),
        "{}",
        done.message
    );
    assert!(s.tokens_json().get(s.fake.mcp_url()).is_none());

    let _port = port().await;
    let s = setup();
    s.fake.set_revocation(false);
    login_via_browser(&s).await;
    let done = sign_out(&s.ctx, &s.fake.mcp_url()).await.unwrap().unwrap();
    assert_eq!(done.revocation, Revocation::NotOffered);
    assert!(
        done.message.contains("offers no revocation"),
        "{}",
        done.message
    );
}

#[tokio::test]
async fn requests_carry_the_protocol_version_and_the_servers_own_headers() {
    // SAFETY: a variable only this test reads, set before any thread reads it.
    unsafe { std::env::set_var("PATCHBAY_TEST_TEAM_HEADER", "team-42") };
    let _port = port().await;
    let s = setup();
    let options = ServerOptions::from_args(
        &["X-Team: ${PATCHBAY_TEST_TEAM_HEADER}".into()],
        false,
        None,
        None,
    )
    .unwrap();
    login_as(&s, with_options(&s.fake.mcp_url(), options)).await;
    assert!(
        s.tokens_json()
            .to_string()
            .contains("${PATCHBAY_TEST_TEAM_HEADER}"),
        "the header is stored as typed"
    );
    assert!(!s.tokens_json().to_string().contains("team-42"));
    s.fake.reset_counters();
    let session = Session::connect(s.manager(), &s.fake.mcp_url())
        .await
        .unwrap();
    echo(&session, "one").await;
    echo(&session, "two").await;
    session.close().await;
    let c = s.fake.counters();
    assert!(c.mcp_requests >= 3, "{c:?}");
    assert_eq!(c.missing_protocol_version, 0, "{c:?}");
    assert!(
        s.fake
            .last_extra_headers()
            .contains(&("x-team".into(), "team-42".into())),
        "{:?}",
        s.fake.last_extra_headers()
    );
}

#[tokio::test]
async fn a_token_never_follows_a_redirect_to_another_host() {
    let s = logged_in().await;
    let port = s.fake.base_url().rsplit(':').next().unwrap().to_owned();
    s.fake
        .set_redirect_mcp_to(Some(format!("http://localhost:{port}/mcp")));
    assert!(
        Session::connect(s.manager(), &s.fake.mcp_url())
            .await
            .is_err()
    );
    assert_eq!(s.fake.counters().foreign_tokens, 0);
}

#[tokio::test]
async fn no_resource_and_callback_port_are_used_and_stored() {
    let _port = port().await;
    let s = setup();
    let callback = patchbay_testkit::process::free_port();
    let options = ServerOptions {
        no_resource: true,
        callback_port: Some(callback),
        ..ServerOptions::default()
    };
    let running = start_login_with(&s.ctx, with_options(&s.fake.mcp_url(), options)).await;
    let auth_url = running.auth_url.clone().unwrap();
    assert!(!auth_url.contains("resource="), "{auth_url}");
    let location = approve(&auth_url).await;
    assert!(
        location.starts_with(&format!("http://127.0.0.1:{callback}/callback?")),
        "{location}"
    );
    assert_eq!(land(&location).await, 200);
    running.task.await.unwrap().expect("signed in");
    assert_eq!(s.fake.last_resource(), None);
    let stored = &s.tokens_json()[s.fake.mcp_url()]["options"];
    assert_eq!(stored["no_resource"], true);
    assert_eq!(stored["callback_port"], callback);
    s.expire_everywhere();
    s.manager().access_token(&s.fake.mcp_url()).await.unwrap();
    assert_eq!(s.fake.last_resource(), None, "refresh without resource too");
}

#[tokio::test]
async fn the_device_flow_signs_in_without_a_listener_and_slows_down_when_told() {
    let s = setup();
    s.fake.set_device_slow_down_once(true);
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut show = |code: &device::DeviceCode| {
        let _ = tx.send(code.verification_uri_complete.clone().unwrap());
    };
    let req = LoginRequest::plain(&s.fake.mcp_url());
    let person = async {
        // The person opens the link (it carries the code) and approves.
        let link = rx.recv().await.unwrap();
        assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);
    };
    let (entry, ()) = tokio::join!(device::run(&s.ctx, &req, &mut show, &cancel), person);
    let entry = entry.expect("signed in by device code");
    assert!(entry.token.is_some());
    let c = s.fake.counters();
    assert_eq!(
        (c.device_authorizations, c.device_grants, c.authorizations),
        (1, 1, 0),
        "{c:?}"
    );
    assert_eq!(
        s.fake.last_resource().as_deref(),
        Some(s.fake.mcp_url().as_str())
    );
    let registration = s.fake.last_registration().unwrap();
    assert!(
        registration["grant_types"]
            .to_string()
            .contains("device_code")
    );

    let s = setup();
    s.fake.set_device(false);
    let err = device::run(&s.ctx, &req_for(&s), &mut |_| {}, &cancel)
        .await
        .unwrap_err();
    assert!(err.message().contains("offers no device sign-in"));
}

fn req_for(s: &Setup) -> LoginRequest {
    LoginRequest::plain(&s.fake.mcp_url())
}

/// Multi-threaded, as the binary runs: spawned sends race there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_sends_the_handshake_in_order_every_time() {
    let s = logged_in().await;
    for round in 0..30 {
        let (client, proxy_side) = tokio::io::duplex(64 * 1024);
        let (proxy_in, proxy_out) = tokio::io::split(proxy_side);
        let tokens = s.manager();
        let url = s.fake.mcp_url();
        let proxy = tokio::spawn(async move {
            patchbay_helper::connectors::mcp::proxy::serve(tokens, &url, proxy_in, proxy_out).await
        });
        let (read, mut write) = tokio::io::split(client);
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(read));
        let send = |v: Vec<serde_json::Value>| {
            let mut text = v
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join("\n");
            text.push('\n');
            text
        };
        use tokio::io::AsyncWriteExt;
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}});
        write.write_all(send(vec![init]).as_bytes()).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("initialize answered")
            .unwrap()
            .unwrap();
        assert!(first.contains("\"id\":1"), "{first}");
        // The notification and the next request in one write, as fast clients send them.
        let burst = send(vec![
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        ]);
        write.write_all(burst.as_bytes()).await.unwrap();
        let second = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("round {round}: tools/list never answered"))
            .unwrap()
            .unwrap();
        assert!(
            second.contains("\"id\":2") && second.contains("echo"),
            "{second}"
        );
        // Closing the client's end ends the proxy.
        drop((write, lines));
        let ended = tokio::time::timeout(Duration::from_secs(10), proxy).await;
        assert!(
            ended.is_ok(),
            "round {round}: the proxy kept running after stdin closed"
        );
    }
}
