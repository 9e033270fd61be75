//! GitHub (personal access token) and Manus through the API, against fake services.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use patchbay_testkit::fake::Mode;
use patchbay_testkit::github::FakeGithub;
use patchbay_testkit::manus::FakeManus;
use serde_json::json;

const GOOD: &str = "ghp_fake_0123456789_abcdefghij_wxyz";
const OTHER: &str = "ghp_fake_zyxwvutsrq_ponmlkjihg_9876";
const MANUS_KEY: &str = "manus_fake_key_0123456789";

fn app_with(github: &FakeGithub, manus: &FakeManus) -> TestApp {
    TestApp::new(|c| {
        c.github_api_url = github.api_url();
        c.manus_api_url = manus.api_url();
    })
}

fn fakes() -> (FakeGithub, FakeManus) {
    let github = FakeGithub::start();
    github.add_token(GOOD, "octocat", 583231, "repo, read:org");
    github.add_token(OTHER, "hubot", 7, "");
    let manus = FakeManus::start();
    manus.add_key(MANUS_KEY);
    (github, manus)
}

#[tokio::test]
async fn a_valid_pat_is_saved_and_status_shows_the_account_not_the_token() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    let (status, body) = app
        .post("/api/connectors/github/token", json!({"token": GOOD}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["user"]["login"], "octocat");
    assert_eq!(body["user"]["id"], 583231);

    let stored = app.tokens_json();
    assert_eq!(stored["github"]["token"], GOOD);
    assert_eq!(stored["github"]["login"], "octocat");
    assert_eq!(stored["github"]["scopes"], json!(["repo", "read:org"]));

    let (status, body) = app.get("/api/connectors/github/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["connected"], true);
    assert_eq!(body["user"]["login"], "octocat");
    assert_eq!(body["token_hint"], "wxyz");
    assert!(!body.to_string().contains(GOOD), "status leaked the token");

    let (_, overview) = app.get("/api/connectors").await;
    let github_card = overview["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "github")
        .unwrap();
    assert_eq!(github_card["connected"], true);
}

#[tokio::test]
async fn a_malformed_token_is_refused_without_asking_github() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    for bad in ["", "hello", "ghp_short", "ghp_fake_0123456789 abcdefghij"] {
        let (status, body) = app
            .post("/api/connectors/github/token", json!({"token": bad}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["ok"], false);
    }
    assert_eq!(github.user_calls(), 0);
    assert!(!app.tokens_file().exists());
}

#[tokio::test]
async fn a_token_github_rejects_is_a_400_and_nothing_is_stored() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    let unknown = "ghp_fake_never_issued_000000000000";
    let (status, body) = app
        .post("/api/connectors/github/token", json!({"token": unknown}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("does not accept this token"), "{message}");
    assert!(message.contains("Nothing was saved"), "{message}");
    assert!(!body.to_string().contains(unknown));
    assert!(!app.tokens_file().exists());
}

#[tokio::test]
async fn outages_and_rate_limits_keep_the_old_token() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    app.post("/api/connectors/github/token", json!({"token": GOOD}))
        .await;

    github.set_mode(Mode::RateLimited);
    let (status, body) = app
        .post("/api/connectors/github/token", json!({"token": OTHER}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["message"].as_str().unwrap().contains("rate-limiting"));
    let (status, _) = app
        .post("/api/connectors/github/reconnect", json!({}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    github.set_mode(Mode::Broken);
    let (status, body) = app
        .post("/api/connectors/github/token", json!({"token": OTHER}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(app.tokens_json()["github"]["token"], GOOD);

    drop(github);
    let (status, body) = app
        .post("/api/connectors/github/reconnect", json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Cannot reach GitHub")
    );
    assert!(body["message"].as_str().unwrap().contains("kept"));
    assert_eq!(app.tokens_json()["github"]["token"], GOOD);
}

#[tokio::test]
async fn reconnect_revalidates_and_reports_a_revoked_token() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    let (status, _) = app
        .post("/api/connectors/github/reconnect", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    app.post("/api/connectors/github/token", json!({"token": GOOD}))
        .await;
    let (status, body) = app
        .post("/api/connectors/github/reconnect", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["login"], "octocat");

    github.revoke(GOOD);
    let (status, body) = app
        .post("/api/connectors/github/reconnect", json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not accept")
    );
}

#[tokio::test]
async fn disconnect_clears_both_files_and_keeps_other_entries() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    app.post("/api/connectors/github/token", json!({"token": GOOD}))
        .await;
    app.post("/api/connectors/manus/token", json!({"token": MANUS_KEY}))
        .await;
    let gh_file = app.state.config().github_token_file.clone();
    std::fs::create_dir_all(gh_file.parent().unwrap()).unwrap();
    std::fs::write(&gh_file, format!(r#"{{"token":"{GOOD}"}}"#)).unwrap();

    let (status, body) = app
        .post("/api/connectors/github/disconnect", json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
    assert!(!gh_file.exists());
    let stored = app.tokens_json();
    assert!(stored.get("github").is_none());
    assert_eq!(stored["manus"]["token"], MANUS_KEY);
    let (_, body) = app.get("/api/connectors/github/status").await;
    assert_eq!(body, json!({"connected": false}));
}

#[tokio::test]
async fn manus_key_lifecycle() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    let (status, body) = app
        .post(
            "/api/connectors/manus/token",
            json!({"token": "manus_wrong_key_000"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not accept this API key")
    );
    assert!(!app.tokens_file().exists());

    let (status, body) = app
        .post("/api/connectors/manus/token", json!({"token": MANUS_KEY}))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
    assert_eq!(app.tokens_json()["manus"]["token"], MANUS_KEY);

    let (_, body) = app.get("/api/connectors/manus/status").await;
    assert_eq!(body["connected"], true);
    assert_eq!(body["token_hint"], "6789");
    assert!(!body.to_string().contains(MANUS_KEY));

    let (status, _) = app.post("/api/connectors/manus/reconnect", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    manus.set_mode(Mode::RateLimited);
    let (status, _) = app.post("/api/connectors/manus/reconnect", json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    manus.set_mode(Mode::Broken);
    let (status, _) = app.post("/api/connectors/manus/reconnect", json!({})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(app.tokens_json()["manus"]["token"], MANUS_KEY);

    let (status, _) = app
        .post("/api/connectors/manus/disconnect", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app.get("/api/connectors/manus/status").await;
    assert_eq!(body, json!({"connected": false}));
}

#[tokio::test]
async fn bad_bodies_get_a_clear_400_that_never_echoes_input() {
    let (github, manus) = fakes();
    let app = app_with(&github, &manus);
    let (status, body) = app
        .post("/api/connectors/github/token", json!({"tokn": GOOD}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("token"), "{message}");
    assert!(!body.to_string().contains(GOOD), "{body}");

    let (status, body) = app
        .post("/api/connectors/manus/token", json!({"token": [MANUS_KEY]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains(MANUS_KEY), "{body}");
}

#[tokio::test]
async fn fifty_parallel_saves_across_connectors_all_land() {
    let (github, manus) = fakes();
    let app = std::sync::Arc::new(app_with(&github, &manus));
    std::fs::write(
        app.tokens_file(),
        r#"{"https://mcp.example.com/mcp": {"token": "kept"}}"#,
    )
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let (path, token) = match i % 3 {
                0 => ("/api/connectors/github/token", GOOD),
                1 => ("/api/connectors/github/token", OTHER),
                _ => ("/api/connectors/manus/token", MANUS_KEY),
            };
            app.post(path, json!({"token": token})).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let stored = app.tokens_json();
    assert!([GOOD, OTHER].contains(&stored["github"]["token"].as_str().unwrap()));
    assert_eq!(stored["manus"]["token"], MANUS_KEY);
    assert_eq!(stored["https://mcp.example.com/mcp"]["token"], "kept");
}
