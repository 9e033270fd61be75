//! Remote MCP servers through the real `patchbay` binary, against the fake MCP server and
//! authorization server: `patchbay mcp login` (browser redirect to the listener, and the
//! redirect pasted on stdin), `tools`, `call`, `list`, `logout`, `proxy` over stdio, and an
//! API login through `patchbay serve`. Every test holds the port-53682 guard.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use patchbay_testkit::mcp::{FakeMcp, TokenTrouble};
use patchbay_testkit::process::Running;
use serde_json::{Value, json};

use crate::harness::{Helper, browser_http, helper, patchbay_bin, port_53682, redirect_of};

pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// A `patchbay mcp …` child with piped stdin, in its own process group (killed on drop).
pub(crate) struct Cli(pub(crate) Running);

impl Cli {
    pub(crate) fn start(data_dir: &Path, args: &[&str]) -> Cli {
        let mut cmd = patchbay_mcp(data_dir, args);
        cmd.env("PATCHBAY_LOG", "patchbay_helper=debug");
        Cli(Running::start_with_stdin("patchbay mcp", cmd))
    }

    /// The first output line for which `pick` says yes.
    pub(crate) fn wait_for<T>(&mut self, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        self.0
            .next_line(WAIT, |line| pick(&line.text))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends a stdio MCP client's `initialize` (request id 1).
    pub(crate) fn initialize(&mut self) {
        self.write_line(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "stdio-client", "version": "1"}}})
            .to_string(),
        );
    }

    /// The JSON-RPC answer to request `id`.
    pub(crate) fn answer(&mut self, id: u64) -> Value {
        self.wait_for(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v["id"] == id)
        })
    }

    /// `initialized`, then `tools/list` (id 2): the answer's tools.
    pub(crate) fn list_tools(&mut self) -> Value {
        self.write_line(
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        );
        self.write_line(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string());
        self.answer(2)["result"]["tools"].clone()
    }

    pub(crate) fn write_line(&mut self, line: &str) {
        self.0.write_line(line).unwrap_or_else(|e| panic!("{e}"));
    }

    pub(crate) fn close_stdin(&mut self) {
        self.0.close_stdin();
    }

    /// Waits for exit; returns success and everything printed.
    pub(crate) fn finish(mut self) -> (bool, String) {
        let status = self.0.wait_exit(WAIT).unwrap_or_else(|e| panic!("{e}"));
        (status.success(), self.0.output())
    }
}

/// `patchbay mcp --data-dir DIR <args>`.
pub(crate) fn patchbay_mcp(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(patchbay_bin());
    cmd.arg("mcp").arg("--data-dir").arg(data_dir).args(args);
    cmd
}

pub(crate) fn run(data_dir: &Path, args: &[&str]) -> Output {
    patchbay_mcp(data_dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("run patchbay mcp")
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The person approves at the authorization server: where it sends the browser.
pub(crate) async fn approve(auth_url: &str) -> String {
    let (status, location) = redirect_of(auth_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 302);
    location
}

/// The browser lands on the listener the redirect points at: its status.
pub(crate) async fn land(location: &str) -> u16 {
    let page = browser_http().get(location).send().await.unwrap();
    page.status().as_u16()
}

pub(crate) fn printed_auth_url(cli: &mut Cli, fake: &FakeMcp) -> String {
    let prefix = format!("{}/as/authorize?", fake.base_url());
    cli.wait_for(|l| {
        let l = l.trim();
        l.starts_with(&prefix).then(|| l.to_owned())
    })
}

/// The stored tokens, which no output may contain.
pub(crate) fn secrets(data_dir: &Path) -> Vec<String> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("mcp-tokens.json")).unwrap())
            .unwrap();
    let mut out = Vec::new();
    for entry in v.as_object().unwrap().values() {
        for k in ["token", "refresh_token"] {
            if let Some(s) = entry[k].as_str() {
                out.push(s.to_owned());
            }
        }
    }
    out
}

pub(crate) fn assert_no_secret(output: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !output.contains(s.as_str()),
            "a token was printed:\n{output}"
        );
    }
}

