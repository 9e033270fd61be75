//! The seed's flows, call by call and snippet by snippet, against the real helper (and the
//! real edge under wrangler dev for Vercel), with real rclone and gh and the fakes of the
//! outside services. Each answer has already been checked against the OpenAPI document by
//! the client; here each is checked against what the seed's text promises.

use std::time::{Duration, Instant};

use patchbay_testkit::github::FakeGithub;
use patchbay_testkit::manus::FakeManus;
use patchbay_testkit::oauth::FakeOAuth;
use serde_json::{Value, json};

use super::client::{Answer, Api};
use crate::harness::{Helper, VercelEdge, helper, port_53682, redirect_of, secret};

fn api(helper: &Helper) -> Api {
    Api::new(&helper.origin(), &helper.token)
}

/// `value` is a string, a field a strict client reads as one.
fn string(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a string, not {value}"))
}

/// How the user pastes the address the provider sent them to.
#[derive(Clone, Copy)]
enum Paste {
    /// The whole URL.
    Url,
    /// Just the `code=` part.
    CodePart,
}

/// The seed's "End-to-end frontend flow": start with `body`, poll every second while
/// pending, open `auth_url` (the approval at the fake provider), paste, poll once more.
/// `while_open` runs while the sign-in waits for the paste. The final session.
async fn sign_in(
    api: &Api,
    kind: &str,
    body: Value,
    paste: Paste,
    while_open: impl AsyncFnOnce(),
) -> Answer {
    let name = string(&body["name"]).to_owned();
    // Start the flow: { session_id, status } with 202, as `api()` gets it.
    let started = api
        .post(&format!("/api/connectors/{kind}/remotes"), body)
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    assert_eq!(started["status"], "pending");
    let id = string(&started["session_id"]).to_owned();
    assert!(id.starts_with(&format!("{kind}-")), "{id}");
    let session = format!("/api/connectors/{kind}/sessions/{id}");

    // Show the auth URL: poll every second while pending.
    let deadline = Instant::now() + Duration::from_secs(30);
    let polled = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s = api.get(&session).await;
        assert_eq!(s.status, 200, "{}", s.text);
        if s["status"] != "pending" {
            break s;
        }
        assert!(Instant::now() < deadline, "{kind} stuck in pending");
    };
    assert_eq!(polled["status"], "awaiting_oauth", "{}", polled.text);
    assert_eq!(polled["needs_manual_code"], true);
    assert_eq!(polled["remote_name"], name.as_str());
    assert_eq!(polled["error"], Value::Null);
    let auth_url = string(&polled["auth_url"]).to_owned();

    // The user approves at the provider (window.open), and copies where it sends them.
    let (status, redirect) = redirect_of(&auth_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!((300..400).contains(&status), "{status}");
    assert!(
        redirect.contains(":53682/?") && redirect.contains("code="),
        "{redirect}"
    );
    while_open().await;

    // Capture the redirect: submit it → {"ok": true}.
    let pasted = match paste {
        Paste::Url => redirect,
        Paste::CodePart => redirect
            .split(['?', '&'])
            .find(|kv| kv.starts_with("code="))
            .unwrap()
            .to_owned(),
    };
    let submitted = api
        .post(&format!("{session}/submit"), json!({"code": pasted}))
        .await;
    assert_eq!(
        (submitted.status, &submitted.json),
        (200, &json!({"ok": true})),
        "pasted {pasted}"
    );

    // Confirm completion: poll once more (a few times while rclone writes the file).
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let s = api.get(&session).await;
        if s["status"] != "awaiting_oauth" || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // A second paste of the same address (a double click) is still a success.
    let again = api
        .post(&format!("{session}/submit"), json!({"code": pasted}))
        .await;
    assert_eq!((again.status, &again.json), (200, &json!({"ok": true})));
    done
}

