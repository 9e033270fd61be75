//! The Vercel connector on the real Worker (`wrangler dev`, workerd, local D1) against the
//! fake Vercel from testkit, which checks PKCE and rotates refresh tokens.

use std::time::Duration;

use patchbay_testkit::rigs::wrangler::deploy_dry_run;
use patchbay_testkit::vercel::FakeVercel;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Edge, VercelEdge, browser_http, redirect_of};

const EDGE_TOKEN: &str = VercelEdge::TOKEN;

struct Setup {
    edge: Edge,
    fake: FakeVercel,
    _server: patchbay_testkit::FakeServer,
    /// The person's browser, which also calls the edge's API here.
    http: reqwest::Client,
}

impl Setup {
    fn start(extra: &[(&str, &str)]) -> Setup {
        let VercelEdge { edge, fake, server } = VercelEdge::start(extra);
        Setup {
            edge,
            fake,
            _server: server,
            http: browser_http(),
        }
    }

    fn url(&self, action: &str) -> String {
        format!("{}/api/connectors/vercel/{action}", self.edge.origin())
    }

    async fn api(&self, method: &str, action: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = match method {
            "GET" => self.http.get(self.url(action)),
            _ => self.http.post(self.url(action)),
        }
        .bearer_auth(EDGE_TOKEN);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `oauth/start`, then the person approves at the fake: the callback URL Vercel sends
    /// them to.
    async fn approve(&self) -> String {
        let (status, start) = self.api("GET", "oauth/start", None).await;
        assert_eq!(status, 200, "{start}");
        let (status, location) = redirect_of(start["authorize_url"].as_str().unwrap())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 302);
        assert!(
            location.starts_with(&format!("{}/callback?", self.edge.origin())),
            "{location}"
        );
        location
    }

    async fn page(&self, url: &str) -> (StatusCode, String) {
        let res = self.http.get(url).send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }
}

