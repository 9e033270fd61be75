//! The first slice through all three parts: edge serves the dashboard, the dashboard pairs
//! with a real helper and shows what the helper reports.

use crate::harness::{Browser, Edge, helper};
use crate::pages::Dashboard;

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_served_by_the_edge_shows_the_helpers_seven_connectors() {
    let edge = Edge::builder().start();
    let helper = helper()
        .allow_origin(&edge.origin())
        .file("rclone.conf", "[personal]\ntype = drive\n")
        .file(
            "mcp-tokens.json",
            r#"{"manus": {"token": "manus_e2e_fake_key"}}"#,
        )
        .start();
    let browser = Browser::start("foundation-seven-cards").await;

    // Without a pairing the dashboard says how to get one.
    let page = Dashboard::open(&browser, &format!("{}/", edge.origin())).await;
    assert!(page.pairing_help().await.contains("patchbay serve"));

    // With the link the helper prints, it pairs and shows the seven cards.
    let page = Dashboard::open(&browser, &helper.pairing_link(&edge.origin())).await;
    let cards = page.cards(7).await;
    let summary: Vec<(&str, &str)> = cards
        .iter()
        .map(|c| (c.connector.as_str(), c.state.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("gdrive", "connected"),
            ("onedrive", "disconnected"),
            ("github", "disconnected"),
            ("vercel", "disconnected"),
            ("manus", "connected"),
            ("mcp", "disconnected"),
            ("agents", "disconnected"),
        ]
    );
    assert_eq!(cards[0].title, "Google Drive");
    assert_eq!(cards[0].badge, "Connected");
    assert_eq!(cards[0].detail, "1 remote");
    assert_eq!(cards[2].badge, "Not connected");

    // The token left the address bar at once; a reload stays paired for this session.
    let url = page.current_url().await;
    assert!(!url.contains(&helper.token) && !url.contains('#'), "{url}");
    page.reload().await;
    assert_eq!(page.cards(7).await.len(), 7);

    // The page source never holds the token either.
    let html = browser.client.source().await.unwrap();
    assert!(!html.contains(&helper.token));
    assert!(!html.contains("manus_e2e_fake_key"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_says_what_to_do_when_the_helper_is_down() {
    let edge = Edge::builder().start();
    let helper = helper().allow_origin(&edge.origin()).start();
    let link = helper.pairing_link(&edge.origin());
    drop(helper);
    let browser = Browser::start("foundation-helper-down").await;
    let page = Dashboard::open(&browser, &link).await;
    let banner = page.banner().await;
    assert!(
        banner.contains("Cannot reach the Patchbay helper"),
        "{banner}"
    );
    assert!(banner.contains("patchbay serve"), "{banner}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_publishes_rfc9728_metadata_and_serves_the_spa() {
    let edge = Edge::builder()
        .var("PATCHBAY_AUTHORIZATION_SERVERS", "https://auth.example.com")
        .var(
            "PATCHBAY_REGISTRATION_ENDPOINT",
            "https://auth.example.com/oauth/register",
        )
        .start();
    let http = reqwest::Client::new();
    let res = http
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            edge.origin()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: patchbay_proto::oauth::ProtectedResourceMetadata = res.json().await.unwrap();
    assert_eq!(doc.validate(), Ok(()));
    assert_eq!(doc.resource, edge.origin());
    assert_eq!(doc.authorization_servers, ["https://auth.example.com"]);
    assert_eq!(doc.scopes_supported, ["connections:read", "vercel:read"]);
    assert_eq!(
        doc.registration_endpoint.as_deref(),
        Some("https://auth.example.com/oauth/register")
    );

    // Client-side routes get the dashboard; unknown API routes get a JSON 404 from the Worker.
    let page = http
        .get(format!("{}/some/client/route", edge.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>Patchbay</title>")
    );
    let api = http
        .get(format!("{}/api/unknown", edge.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}
