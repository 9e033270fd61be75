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

/// No escape code and no library log line (rmcp's "Service initialized as client …", "task
/// cancelled", "delete session success") in what a command printed into a pipe.
fn assert_quiet(what: &str, stderr: &str) {
    assert!(
        !stderr.contains('\u{1b}'),
        "{what}: colour codes in a pipe:\n{stderr}"
    );
    for library_line in ["Service initialized", "task cancelled", "delete session"] {
        assert!(
            !stderr.contains(library_line),
            "{what}: a library's log line without -v:\n{stderr}"
        );
    }
}

fn health_answers(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

fn quiet_patchbay(data: &std::path::Path) -> Command {
    let mut cmd = patchbay();
    cmd.env_remove("PATCHBAY_LOG")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env("PATCHBAY_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `patchbay mcp login|tools|call` into pipes, as a script or a file would take them: the
/// results on stdout, nothing on stderr without `-v`, and with `-v` rmcp's lines (so the
/// check above can see them when they are there), never in colour.
#[tokio::test]
async fn mcp_commands_print_results_on_stdout_and_log_only_when_asked() {
    let fake = patchbay_testkit::mcp::FakeMcp::start();
    let url = fake.mcp_url();
    let data = tempfile::tempdir().unwrap();
    {
        let _port = tokio::task::spawn_blocking(|| patchbay_testkit::process::machine_port(53682))
            .await
            .unwrap();
        let mut login = quiet_patchbay(data.path())
            .args(["mcp", "login", &url])
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(login.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        let mut auth_url = None;
        for line in stdout.by_ref().map_while(Result::ok) {
            printed.push(line.clone());
            if line.trim_start().starts_with(&fake.base_url()) {
                auth_url = Some(line.trim().to_owned());
                break;
            }
        }
        let auth_url = auth_url.unwrap_or_else(|| panic!("no URL printed: {printed:?}"));
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let approved = browser.get(&auth_url).send().await.unwrap();
        let location = approved.headers()["location"].to_str().unwrap().to_owned();
        let landed = browser.get(&location).send().await.unwrap();
        assert_eq!(landed.status(), 200);
        let out = tokio::task::spawn_blocking(move || login.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(out.status.success());
        let rest: Vec<String> = stdout.map_while(Result::ok).collect();
        assert!(
            rest.last().is_some_and(|l| l.starts_with("Signed in to")),
            "{rest:?}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_quiet("mcp login", &stderr);
        assert_eq!(stderr, "", "mcp login wrote to stderr");
    }

    let tools = quiet_patchbay(data.path())
        .args(["mcp", "tools", &url])
        .output()
        .unwrap();
    assert!(tools.status.success());
    let stdout = String::from_utf8_lossy(&tools.stdout);
    assert!(
        stdout.lines().all(|l| !l.is_empty() && !l.contains("INFO")),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("echo")), "{stdout}");
    assert_eq!(String::from_utf8_lossy(&tools.stderr), "");

    let call = quiet_patchbay(data.path())
        .args(["mcp", "call", &url, "echo", r#"{"text":"hi"}"#])
        .output()
        .unwrap();
    assert!(call.status.success());
    let result: serde_json::Value = serde_json::from_slice(&call.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not the result alone ({e}):\n{}",
            String::from_utf8_lossy(&call.stdout)
        )
    });
    assert_eq!(result["content"][0]["text"], "hi");
    assert_eq!(String::from_utf8_lossy(&call.stderr), "");

    // A failure: one line on stderr, nothing on stdout.
    let bad = quiet_patchbay(data.path())
        .args(["mcp", "call", &url, "echo", "not json"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert_eq!(String::from_utf8_lossy(&bad.stdout), "");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("patchbay: "), "{stderr}");

    // Asked for: the libraries' lines, still without colour in a pipe.
    let verbose = quiet_patchbay(data.path())
        .args(["mcp", "tools", "-v", &url])
        .output()
        .unwrap();
    assert!(verbose.status.success());
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr.contains("Service initialized"),
        "-v shows no rmcp line:\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a pipe:\n{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&verbose.stdout), stdout);
}

/// `patchbay serve` into pipes: the pairing link on stdout, its own lines (no colour) on
/// stderr, none of a library's.
#[test]
fn serve_prints_the_link_on_stdout_and_plain_lines_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = quiet_patchbay(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed: Vec<String> = stdout
        .by_ref()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("#helper="))
        .collect();
    assert!(
        printed[0].starts_with("Patchbay helper listening on http://127.0.0.1:"),
        "{printed:?}"
    );
    // Serving (so its signal handlers are in place) once it answers.
    let addr = printed[0]
        .rsplit("http://")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let answered = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        health_answers(&addr)
    });
    assert!(answered, "the helper never answered on {addr}");
    // SIGTERM, as a service manager stops it: it says so and exits cleanly.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert_quiet("serve", &stderr);
    assert!(stderr.contains("helper listening"), "{stderr}");
    assert!(stderr.contains("helper stopped"), "{stderr}");
    assert!(
        stderr.lines().all(|l| l.contains("patchbay")),
        "a line that is not Patchbay's own:\n{stderr}"
    );
}