fn query_value(url: &str, key: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_oauth_through_the_callback_replay_credentials_and_disconnect() {
    let s = Setup::start(&[]);

    // Full flow: start → Vercel (auto-approve) → /callback on the Worker.
    let callback = s.approve().await;
    let (status, html) = s.page(&callback).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Vercel is connected"), "{html}");
    let (code, state) = (
        query_value(&callback, "code"),
        query_value(&callback, "state"),
    );
    assert!(!html.contains(&code) && !html.contains(&state));
    let counters = s.fake.counters();
    assert_eq!((counters.registrations, counters.code_exchanges), (1, 1));

    // A reload, and the seed's exchange with the same state, never exchange again; the
    // exchange answers the connected account, as the seed's client expects.
    let (status, html) = s.page(&callback).await;
    assert_eq!(status, 200);
    assert!(html.contains("already used"), "{html}");
    let (status, body) = s
        .api(
            "POST",
            "oauth/exchange",
            Some(json!({"code": code, "state": state})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["user"]["username"], "patchbay-tester", "{body}");
    assert_eq!(s.fake.counters().code_exchanges, 1);

    // Status shows the account and a hint, never the token.
    let (status, st) = s.api("GET", "status", None).await;
    assert_eq!(status, 200);
    assert_eq!(st["connected"], true);
    assert_eq!(st["source"], "oauth");
    assert_eq!(st["user"]["username"], "patchbay-tester");

    // The credentials endpoint needs the edge bearer, then gives the mcp-tokens entries.
    let res = s.http.get(s.url("credentials")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = s
        .http
        .get(s.url("credentials"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (status, creds) = s.api("GET", "credentials", None).await;
    assert_eq!(status, 200, "{creds}");
    let token = creds["vercel"]["token"].as_str().unwrap().to_owned();
    let refresh = creds["vercel"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(s.fake.is_token_valid(&token) && s.fake.is_token_valid(&refresh));
    assert!(!st.to_string().contains(&token));
    assert_eq!(creds["vercel"]["source"], "oauth");
    assert_eq!(creds["vercel_client"]["registration"], "dynamic");

    // Reconnect after the token expired at Vercel: refresh, with the rotated refresh token.
    s.fake.expire_access_tokens();
    let (status, body) = s.api("POST", "reconnect", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.fake.counters().refreshes, 1);
    let (_, creds) = s.api("GET", "credentials", None).await;
    let new_refresh = creds["vercel"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_refresh, refresh);
    assert!(!s.fake.is_token_valid(&refresh));

    // A second sign-in reuses the registered client.
    let callback = s.approve().await;
    assert_eq!(s.page(&callback).await.0, 200);
    assert_eq!(s.fake.counters().registrations, 1);

    // Disconnect revokes at Vercel, then forgets.
    let (_, creds) = s.api("GET", "credentials", None).await;
    let token = creds["vercel"]["token"].as_str().unwrap().to_owned();
    let (status, body) = s.api("POST", "disconnect", None).await;
    assert_eq!(
        (status.as_u16(), &body),
        (200, &json!({"ok": true, "revoked": true}))
    );
    assert!(!s.fake.is_token_valid(&token));
    let (_, st) = s.api("GET", "status", None).await;
    assert_eq!(st, json!({"connected": false}));
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_expired_and_unknown_states_are_refused() {
    let s = Setup::start(&[("VERCEL_OAUTH_STATE_TTL_SECS", "1")]);
    let callback = s.approve().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, html) = s.page(&callback).await;
    assert_eq!(status, 400);
    assert!(html.contains("expired"), "{html}");
    let (status, body) = s
        .api(
            "POST",
            "oauth/exchange",
            Some(json!({"code": "c", "state": "never-issued"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(s.fake.counters().code_exchanges, 0);
    assert_eq!(s.fake.counters().token_errors, 0);
    let (_, st) = s.api("GET", "status", None).await;
    assert_eq!(st["connected"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_manual_token_good_and_bad_then_disconnect() {
    let s = Setup::start(&[]);
    let (status, body) = s
        .api(
            "POST",
            "token",
            Some(json!({"token": "vercel_not_a_real_token"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["ok"], false);
    assert!(!body.to_string().contains("vercel_not_a_real_token"));

    s.fake.add_personal_token("vercel_personal_token_WXYZ");
    let (status, body) = s
        .api(
            "POST",
            "token",
            Some(json!({"token": "vercel_personal_token_WXYZ"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "patchbay-tester");
    let (_, st) = s.api("GET", "status", None).await;
    assert_eq!(st["token_hint"], "WXYZ");
    assert_eq!(st["source"], "manual");
    assert!(!st.to_string().contains("vercel_personal_token"));
    let (_, creds) = s.api("GET", "credentials", None).await;
    assert_eq!(creds["vercel"]["token"], "vercel_personal_token_WXYZ");

    let (status, body) = s.api("POST", "disconnect", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], false);
    assert!(s.fake.is_token_valid("vercel_personal_token_WXYZ"));
    let (_, st) = s.api("GET", "status", None).await;
    assert_eq!(st["connected"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_edge_api_without_secrets_says_what_to_run() {
    let edge = Edge::builder().start();
    let res = reqwest::get(format!("{}/api/connectors/vercel/status", edge.origin()))
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("wrangler secret put PATCHBAY_EDGE_TOKEN")
    );
}

/// `wrangler deploy --dry-run` builds the Worker as it would be uploaded; its gzip size must
/// stay under 1 MB (Cloudflare's free plan allows 3 MB).
#[test]
fn vercel_worker_deploy_dry_run_fits_the_size_budget() {
    let dry_run = deploy_dry_run().unwrap_or_else(|e| panic!("{e}"));
    let kib = dry_run.upload_gzip as f64 / 1024.0;
    eprintln!("Worker upload size (gzip): {kib:.1} KiB");
    assert!(
        kib < 1024.0,
        "the Worker is {kib:.1} KiB gzip; budget 1 MiB"
    );
}