/// The seed's Drive section for `kind` (gdrive or onedrive): the frontend flow (with the
/// seed's 409 for a concurrent one), listed, `force` re-auth in place, cancel, delete and
/// the error table. OneDrive's user pastes just the `code=` part.
async fn rclone_flow(api: &Api, kind: &str, backend: &str) {
    let remotes = format!("/api/connectors/{kind}/remotes");
    let listed = async || -> Vec<(String, String)> {
        let a = api.get(&remotes).await;
        assert_eq!(a.status, 200, "{}", a.text);
        a["remotes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (string(&r["name"]).to_owned(), string(&r["type"]).to_owned()))
            .collect()
    };
    // The card's badge, on mount and after each change ("for each connector card").
    let status = format!("/api/connectors/{kind}/status");
    let badge = async || {
        let s = api.get(&status).await;
        assert_eq!(s.status, 200, "{}", s.text);
        s["connected"].as_bool().expect("connected is a bool")
    };
    assert_eq!(listed().await, []);
    assert!(!badge().await);
    let paste = if kind == "gdrive" {
        Paste::Url
    } else {
        Paste::CodePart
    };
    let other = if kind == "gdrive" {
        "onedrive"
    } else {
        "gdrive"
    };
    let concurrent = async || {
        let body = json!({"name": "second"});
        let busy = api
            .post(&format!("/api/connectors/{other}/remotes"), body)
            .await;
        busy.assert_error(409);
    };
    let done = sign_in(api, kind, json!({"name": "personal"}), paste, concurrent).await;
    assert_eq!(done["status"], "completed", "{}", done.text);
    let personal = ("personal".to_owned(), backend.to_owned());
    assert_eq!(listed().await, std::slice::from_ref(&personal));
    assert!(badge().await);

    // force: true re-auths the existing remote in place.
    let body = json!({"name": "personal", "force": true});
    let done = sign_in(api, kind, body, paste, async || {}).await;
    assert_eq!(done["status"], "completed", "{}", done.text);
    assert_eq!(listed().await, std::slice::from_ref(&personal));

    // Cancel: {"ok": true}, the flow ends (its status stays inside the seed's words) and
    // adds nothing.
    let started = api.post(&remotes, json!({"name": "abandoned"})).await;
    assert_eq!(started.status, 202, "{}", started.text);
    let cancelled_id = string(&started["session_id"]).to_owned();
    let cancelled = api
        .call(
            "POST",
            &format!("/api/connectors/{kind}/sessions/{cancelled_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(
        (cancelled.status, &cancelled.json),
        (200, &json!({"ok": true}))
    );
    let ended = api
        .get(&format!("/api/connectors/{kind}/sessions/{cancelled_id}"))
        .await;
    assert_eq!(ended["status"], "error", "{}", ended.text);
    assert_eq!(
        listed().await,
        [personal],
        "a cancelled flow added its remote"
    );

    // Delete → 204, and it is no longer listed.
    let deleted = api
        .call("DELETE", &format!("{remotes}/personal"), None)
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(listed().await, []);
    assert!(!badge().await);

    // The seed's error table: 400 for an invalid name, 404 for an unknown session.
    api.post(&remotes, json!({"name": "../etc"}))
        .await
        .assert_error(400);
    api.get(&format!("/api/connectors/{kind}/sessions/{kind}-unknown"))
        .await
        .assert_error(404);
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_drive_and_onedrive_as_the_seed_describes() {
    let _port = port_53682();
    let provider = FakeOAuth::start("contract-client", "contract-client-secret");
    secret("contract-client-secret");
    {
        let helper = helper().envs(provider.helper_env()).start();
        let api = api(&helper);
        rclone_flow(&api, "gdrive", "drive").await;
        rclone_flow(&api, "onedrive", "onedrive").await;
    }

    // The seed's other 404: a session past its TTL (600 s; 2 s here).
    let helper = helper()
        .envs(provider.helper_env())
        .env("PATCHBAY_SESSION_TTL_SECS", "2")
        .start();
    let api = api(&helper);
    let started = api
        .post("/api/connectors/gdrive/remotes", json!({"name": "slow"}))
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let session = format!(
        "/api/connectors/gdrive/sessions/{}",
        string(&started["session_id"])
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    api.get(&session).await.assert_error(404);
}

/// The seed's GitHub section: the PAT, then the device flow (approved, then cancelled),
/// status / disconnect / reconnect. The helper has no rclone, for the seed's 503.
#[tokio::test(flavor = "multi_thread")]
async fn contract_github_token_and_device_flow() {
    let github = FakeGithub::start();
    let pat = secret("ghp_fake_contract_token_0000000001");
    github.add_token(&pat, "octocat", 1, "repo");
    let helper = helper()
        .envs(github.gh_env())
        .env("PATCHBAY_RCLONE", "/nonexistent/rclone")
        .start();
    let api = api(&helper);
    let status = "/api/connectors/github/status";

    // Manual PAT → { ok: true, user: { login, id } }.
    let (saved, connected) = token_path(&api, "github", &pat).await;
    assert_eq!(saved["user"]["login"], "octocat");
    assert!(saved["user"]["id"].is_number(), "{}", saved.text);
    assert_eq!(connected["user"]["login"], "octocat");

    // Device flow: start → show user_code and verification_uri → poll.
    let started = api
        .call("POST", "/api/connectors/github/cli/start", None)
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = string(&started["session_id"]).to_owned();
    assert!(id.starts_with("gh-cli-"), "{id}");
    let code = string(&started["user_code"]).to_owned();
    assert!(string(&started["verification_uri"]).ends_with("/login/device"));
    assert!(started["expires_in"].as_u64().is_some_and(|s| s > 0));
    let poll = |id: String| {
        let api = &api;
        async move {
            api.post("/api/connectors/github/cli/poll", json!({"session_id": id}))
                .await
        }
    };
    assert_eq!(poll(id.clone()).await["status"], "pending");
    secret(&github.approve(&code, "octocat", 1));
    let deadline = Instant::now() + Duration::from_secs(60);
    let approved = loop {
        let p = poll(id.clone()).await;
        assert_eq!(p.status, 200, "{}", p.text);
        if p["status"] != "pending" {
            break p;
        }
        assert!(Instant::now() < deadline, "device flow stuck in pending");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(approved["status"], "approved", "{}", approved.text);
    assert_eq!(api.get(status).await["connected"], true);

    // A second device flow, cancelled: {"ok": true}, and its poll says expired (the
    // seed's three words; why is Patchbay's `reason`).
    let started = api
        .call("POST", "/api/connectors/github/cli/start", None)
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let id = string(&started["session_id"]).to_owned();
    let cancelled = api
        .post(
            "/api/connectors/github/cli/cancel",
            json!({"session_id": id}),
        )
        .await;
    assert_eq!(
        (cancelled.status, &cancelled.json),
        (200, &json!({"ok": true}))
    );
    let p = poll(id).await;
    assert_eq!(p["status"], "expired", "{}", p.text);
    api.post(
        "/api/connectors/github/cli/poll",
        json!({"session_id": "gh-cli-unknown"}),
    )
    .await
    .assert_error(404);

    // The seed's 503: rclone missing, for a sign-in. Listing reads rclone.conf itself
    // (README's differences), so it still answers.
    assert_eq!(api.get("/api/connectors/gdrive/remotes").await.status, 200);
    api.post("/api/connectors/onedrive/remotes", json!({"name": "work"}))
        .await
        .assert_error(503);
}

/// The seed's Manus section: API key only.
#[tokio::test(flavor = "multi_thread")]
async fn contract_manus_api_key() {
    let manus = FakeManus::start();
    let key = secret("manus_contract_key_0123456789");
    manus.add_key(&key);
    let helper = helper().envs(manus.helper_env()).start();
    let api = api(&helper);
    api.post(
        "/api/connectors/manus/token",
        json!({"token": "manus_not_a_key_at_all"}),
    )
    .await
    .assert_error(400);
    let (saved, _) = token_path(&api, "manus", &key).await;
    assert_eq!(saved.json, json!({"ok": true}));
}

/// The seed's token path of connector `id`, one shape for GitHub, Vercel and Manus: save
/// → `{ok: true, …}`, status connected without showing the token, reconnect re-validates,
/// disconnect clears. The save's answer and the connected status.
async fn token_path(api: &Api, id: &str, token: &str) -> (Answer, Answer) {
    let base = format!("/api/connectors/{id}");
    let status = format!("{base}/status");
    assert_eq!(api.get(&status).await["connected"], false);
    let saved = api
        .post(&format!("{base}/token"), json!({"token": token}))
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved["ok"], true);
    let connected = api.get(&status).await;
    assert_eq!(connected["connected"], true, "{}", connected.text);
    assert!(
        !connected.text.contains(token),
        "{id}'s status shows the token"
    );
    for action in ["reconnect", "disconnect"] {
        let a = api.call("POST", &format!("{base}/{action}"), None).await;
        assert_eq!(a.status, 200, "{id} {action}: {}", a.text);
    }
    assert_eq!(api.get(&status).await["connected"], false);
    (saved, connected)
}

/// The query value `key` of `url`.
fn query_value(url: &str, key: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {url}"))
        .to_owned()
}

/// `oauth/start` on `server`, then the user approves at Vercel: the `/callback` address on
/// the edge that Vercel sends the browser to.
async fn approve_at_vercel(server: &Api, edge: &Api) -> String {
    let start = server.get("/api/connectors/vercel/oauth/start").await;
    assert_eq!(start.status, 200, "{}", start.text);
    for field in ["authorize_url", "state", "code_verifier_id"] {
        assert!(!string(&start[field]).is_empty(), "{field}");
    }
    let (_, callback) = redirect_of(string(&start["authorize_url"]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        callback.starts_with(&format!("{}/callback?", edge.origin())),
        "{callback}"
    );
    assert_eq!(query_value(&callback, "state"), string(&start["state"]));
    callback
}

/// `oauth/exchange` with the code and state of `callback`: `{ ok: true, user: { … } }`.
async fn exchange(server: &Api, callback: &str) {
    let body =
        json!({"code": query_value(callback, "code"), "state": query_value(callback, "state")});
    let exchanged = server
        .post("/api/connectors/vercel/oauth/exchange", body)
        .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text);
    assert_eq!(exchanged["ok"], true);
    assert!(exchanged["user"].is_object(), "{}", exchanged.text);
}

/// The seed's Vercel section, its three paths: the manual token, OAuth (start, the user in
/// the browser, `/callback` on the edge, `exchange`) and the protected-resource document,
/// with status / disconnect / reconnect, through the helper and on the edge's own `/api`.
#[tokio::test(flavor = "multi_thread")]
async fn contract_vercel_token_oauth_and_protected_resource() {
    let vercel = VercelEdge::start(&[]);
    let helper = helper().envs(vercel.helper_env()).start();
    let api = api(&helper);
    let edge = Api::new(&vercel.edge.origin(), VercelEdge::TOKEN);
    let status = "/api/connectors/vercel/status";

    // Manual token.
    let personal = secret("vercel_contract_personal_token_0123");
    vercel.fake.add_personal_token(&personal);
    token_path(&api, "vercel", &personal).await;

    // OAuth (PKCE), the user completing in the browser and Vercel hitting GET /callback.
    for server in [&api, &edge] {
        let callback = approve_at_vercel(server, &edge).await;
        let page = edge
            .send(
                "GET",
                &callback[edge.origin().len()..],
                super::client::Body::None,
                &[],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        // The client's exchange after the callback: the connected user, not a 409.
        exchange(server, &callback).await;
        let s = server.get(status).await;
        assert_eq!(s["connected"], true, "{}", s.text);
        assert!(s["user"].is_object(), "{}", s.text);
        assert_eq!(
            server
                .call("POST", "/api/connectors/vercel/disconnect", None)
                .await
                .status,
            200
        );
        assert_eq!(server.get(status).await["connected"], false);
    }

    // OAuth finished by the exchange alone (the provider sent the person back elsewhere):
    // the callback address is never opened.
    let callback = approve_at_vercel(&api, &edge).await;
    exchange(&api, &callback).await;
    assert_eq!(api.get(status).await["connected"], true);
    let unknown = api
        .post(
            "/api/connectors/vercel/oauth/exchange",
            json!({"code": "c", "state": "never-issued"}),
        )
        .await;
    unknown.assert_error(404);

    // Dynamic Client Registration: the protected-resource document, public, on the edge.
    let prm = edge
        .send(
            "GET",
            "/.well-known/oauth-protected-resource",
            super::client::Body::None,
            &[],
        )
        .await;
    assert_eq!(prm.status, 200, "{}", prm.text);
    assert!(string(&prm["registration_endpoint"]).starts_with("http"));
    assert!(
        prm["scopes_supported"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{}",
        prm.text
    );
}