#[tokio::test]
async fn cli_login_through_the_browser_then_tools_call_list_proxy_and_logout() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = fake.mcp_url();

    let (login, location) = approved_login(data, &fake).await;
    // The listener runs before the URL is printed: the redirect lands at once.
    assert_eq!(land(&location).await, 200);
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    assert!(out.contains("Signed in to"), "{out}");
    let c = fake.counters();
    println!(
        "CLI first login: {} round trips ({c:?})",
        c.oauth_round_trips()
    );
    assert!(c.oauth_round_trips() <= 6, "{c:?}");
    let mut secrets = secrets(data);
    assert_eq!(secrets.len(), 2);
    assert_no_secret(&out, &secrets);
    assert!(std::net::TcpListener::bind("127.0.0.1:53682").is_ok());

    let o = run(data, &["tools", &url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("echo\t"));

    let o = run(
        data,
        &["call", &url, "echo", r#"{"text":"hello from the CLI"}"#],
    );
    assert!(o.status.success(), "{}", text(&o));
    let result: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(result["content"][0]["text"], "hello from the CLI");

    let o = run(data, &["call", &url, "echo", "[1]"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("JSON object"), "{}", text(&o));

    let o = run(data, &["list"]);
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        listed.contains(&url) && listed.contains("signed in"),
        "{listed}"
    );

    // The proxy: a stdio MCP client's lines in, the remote server's answers out — with the
    // access token dead at the server, so the proxy must refresh on the way.
    fake.expire_access_tokens();
    fake.reset_counters();
    let mut proxy = Cli::start(data, &["proxy", &url]);
    proxy.initialize();
    let init = proxy.answer(1);
    assert_eq!(init["result"]["serverInfo"]["name"], "fake-mcp", "{init}");
    let tools = proxy.list_tools();
    assert_eq!(tools[0]["name"], "echo", "{tools}");
    proxy.write_line(
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "via proxy"}}})
        .to_string(),
    );
    let call = proxy.answer(3);
    assert_eq!(call["result"]["content"][0]["text"], "via proxy", "{call}");
    proxy.close_stdin();
    let (_, out) = proxy.finish();
    assert_eq!(fake.counters().refreshes, 1, "{:?}", fake.counters());
    secrets.extend(self::secrets(data));
    assert_no_secret(&out, &secrets);

    let o = run(data, &["logout", &url]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(data, &["tools", &url]);
    assert!(!o.status.success());
    assert!(text(&o).contains("patchbay mcp login"), "{}", text(&o));
}

#[tokio::test]
async fn cli_login_accepts_the_redirect_pasted_on_stdin() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();

    let (mut login, location) = approved_login(data, &fake).await;
    login.write_line("this is not it");
    login.write_line(&location);
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    assert!(out.contains("does not look like"), "{out}");
    assert!(out.contains("Signed in to"), "{out}");
    assert_no_secret(&out, &secrets(data));

    // A second login reuses the registration.
    fake.reset_counters();
    let (mut login, location) = approved_login(data, &fake).await;
    login.write_line(&location);
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    assert_eq!(fake.counters().registrations, 0);
}

