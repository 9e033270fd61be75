//! GitHub PAT and Manus key through the real helper binary, against fake services; every
//! secret used here is checked against the helper's logs when it stops (see harness).

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{helper, secret};
use patchbay_testkit::fake::Mode;
use patchbay_testkit::github::FakeGithub;
use patchbay_testkit::manus::FakeManus;

#[tokio::test(flavor = "multi_thread")]
async fn token_connectors_through_the_real_helper_never_log_a_secret() {
    let github = FakeGithub::start();
    let good = secret("ghp_fake_e2e_good_token_00000000001");
    let rejected = secret("ghp_fake_e2e_rejected_token_0000002");
    github.add_token(&good, "octocat", 1, "repo");
    let manus = FakeManus::start();
    let key = secret("manus_e2e_key_cccccccccccc");
    let wrong_key = secret("manus_e2e_wrong_dddddddd");
    manus.add_key(&key);
    let helper = helper()
        .envs(github.helper_env())
        .envs(manus.helper_env())
        .start();

    let (status, body) = helper
        .post("/api/connectors/github/token", json!({"token": rejected}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = helper
        .post("/api/connectors/github/token", json!({"token": good}))
        .await;
    assert_eq!(
        (status, &body["user"]["login"]),
        (200, &json!("octocat")),
        "{body}"
    );
    let (_, body) = helper.get("/api/connectors/github/status").await;
    assert_eq!(body["connected"], true);
    github.set_mode(Mode::Broken);
    let (status, _) = helper
        .call(Method::POST, "/api/connectors/github/reconnect", None)
        .await;
    assert_eq!(status, 502);

    let (status, _) = helper
        .post("/api/connectors/manus/token", json!({"token": wrong_key}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = helper
        .post("/api/connectors/manus/token", json!({"token": key}))
        .await;
    assert_eq!(status, 200);

    // What downstream tools read.
    let file = std::fs::read_to_string(helper.data_dir().join("mcp-tokens.json")).unwrap();
    let stored: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(stored["github"]["token"], good.as_str());
    assert_eq!(stored["manus"]["token"], key.as_str());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(helper.data_dir().join("mcp-tokens.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let (status, _) = helper
        .call(Method::POST, "/api/connectors/github/disconnect", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = helper
        .call(Method::POST, "/api/connectors/manus/disconnect", None)
        .await;
    assert_eq!(status, 200);
    let (_, overview) = helper.get("/api/connectors").await;
    assert!(
        overview["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["connected"] == false),
        "{overview}"
    );
}
