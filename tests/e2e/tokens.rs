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

/// A tmpfs mounted over a folder for one test; unmounted (lazily: a helper may still be
/// going) when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` where mounting is not permitted (not root, no mount(8)): the test says so.
    fn mount_over(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status();
        status
            .is_ok_and(|s| s.success())
            .then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system holding `dir` with one file; returns it, to free the space.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).and_then(|()| f.sync_all()).is_ok() {}
    path
}

/// A full disk (a small tmpfs as the data folder): a save is a 507 that says the disk is
/// full and nothing changed, the file from before is intact byte for byte with no
/// temporary file beside it, and once there is space again the same save works.
#[tokio::test(flavor = "multi_thread")]
async fn a_save_on_a_full_disk_is_a_507_and_the_old_file_is_intact() {
    let manus = FakeManus::start();
    let old_key = secret("manus_e2e_old_key_eeeeeeeeeeee");
    let new_key = secret("manus_e2e_new_key_ffffffffffff");
    manus.add_key(&old_key);
    manus.add_key(&new_key);
    let mut helper = helper().envs(manus.helper_env()).start();
    assert!(helper.stop(), "the helper did not stop");
    let Some(_tmpfs) = Tmpfs::mount_over(helper.data_dir(), "256k") else {
        eprintln!(
            "SKIPPED a_save_on_a_full_disk_is_a_507_and_the_old_file_is_intact: mounting a \
             tmpfs is not permitted here (it needs root)"
        );
        return;
    };
    helper.restart().unwrap();
    let (status, body) = helper
        .post("/api/connectors/manus/token", json!({"token": old_key}))
        .await;
    assert_eq!(status, 200, "{body}");
    let tokens = helper.data_dir().join("mcp-tokens.json");
    let before = std::fs::read(&tokens).unwrap();

    let filler = fill(helper.data_dir());
    let (status, body) = helper
        .post("/api/connectors/manus/token", json!({"token": new_key}))
        .await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"], "insufficient_storage");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("is full") && message.contains("Free some space"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&tokens).unwrap(),
        before,
        "the old file changed"
    );
    let leftovers: Vec<String> = std::fs::read_dir(helper.data_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    std::fs::remove_file(filler).unwrap();
    let (status, body) = helper
        .post("/api/connectors/manus/token", json!({"token": new_key}))
        .await;
    assert_eq!(status, 200, "{body}");
    let stored: Value = serde_json::from_slice(&std::fs::read(&tokens).unwrap()).unwrap();
    assert_eq!(stored["manus"]["token"], new_key.as_str());
    assert!(helper.stop());
}
