//! `patchbay doctor` on a healthy set-up (exit 0, every line ✓ or –) and on broken ones
//! (exit non-zero, the ✗ line names the fix): a 0644 token file, rclone missing, a corrupt
//! mcp-tokens.json, port 53682 held. It never prints a secret, and changes nothing.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use patchbay_testkit::process::{free_port, machine_port};

use crate::home::{Outcome, TempHome, mode};

const ACCESS_TOKEN: &str = "mcp-access-token-never-printed";
const REFRESH_TOKEN: &str = "mcp-refresh-token-never-printed";
const CLIENT_SECRET: &str = "gdrive-client-secret-never-printed";
const GITHUB_TOKEN: &str = "FAKE-github-token-for-doctor-tests-never-printed";
const EDGE_TOKEN: &str = "edge-token-never-printed-0123";
const PAIRING_TOKEN: &str = "pairing-token-never-printed-0123";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn private(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A data folder as a helper that has been used leaves it: a pairing token, an MCP sign-in
/// valid for an hour, a GitHub token, a Google client; the helper's port set to a free one
/// (7878 may be some other program's on this machine).
fn healthy() -> TempHome {
    let mut home = TempHome::new();
    let data = home.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    private(&data.join("pairing-token"), PAIRING_TOKEN);
    let tokens = serde_json::json!({
        "github": {"token": GITHUB_TOKEN, "login": "octo"},
        "https://mcp.example/mcp": {
            "type": "mcp",
            "url": "https://mcp.example/mcp",
            "token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
            "token_type": "Bearer",
            "expires_at": now() + 3600,
            "issuer": "https://auth.example",
            "client_id": "client-1",
            "token_endpoint": "https://auth.example/token",
            "resource": "https://mcp.example/mcp",
            "scope": "",
            "needs_login": false,
        }
    });
    private(&data.join("mcp-tokens.json"), &tokens.to_string());
    private(
        &data.join("connectors.json"),
        &serde_json::json!({"gdrive": {"client_id": "id.apps.example", "client_secret": CLIENT_SECRET}})
            .to_string(),
    );
    home.set_env("PATCHBAY_LISTEN", &format!("127.0.0.1:{}", free_port()));
    home.set_env("PATCHBAY_EDGE_TOKEN", EDGE_TOKEN);
    home
}

fn no_secret_in(out: &Outcome) {
    let all = out.all();
    for secret in [
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        CLIENT_SECRET,
        GITHUB_TOKEN,
        EDGE_TOKEN,
        PAIRING_TOKEN,
    ] {
        assert!(!all.contains(secret), "doctor printed a secret:\n{all}");
    }
}

/// The line of check `label`, which must be there.
fn line<'a>(out: &'a Outcome, label: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{label}:")))
        })
        .unwrap_or_else(|| panic!("no {label:?} line:\n{}", out.all()))
}

/// A failing run whose `label` line is ✗ and says `fix`.
fn fails_with(out: &Outcome, label: &str, fix: &str) {
    assert!(!out.success(), "doctor passed:\n{}", out.all());
    let l = line(out, label);
    assert!(l.starts_with('✗'), "{l}");
    assert!(l.contains(&format!("Fix: {fix}")), "{l}");
    assert!(out.stderr.contains("says how to fix it"), "{}", out.all());
    no_secret_in(out);
}