#[tokio::test]
async fn cli_refuses_an_authorization_server_without_s256_and_a_busy_port() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    fake.set_s256(false);
    let o = run(data, &["login", &fake.mcp_url()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("S256"), "{}", text(&o));
    assert!(!text(&o).contains("/as/authorize"), "{}", text(&o));
    fake.set_s256(true);

    // A login in progress holds the lease; a second one says who has the port.
    let mut first = Cli::start(data, &["login", &fake.mcp_url()]);
    printed_auth_url(&mut first, &fake);
    let o = run(data, &["login", &fake.mcp_url()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("MCP login for"), "{}", text(&o));
}

/// Starts a sign-in to `fake` through the helper's API and waits for its link: the session
/// as it then is, and the path that long-polls it.
pub(crate) async fn api_login(helper: &Helper, fake: &FakeMcp) -> (Value, String) {
    let (status, body) = helper
        .post(
            "/api/connectors/mcp/servers",
            json!({"url": fake.mcp_url()}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["session_id"].as_str().unwrap().to_owned();
    let path = format!("/api/connectors/mcp/sessions/{id}?wait=10");
    let mut session = helper.get(&path).await.1;
    if session["status"] == "pending" {
        session = helper.get(&path).await.1;
    }
    assert_eq!(session["status"], "awaiting_oauth", "{session}");
    (session, path)
}

/// A sign-in started through the API, approved at the fake and landed: completed, and its
/// tokens join the secrets the harness checks no output holds.
async fn api_login_completes(helper: &Helper, fake: &FakeMcp) {
    let (session, path) = api_login(helper, fake).await;
    let location = approve(session["auth_url"].as_str().unwrap()).await;
    land(&location).await;
    let (_, done) = helper.get(&path).await;
    assert_eq!(done["status"], "completed", "{done}");
    for s in secrets(helper.data_dir()) {
        crate::harness::secret(&s);
    }
}

#[tokio::test]
async fn api_login_through_patchbay_serve() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    let helper = helper().start();
    api_login_completes(&helper, &fake).await;
    let (_, list) = helper.get("/api/connectors/mcp/servers").await;
    assert_eq!(list["servers"][0]["token_state"], "valid", "{list}");
}

/// Starts `patchbay mcp login` and approves the URL it prints: the running login, and where
/// the authorization server sends the browser (the CLI's listener).
pub(crate) async fn approved_login(data: &Path, fake: &FakeMcp) -> (Cli, String) {
    let mut login = Cli::start(data, &["login", &fake.mcp_url()]);
    let auth_url = printed_auth_url(&mut login, fake);
    (login, approve(&auth_url).await)
}

/// Signs in through the CLI with the redirect pasted on stdin.
pub(crate) async fn cli_login(data: &Path, fake: &FakeMcp) {
    let (mut login, location) = approved_login(data, fake).await;
    login.write_line(&location);
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
}

/// A fake MCP server and a data folder signed in to it through the CLI (the port-53682
/// guard held only for the login).
async fn signed_in() -> (FakeMcp, tempfile::TempDir) {
    let _port = port_53682();
    let fake = FakeMcp::start();
    let dir = tempfile::tempdir().unwrap();
    cli_login(dir.path(), &fake).await;
    (fake, dir)
}

/// An hour later: the access token is dead at the server and stale in the stored entry.
fn expire_everywhere(data: &Path, fake: &FakeMcp) {
    fake.expire_access_tokens();
    let path = data.join("mcp-tokens.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v[fake.mcp_url()]["expires_at"] = json!(1);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[tokio::test]
async fn concurrent_processes_during_expiry_share_one_refresh() {
    let (fake, dir) = signed_in().await;
    let data = dir.path();

    // An hour later: the access token is dead everywhere, and the refresh is slow enough
    // for every process to find it stale at once.
    expire_everywhere(data, &fake);
    fake.set_refresh_delay(Duration::from_millis(500));
    fake.reset_counters();

    let url = fake.mcp_url();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let text = format!(r#"{{"text":"process {i}"}}"#);
            patchbay_mcp(data, &["call", &url, "echo", &text])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains(&format!("process {i}")), "{}", text(&o));
    }
    let c = fake.counters();
    assert_eq!(c.refreshes, 1, "{c:?}");
    assert_eq!(c.token_errors, 0, "{c:?}");
}

/// The helper stopped (SIGTERM) or SIGKILLed (no shutdown code runs) during an MCP login,
/// then started again: port 53682 is free at once either way (the listener ends with the
/// login or dies with the process), the lease is not stale (the same login starts and
/// completes), and the credential files parse.
#[tokio::test]
async fn stopping_or_killing_the_helper_mid_login_frees_the_port_and_it_starts_again_clean() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    let mut helper = helper().start();
    api_login(&helper, &fake).await;
    assert!(std::net::TcpListener::bind("127.0.0.1:53682").is_err());
    assert!(helper.stop(), "the helper did not stop on SIGTERM");
    assert!(std::net::TcpListener::bind("127.0.0.1:53682").is_ok());

    helper.restart().unwrap();
    api_login(&helper, &fake).await;
    assert!(helper.kill(), "the helper did not die of SIGKILL");
    assert!(std::net::TcpListener::bind("127.0.0.1:53682").is_ok());
    helper.restart().unwrap();
    for file in ["mcp-tokens.json", "mcp-clients.json"] {
        if let Ok(text) = std::fs::read_to_string(helper.data_dir().join(file)) {
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
    api_login_completes(&helper, &fake).await;
}

/// The token endpoint fails during a refresh: it answers 500, answers an HTML page (a
/// captive portal), or never answers. Each time `patchbay mcp call` fails with a sentence
/// that says which and that the credentials were kept, and the file is byte for byte as it
/// was; once the endpoint is back, the same call refreshes and works.
#[tokio::test]
async fn a_token_endpoint_failing_during_a_refresh_keeps_the_credentials() {
    let (fake, dir) = signed_in().await;
    let data = dir.path();
    let url = fake.mcp_url();
    expire_everywhere(data, &fake);
    let path = data.join("mcp-tokens.json");
    let stored = std::fs::read(&path).unwrap();

    let call = || {
        run(
            data,
            &["call", &url, "echo", r#"{"text":"after the outage"}"#],
        )
    };
    for (trouble, says) in [
        (TokenTrouble::ServerError, "HTTP 500"),
        (TokenTrouble::Html, "not a token response"),
        (TokenTrouble::Hang, "timed out"),
    ] {
        fake.set_token_trouble(trouble);
        let o = call();
        let out = text(&o);
        assert!(!o.status.success(), "{trouble:?}: {out}");
        assert!(
            out.contains(says) && out.contains("kept"),
            "{trouble:?}: {out}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            stored,
            "{trouble:?} changed the credentials"
        );
    }
    fake.set_token_trouble(TokenTrouble::None);
    let o = call();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("after the outage"), "{}", text(&o));
}

/// The MCP server drops the connection halfway through an SSE answer: `patchbay mcp call`
/// fails within a minute with one sentence, and the next call works.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_drops_the_connection_mid_sse_fails_that_call_only() {
    let (fake, dir) = signed_in().await;
    let data = dir.path().to_owned();
    fake.set_sse(true);
    fake.drop_next_sse_calls(1);
    let url = fake.mcp_url();
    let call = |text: &str| {
        let (data, url) = (data.clone(), url.clone());
        let args = format!(r#"{{"text":"{text}"}}"#);
        tokio::time::timeout(
            WAIT,
            tokio::task::spawn_blocking(move || run(&data, &["call", &url, "echo", &args])),
        )
    };

    let o = call("cut off")
        .await
        .expect("the cut-off call hung")
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("patchbay: ") && last.ends_with('.'),
        "not one sentence: {stderr}"
    );
    let o = call("the next one")
        .await
        .expect("the next call hung")
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("the next one"), "{}", text(&o));
}
