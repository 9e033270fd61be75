//! GitHub sign-in through the real `gh` device flow, with `HTTP_PROXY` routing gh's
//! `github.localhost` traffic to the fake GitHub.

use std::time::{Duration, Instant};

use patchbay_testkit::github::FakeGithub;
use patchbay_testkit::process::{SIGKILL, children_named, eventually, kill};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Helper, helper, secret};

struct Rig {
    github: FakeGithub,
    helper: Helper,
}

impl Rig {
    fn start(extra: &[(&str, &str)]) -> Rig {
        let github = FakeGithub::start();
        let helper = helper()
            .envs(github.gh_env())
            .envs(extra.iter().copied())
            .start();
        Rig { github, helper }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.helper.call(method, path, body).await
    }

    async fn start_flow(&self) -> Value {
        let (status, body) = self
            .call(Method::POST, "/api/connectors/github/cli/start", None)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// One poll of `session_id`, long (`wait` seconds) or not: the status and the body.
    async fn poll(&self, session_id: &str, wait: Option<u64>) -> (u16, Value) {
        let mut body = json!({"session_id": session_id});
        if let Some(wait) = wait {
            body["wait"] = json!(wait);
        }
        self.call(Method::POST, "/api/connectors/github/cli/poll", Some(body))
            .await
    }

    /// Long-polls until the status is no longer `pending`.
    async fn settle(&self, session_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self.poll(session_id, Some(20)).await;
            assert_eq!(status, 200, "{body}");
            if body["status"] != "pending" {
                return body;
            }
            assert!(Instant::now() < deadline, "device flow stuck in pending");
        }
    }

    fn gh_processes(&self) -> Vec<u32> {
        children_named(self.helper.pid(), "gh")
    }

