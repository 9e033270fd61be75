//! MCP: `patchbay mcp login` and `tools` against the fake MCP server + authorization server
//! (auto-approving), mcp-remote (npm) against the same fake in the same run, and 50
//! concurrent calls through `patchbay mcp proxy` at token expiry.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use patchbay_testkit::mcp::{Counters, FakeMcp};
use patchbay_testkit::process::free_port;
use serde_json::{Value, json};

use crate::report::{Row, Section, median, ms, ratio};
use crate::util::{self, Result, helper_bin, raw_get};

const RUNS: usize = 3;
const MCP_REMOTE: &str = "mcp-remote@0.15.1";
const CALLS: usize = 50;

/// A child in its own process group, its output as tagged lines; killed (group) on drop.
struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<(bool, String)>,
    seen: Vec<String>,
}

impl Spawned {
    fn start(mut cmd: Command) -> Result<Spawned> {
        cmd.process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        let (tx, lines) = channel();
        for (is_out, stream) in [
            (
                true,
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            ),
            (
                false,
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            ),
        ] {
            let tx = tx.clone();
            if let Some(stream) = stream {
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                        if tx.send((is_out, line)).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        Ok(Spawned {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// The first line (stdout or stderr) for which `pick` returns something.
    fn wait_line<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(bool, &str) -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((out, line)) => {
                    let hit = pick(out, &line);
                    self.seen.push(line);
                    if let Some(v) = hit {
                        return Ok(v);
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "timed out; the program said:\n{}",
                        self.seen.join("\n")
                    ));
                }
            }
        }
    }

    fn send(&mut self, message: &Value) -> Result {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "{message}").map_err(|e| e.to_string())?;
        stdin.flush().map_err(|e| e.to_string())
    }

    fn send_all(&mut self, messages: &[Value]) -> Result {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        let mut buf = String::new();
        for m in messages {
            buf.push_str(&m.to_string());
            buf.push('\n');
        }
        stdin.write_all(buf.as_bytes()).map_err(|e| e.to_string())?;
        stdin.flush().map_err(|e| e.to_string())
    }

    /// Waits for the exit; the status's success.
    fn wait_exit(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status.success());
            }
            if Instant::now() > deadline {
                return Err("did not exit in time".into());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    fn output(&mut self) -> String {
        while let Ok((_, l)) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.seen.join("\n")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.stdin.take();
        // SAFETY: kill(2) on our child's process group.
        unsafe {
            patchbay_testkit::libc::kill(
                -(self.child.id() as i32),
                patchbay_testkit::libc::SIGKILL,
            );
        }
        let _ = self.child.wait();
    }
}

fn patchbay(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(helper_bin());
    cmd.arg("mcp")
        .args(args)
        .env("PATCHBAY_DATA_DIR", data_dir)
        .env("PATCHBAY_LOG", "warn");
    cmd
}

/// `patchbay mcp login`: spawn → exit, the "browser" following the printed URL.
fn patchbay_login(fake: &FakeMcp, data_dir: &Path) -> Result<(Duration, Counters)> {
    fake.reset_counters();
    let t0 = Instant::now();
    let mut p = Spawned::start(patchbay(data_dir, &["login", &fake.mcp_url()]))?;
    let url = p.wait_line(Duration::from_secs(30), |_, l| {
        let l = l.trim();
        l.starts_with("http").then(|| l.to_owned())
    })?;
    let (_, back) = raw_get(&url)?;
    let back = back.ok_or("the authorization server did not redirect")?;
    raw_get(&back)?;
    let ok = p.wait_exit(Duration::from_secs(30))?;
    let took = t0.elapsed();
    if !ok {
        return Err(format!("patchbay mcp login failed:\n{}", p.output()));
    }
    Ok((took, fake.counters()))
}

