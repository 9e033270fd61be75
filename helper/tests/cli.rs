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

/// The findings of issue 17 about files, against the real binary under umask 000: every
/// folder it creates for `--data-dir` is 0700 (not only the last), a temporary file left by
/// a killed writer is gone once it serves, and a loosened credential file is 0600 after
/// the first request that reads it.
#[test]
fn new_folders_are_private_all_the_way_down_and_start_up_cleans_up() {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    let existing = root.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = existing.join("new/deeper/data");
    // A killed writer's leftovers, in a folder that exists already.
    let kept = root.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    let stale = kept.join(".mcp-tokens.json.AbCd_-12.tmp");
    std::fs::write(&stale, r#"{"github": {"token": "ghp_leaked"}}"#).unwrap();
    let tokens = kept.join("mcp-tokens.json");
    std::fs::write(&tokens, r#"{"manus": {"token": "k"}}"#).unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).unwrap();

    for (dir, check) in [(&data, true), (&kept, false)] {
        let mut child = Command::new("sh")
            .args([
                "-c",
                r#"umask 000; exec "$0" serve --listen 127.0.0.1:0 --data-dir "$1""#,
            ])
            .arg(env!("CARGO_BIN_EXE_patchbay"))
            .arg(dir)
            .env("PATCHBAY_TOKEN", "a-pairing-token-for-this-test")
            .env_remove("PATCHBAY_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let link = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("#helper="))
            .expect("no pairing link printed");
        if check {
            for folder in ["new", "new/deeper", "new/deeper/data"] {
                assert_eq!(mode(&existing.join(folder)), 0o700, "{folder}");
            }
            assert_eq!(mode(&existing), 0o755, "a folder that existed was changed");
        } else {
            assert!(
                !stale.exists(),
                "the stale temporary file survived start-up"
            );
            let fragment = link.split_once('#').unwrap().1.trim();
            let pairing = patchbay_proto::pairing::Pairing::from_fragment(fragment).unwrap();
            let addr = pairing.helper.strip_prefix("http://").unwrap();
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            write!(
                s,
                "GET /api/connectors HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer \
                 a-pairing-token-for-this-test\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            assert_eq!(mode(&tokens), 0o600, "read but not tightened");
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
