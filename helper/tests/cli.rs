//! The real `patchbay` binary: start-up checks and the printed pairing link.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn patchbay() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patchbay"));
    cmd.env_remove("PATCHBAY_TOKEN")
        .env_remove("PATCHBAY_LISTEN")
        .env_remove("PATCHBAY_DATA_DIR");
    cmd
}

#[test]
fn refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = patchbay()
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only listens on loopback"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a refused start wrote files"
    );
}

#[test]
fn help_explains_the_commands() {
    let out = patchbay().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "--data-dir",
        "--allow-origin",
        "PATCHBAY_LISTEN",
        "loopback",
    ] {
        assert!(
            text.contains(needle),
            "serve --help lacks {needle}:\n{text}"
        );
    }
}

#[test]
fn prints_a_pairing_link_with_the_token_in_the_fragment_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = patchbay()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("PATCHBAY_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let link = stdout
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("#helper="))
        .expect("no pairing link printed");
    let token = std::fs::read_to_string(dir.path().join("pairing-token")).unwrap();
    let (before, fragment) = link.trim().split_once('#').unwrap();
    assert!(
        !before.contains(&token),
        "token outside the fragment: {link}"
    );
    let pairing = patchbay_proto::pairing::Pairing::from_fragment(fragment).unwrap();
    assert!(pairing.token.matches(&token));
    assert!(pairing.helper.starts_with("http://127.0.0.1:"));

    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("helper listening"), "{logs}");
    assert!(!logs.contains(&token), "the token reached the log");
}