fn patchbay_tools(fake: &FakeMcp, data_dir: &Path) -> Result<(Duration, Counters, String)> {
    fake.reset_counters();
    let t0 = Instant::now();
    let out = patchbay(data_dir, &["tools", &fake.mcp_url()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let took = t0.elapsed();
    if !out.status.success() {
        return Err(format!(
            "patchbay mcp tools failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((
        took,
        fake.counters(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// mcp-remote installed (once) under target/bench, never into the project's package.json.
fn mcp_remote_install() -> Result<PathBuf> {
    let dir = util::scratch().join("mcp-remote");
    let script = dir.join("node_modules/mcp-remote/dist/proxy.js");
    if script.exists() {
        return Ok(script);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("package.json"), "{\"private\": true}\n").map_err(|e| e.to_string())?;
    let out = Command::new("npm")
        .current_dir(&dir)
        .args(["install", "--no-audit", "--no-fund", MCP_REMOTE])
        .output()
        .map_err(|e| format!("npm: {e}"))?;
    if !out.status.success() || !script.exists() {
        return Err(format!(
            "npm install {MCP_REMOTE} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(script)
}

struct RemoteRun {
    /// Spawn → proxy established (signed in, connected).
    login: Duration,
    /// Spawn → `tools/list` answered through its stdio.
    login_and_tools: Duration,
    oauth_round_trips: u32,
    mcp_requests: u32,
}

fn mcp_remote_once(script: &Path, fake: &FakeMcp) -> Result<RemoteRun> {
    fake.reset_counters();
    let config = util::tempdir();
    let port = free_port();
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .arg(fake.mcp_url())
        .arg(port.to_string())
        .args(["--host", "127.0.0.1"])
        .env("MCP_REMOTE_CONFIG_DIR", config.path())
        .env("HOME", config.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("BROWSER", "true");
    let t0 = Instant::now();
    let mut p = Spawned::start(cmd)?;
    let url = p.wait_line(Duration::from_secs(60), |_, l| {
        let l = l.trim();
        (l.starts_with("http") && l.contains("/as/authorize")).then(|| l.to_owned())
    })?;
    let (_, back) = raw_get(&url)?;
    let back = back.ok_or("the authorization server did not redirect")?;
    raw_get(&back)?;
    p.wait_line(Duration::from_secs(60), |_, l| {
        l.contains("Proxy established").then_some(())
    })?;
    let login = t0.elapsed();
    p.send(&initialize(1))?;
    p.wait_line(Duration::from_secs(30), |out, l| {
        (out && l.contains("\"id\":1")).then_some(())
    })?;
    p.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
    p.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))?;
    p.wait_line(Duration::from_secs(30), |out, l| {
        (out && l.contains("\"id\":2") && l.contains("echo")).then_some(())
    })?;
    let login_and_tools = t0.elapsed();
    let c = fake.counters();
    Ok(RemoteRun {
        login,
        login_and_tools,
        oauth_round_trips: c.oauth_round_trips(),
        mcp_requests: c.mcp_requests,
    })
}

fn initialize(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "patchbay-bench", "version": "1"}}})
}

/// 50 concurrent `tools/call`s through one `patchbay mcp proxy`: with a valid token, then
/// right after every token expired. Returns (valid batch, expired batch, refresh grants).
fn refresh_storm(fake: &FakeMcp, data_dir: &Path) -> Result<(Duration, Duration, u32, u32)> {
    let mut p = Spawned::start(patchbay(data_dir, &["proxy", &fake.mcp_url()]))?;
    p.send(&initialize(1))?;
    p.wait_line(Duration::from_secs(30), |out, l| {
        (out && l.contains("\"id\":1")).then_some(())
    })?;
    p.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
    let batch = |p: &mut Spawned, first: usize| -> Result<Duration> {
        let calls: Vec<Value> = (0..CALLS)
            .map(|i| {
                json!({"jsonrpc": "2.0", "id": first + i, "method": "tools/call",
                       "params": {"name": "echo", "arguments": {"text": format!("call {i}")}}})
            })
            .collect();
        let t0 = Instant::now();
        p.send_all(&calls)?;
        let mut left = CALLS;
        p.wait_line(Duration::from_secs(60), |out, l| {
            if out && l.contains("\"result\"") {
                left -= 1;
            } else if out && l.contains("\"error\"") {
                return Some(Err(format!("a call failed: {l}")));
            }
            (left == 0).then_some(Ok(()))
        })??;
        Ok(t0.elapsed())
    };
    let warm = batch(&mut p, 100)?;
    let valid = batch(&mut p, 200)?;
    // Token expiry: the server refuses the old token, and the stored one looks expired.
    fake.expire_access_tokens();
    let tokens = data_dir.join("mcp-tokens.json");
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(&tokens).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if let Some(entry) = v.get_mut(fake.mcp_url()) {
        entry["expires_at"] = json!(1);
    }
    std::fs::write(&tokens, serde_json::to_vec_pretty(&v).unwrap()).map_err(|e| e.to_string())?;
    fake.reset_counters();
    let expired = batch(&mut p, 300)?;
    let c = fake.counters();
    let _ = warm;
    Ok((valid, expired, c.refreshes, c.token_errors))
}

pub fn run(section: &mut Section, refresh: &mut Section) {
    let help = Command::new(helper_bin()).args(["mcp", "--help"]).output();
    let built = help.map(|o| o.status.success()).unwrap_or(false);
    if !built {
        section.row(
            Row::not_measured("`patchbay mcp login`", "MCP CLI not built yet")
                .budget("≤ 1/5 of mcp-remote's", false),
        );
        refresh.row(Row::not_measured(
            "token-endpoint calls",
            "MCP CLI not built yet",
        ));
        return;
    }
    let fake = FakeMcp::start();
    let mut logins = Vec::new();
    let mut tools = Vec::new();
    let mut login_trips = 0;
    let mut tools_trips = (0, 0);
    let mut signed_in = None;
    for _ in 0..RUNS {
        let dir = util::tempdir();
        let r = util::retry_sync(3, || patchbay_login(&fake, dir.path()));
        match r {
            Ok((t, c)) => {
                logins.push(t);
                login_trips = c.oauth_round_trips();
                match patchbay_tools(&fake, dir.path()) {
                    Ok((t, c, out)) if out.contains("echo") => {
                        tools.push(t);
                        tools_trips = (c.oauth_round_trips(), c.mcp_requests);
                    }
                    Ok((_, _, out)) => {
                        section.failed("`patchbay mcp tools`", &format!("no echo tool in:\n{out}"))
                    }
                    Err(e) => section.failed("`patchbay mcp tools`", &e),
                }
                signed_in = Some(dir);
            }
            Err(e) => section.failed("`patchbay mcp login`", &e),
        }
    }

    let remote = mcp_remote_install().and_then(|script| {
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            runs.push(mcp_remote_once(&script, &fake)?);
        }
        Ok(runs)
    });
    let remote_version = remote.as_ref().map(|_| MCP_REMOTE).unwrap_or("mcp-remote");
    let (remote_login, remote_total) = match &remote {
        Ok(runs) => (
            Some(median(runs.iter().map(|r| r.login).collect())),
            Some(median(runs.iter().map(|r| r.login_and_tools).collect())),
        ),
        Err(e) => {
            section.note(format!(
                "mcp-remote could not be measured: {}",
                e.lines().next().unwrap_or(e)
            ));
            eprintln!("bench: mcp-remote: {e}");
            (None, None)
        }
    };

    if logins.is_empty() {
        section.row(
            Row::not_measured("`patchbay mcp login`", "every attempt failed")
                .budget("≤ 1/5 of mcp-remote's", false),
        );
    } else {
        let login = median(logins.clone());
        let mut row = Row::new(
            format!(
                "`patchbay mcp login` spawn → signed in, exit (median of {})",
                logins.len()
            ),
            ms(login),
        );
        row = match remote_login {
            Some(r) => {
                let q = ratio(login, r);
                row.vs(
                    format!("{remote_version} spawn → \"Proxy established\": {}", ms(r)),
                    q,
                )
                .budget("≤ 1/5 (0.20×) of mcp-remote's", q <= 0.2)
            }
            None => row
                .baseline("mcp-remote: not measured")
                .budget("≤ 1/5 of mcp-remote's", false),
        };
        section.row(row);
        if !tools.is_empty() {
            let t = median(tools.clone());
            let total = login + t;
            let mut row = Row::new(
                "login + `patchbay mcp tools` (two commands, medians)",
                format!("{} + {} = {}", ms(login), ms(t), ms(total)),
            );
            if let Some(r) = remote_total {
                row = row.vs(
                    format!("mcp-remote spawn → `tools/list` answered: {}", ms(r)),
                    ratio(total, r),
                );
            }
            section.row(row);
        }
        let mut row = Row::new(
            "HTTP round trips of the login (OAuth side)",
            login_trips.to_string(),
        );
        if let Ok(runs) = &remote {
            let r = runs.last().map(|r| r.oauth_round_trips).unwrap_or(0);
            row = row.vs(
                format!(
                    "mcp-remote login + tools/list: {r} OAuth + {} MCP",
                    runs.last().map(|r| r.mcp_requests).unwrap_or(0)
                ),
                f64::from(login_trips) / f64::from(r.max(1)),
            );
        }
        section.row(row);
        section.row(Row::new(
            "HTTP round trips of `patchbay mcp tools` (OAuth + MCP)",
            format!("{} + {}", tools_trips.0, tools_trips.1),
        ));
    }
    section.note(
        "Against `testkit::mcp::FakeMcp` (401 with resource_metadata → RFC 9728 → RFC 8414 → \
         dynamic registration → auto-approving authorize → PKCE token). The \"browser\" is the \
         bench: it reads the printed URL, GETs it, and GETs the redirect on the client's \
         loopback listener. Each login starts from an empty data folder (patchbay) or config \
         folder (mcp-remote), so both register a client. mcp-remote is a stdio proxy that signs \
         in at start; its login is timed to its own \"Proxy established\" log line, which it \
         prints once signed in and connected, the closest honest match for the end of \
         `patchbay mcp login`. Both include their runtime's start (a native binary, Node).",
    );

    // Refresh storm.
    match signed_in {
        Some(dir) => {
            match refresh_storm(&fake, dir.path()) {
                Ok((valid, expired, refreshes, errors)) => {
                    refresh.row(
                    Row::new(
                        format!("token-endpoint refresh calls for {CALLS} concurrent calls at expiry"),
                        refreshes.to_string(),
                    )
                    .budget("= 1", refreshes == 1 && errors == 0),
                );
                    refresh.row(
                        Row::new(
                            format!("{CALLS} concurrent calls at expiry, all answered"),
                            ms(expired),
                        )
                        .vs(
                            format!("same {CALLS} calls with a valid token: {}", ms(valid)),
                            ratio(expired, valid),
                        ),
                    );
                    refresh.row(Row::new(
                        "added latency (expired − valid batch)",
                        ms(expired.saturating_sub(valid)),
                    ));
                    refresh.note(format!(
                    "One `patchbay mcp proxy` receives {CALLS} `tools/call` messages at once on \
                     stdin, first with a valid token, then after the fake expired every access \
                     token and the stored `expires_at` was set in the past; the fake counts \
                     refresh grants."
                ));
                }
                Err(e) => refresh.failed("refresh at expiry", &e),
            }
        }
        None => refresh.row(Row::not_measured("refresh at expiry", "no login succeeded")),
    }
}