#[test]
fn a_healthy_set_up_passes_in_lines_and_in_json() {
    let home = healthy();
    let _port = machine_port(53682);
    let (_helper, _link) = home.serve(&[]);
    let helper_port = std::fs::read_to_string(home.data_dir().join("helper.json")).unwrap();
    let helper_port: serde_json::Value = serde_json::from_str(&helper_port).unwrap();
    let listen = helper_port["address"].as_str().unwrap().to_owned();
    let mut cmd = home.patchbay(["doctor"]);
    cmd.env("PATCHBAY_LISTEN", &listen);
    let out = crate::home::outcome(cmd);
    assert!(out.success(), "{}", out.all());
    assert!(!out.stdout.contains('✗'), "{}", out.all());
    for (label, says) in [
        ("rclone", "✓ rclone: rclone v"),
        ("gh", "✓ gh: gh version"),
        ("helper", "✓ helper: running at http://127.0.0.1:"),
        ("pairing token", "(mode 0600)"),
        ("credentials", "(mode 0600)"),
        ("data folder", "(mode 0700)"),
        ("port 53682 (sign-ins)", "free"),
        (
            "Google Drive OAuth client",
            "id and secret set (from connectors.json)",
        ),
        (
            "MCP https://mcp.example/mcp",
            "signed in; the token expires in ",
        ),
    ] {
        assert!(line(&out, label).contains(says), "{label}: {}", out.all());
    }
    let port = listen.rsplit(':').next().unwrap();
    assert!(
        line(&out, &format!("port {port} (helper)")).contains("in use by the Patchbay helper"),
        "{}",
        out.all()
    );
    no_secret_in(&out);

    let mut cmd = home.patchbay(["doctor", "--json"]);
    cmd.env("PATCHBAY_LISTEN", &listen);
    let json_out = crate::home::outcome(cmd);
    assert!(json_out.success(), "{}", json_out.all());
    no_secret_in(&json_out);
    let report: serde_json::Value = serde_json::from_str(&json_out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(
        checks.len() + 1,
        out.stdout.lines().count(),
        "the JSON and the lines differ"
    );
    assert!(checks.iter().all(|c| c["status"] != "fail"), "{report:#}");
    assert!(
        checks
            .iter()
            .any(|c| c["id"] == "rclone" && c["status"] == "ok")
    );
}

#[test]
fn a_token_file_others_can_read_is_a_problem_with_its_chmod() {
    let home = healthy();
    let token = home.data_dir().join("pairing-token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.run(["doctor"]);
    fails_with(
        &out,
        "pairing token",
        &format!("chmod 600 {}", token.display()),
    );
    assert!(line(&out, "pairing token").contains("readable by others (mode 0644)"));
    assert_eq!(
        mode(&token),
        0o644,
        "doctor changed the file it was asked about"
    );

    let json: serde_json::Value =
        serde_json::from_str(&home.run(["doctor", "--json"]).stdout).unwrap();
    assert_eq!(json["ok"], false);
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "file-pairing-token")
        .unwrap();
    assert_eq!(check["status"], "fail");
    assert_eq!(check["fix"], format!("chmod 600 {}", token.display()));
}

#[test]
fn rclone_missing_from_path_is_a_problem_that_says_how_to_install_it() {
    let mut home = healthy();
    // A PATH with gh and nothing else.
    std::os::unix::fs::symlink("/usr/bin/gh", home.bin_dir().join("gh")).unwrap();
    let path = home.bin_dir().display().to_string();
    home.set_path(&path);
    let out = home.run(["doctor"]);
    fails_with(&out, "rclone", "install it (sudo apt-get install rclone");
    assert!(line(&out, "rclone").contains("set PATCHBAY_RCLONE to its path"));
    assert!(line(&out, "gh").starts_with('✓'), "{}", out.all());
}

#[test]
fn a_corrupt_mcp_tokens_file_is_a_problem_and_is_left_as_it_is() {
    let home = healthy();
    let file = home.data_dir().join("mcp-tokens.json");
    let corrupt = format!("{{\"https://mcp.example/mcp\": {{\"token\": \"{ACCESS_TOKEN}");
    private(&file, &corrupt);
    let out = home.run(["doctor"]);
    fails_with(&out, "credentials", "fix it or move it aside");
    assert!(line(&out, "credentials").contains("does not parse (it is not JSON"));
    assert!(line(&out, "MCP servers").starts_with('✗'), "{}", out.all());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), corrupt);
}

#[test]
fn port_53682_held_by_another_program_names_it() {
    let home = healthy();
    let _port = machine_port(53682);
    let _held = TcpListener::bind("127.0.0.1:53682").unwrap();
    let out = home.run(["doctor"]);
    fails_with(&out, "port 53682 (sign-ins)", "stop ");
    let l = line(&out, "port 53682 (sign-ins)");
    assert!(l.contains(&format!("(pid {})", std::process::id())), "{l}");
    assert!(l.contains("sign-ins need 127.0.0.1:53682"), "{l}");
}