    fn assert_no_gh(&self) {
        assert!(
            eventually(Duration::from_secs(5), || self.gh_processes().is_empty()),
            "a gh process survived the flow"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_stores_the_token_in_both_files() {
    let rig = Rig::start(&[]);
    let started = rig.start_flow().await;
    let id = started["session_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("gh-cli-"), "{started}");
    assert_eq!(
        started["verification_uri"],
        "http://github.localhost/login/device"
    );
    let expires_in = started["expires_in"].as_u64().unwrap();
    assert!((800..=900).contains(&expires_in), "{started}");
    let code = started["user_code"].as_str().unwrap().to_owned();
    assert_eq!(rig.github.user_codes(), std::slice::from_ref(&code));
    assert_eq!(rig.gh_processes().len(), 1);

    // Polling does not consume anything; a second start returns the same flow.
    let (_, polled) = rig.poll(&id, None).await;
    assert_eq!(polled, json!({"status": "pending"}));
    assert_eq!(rig.start_flow().await["session_id"], id.as_str());

    let token = secret(&rig.github.approve(&code, "octocat", 583231));
    let done = rig.settle(&id).await;
    assert_eq!(done["status"], "approved", "{done}");
    assert_eq!(done["user"]["login"], "octocat");
    let (_, again) = rig.poll(&id, None).await;
    assert_eq!(again, done, "a finished session stays readable");

    let tokens: Value = serde_json::from_str(
        &std::fs::read_to_string(rig.helper.data_dir().join("mcp-tokens.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(tokens["github"]["token"], token.as_str());
    assert_eq!(tokens["github"]["source"], "gh");
    let cache_path = rig.helper.data_dir().join("xo-cowork/github_token.json");
    let cache: Value =
        serde_json::from_str(&std::fs::read_to_string(&cache_path).unwrap()).unwrap();
    assert_eq!(cache["token"], token.as_str());
    assert_eq!(cache["login"], "octocat");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cache_path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (_, status) = rig
        .call(Method::GET, "/api/connectors/github/status", None)
        .await;
    assert_eq!(status["connected"], true);
    assert_eq!(status["source"], "gh");
    rig.assert_no_gh();
    // gh's private config folder (it held the token) is gone too.
    let leftovers = std::fs::read_dir(rig.helper.data_dir().join("gh-sessions"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_code_is_reported_as_expired() {
    let rig = Rig::start(&[]);
    rig.github.set_device_lifetime(Duration::from_secs(2));
    let started = rig.start_flow().await;
    let done = rig.settle(started["session_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "expired", "{done}");
    assert_eq!(done["reason"], "expired", "{done}");
    assert!(done["message"].as_str().unwrap().contains("expired"));
    rig.assert_no_gh();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denial_is_an_error_that_says_so() {
    let rig = Rig::start(&[]);
    let started = rig.start_flow().await;
    rig.github.deny(started["user_code"].as_str().unwrap());
    let done = rig.settle(started["session_id"].as_str().unwrap()).await;
    // The contract's words are pending | approved | expired; the detail is `reason`.
    assert_eq!(done["status"], "expired", "{done}");
    assert_eq!(done["reason"], "failed", "{done}");
    assert!(
        done["message"].as_str().unwrap().contains("declined"),
        "{done}"
    );
    rig.assert_no_gh();
    assert!(!rig.helper.data_dir().join("mcp-tokens.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_down_that_gh_cannot_handle_is_explained() {
    let rig = Rig::start(&[]);
    rig.github.slow_down_first_poll(true);
    let started = rig.start_flow().await;
    let done = rig.settle(started["session_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "expired", "{done}");
    assert_eq!(done["reason"], "failed", "{done}");
    assert!(
        done["message"]
            .as_str()
            .unwrap()
            .contains("poll more slowly"),
        "{done}"
    );
    rig.assert_no_gh();
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_mid_flow_kills_gh_and_a_new_start_begins_afresh() {
    let rig = Rig::start(&[]);
    let first = rig.start_flow().await;
    let id = first["session_id"].as_str().unwrap();
    assert_eq!(rig.gh_processes().len(), 1);
    let (status, body) = rig
        .call(
            Method::POST,
            "/api/connectors/github/cli/cancel",
            Some(json!({"session_id": id})),
        )
        .await;
    assert_eq!((status, body), (200, json!({"ok": true})));
    rig.assert_no_gh();
    let (_, polled) = rig.poll(id, None).await;
    assert_eq!(polled["status"], "expired", "{polled}");
    assert_eq!(polled["reason"], "cancelled", "{polled}");
    let second = rig.start_flow().await;
    assert_ne!(second["session_id"], first["session_id"]);
    let (status, _) = rig.poll("gh-cli-nope", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn gh_missing_is_a_503_that_says_how_to_install_it() {
    let rig = Rig::start(&[("PATCHBAY_GH", "/nonexistent/gh")]);
    let (status, body) = rig
        .call(Method::POST, "/api/connectors/github/cli/start", None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("apt-get install gh")
    );
}

/// gh SIGKILLed while it waits for the user (a crash, the OOM killer): the session is over
/// (`expired`, `reason: failed`) with a sentence, nothing is written, and a new sign-in
/// starts at once.
#[tokio::test(flavor = "multi_thread")]
async fn gh_killed_mid_flow_is_an_error_and_nothing_is_written() {
    let rig = Rig::start(&[]);
    let started = rig.start_flow().await;
    let id = started["session_id"].as_str().unwrap().to_owned();
    let gh = rig.gh_processes();
    assert_eq!(gh.len(), 1);
    kill(gh[0], SIGKILL);

    let done = rig.settle(&id).await;
    // The device flow's words are the seed's (pending | approved | expired); why it ended
    // is `reason`.
    assert_eq!(
        (&done["status"], &done["reason"]),
        (&json!("expired"), &json!("failed")),
        "{done}"
    );
    let message = done["message"].as_str().unwrap_or_default();
    assert!(message.ends_with('.') && message.contains("gh"), "{done}");
    rig.assert_no_gh();
    let data = rig.helper.data_dir();
    assert!(
        !data.join("mcp-tokens.json").exists(),
        "a token file was written"
    );
    assert!(!data.join("xo-cowork/github_token.json").exists());

    let again = rig.start_flow().await;
    assert_ne!(again["session_id"], id.as_str(), "{again}");
    assert_eq!(rig.gh_processes().len(), 1);
}
