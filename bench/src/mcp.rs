//! MCP: `patchbay mcp login` and `tools` against the fake MCP server + authorization server
//! (auto-approving), mcp-remote (npm) against the same fake in the same run, the step-up
//! (403 `insufficient_scope` → new sign-in → retried call) at a terminal, each next to the
//! round trips the specification cannot do without, and 50 concurrent calls through
//! `patchbay mcp proxy` at token expiry.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patchbay_testkit::mcp::{Counters, FakeMcp};
use patchbay_testkit::process::{Line, Running, free_port};
use serde_json::{Value, json};

use crate::report::{Row, Section, median, ms, ratio};
use crate::util::{self, Result, helper_bin, raw_get};

const RUNS: usize = 3;
const MCP_REMOTE: &str = "mcp-remote@0.15.1";
const CALLS: usize = 50;

/// A program with a stdin of ours, in its own process group (killed, group-wide, on drop).
fn spawn(cmd: Command) -> Result<Running> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    Running::try_start_with_stdin(&name, cmd)
}

/// Sends JSON-RPC messages in one write, one per line, so they arrive together.
fn send(p: &mut Running, messages: &[Value]) -> Result {
    let lines: Vec<String> = messages.iter().map(Value::to_string).collect();
    p.write_line(&lines.join("\n"))
}

/// The first stdout line (after those already read) that answers request `id`.
fn answer(line: &Line, id: u64) -> bool {
    line.stdout && line.text.contains(&format!("\"id\":{id}"))
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
    let mut p = spawn(patchbay(data_dir, &["login", &fake.mcp_url()]))?;
    let url = p.next_line(Duration::from_secs(30), |l| {
        let l = l.text.trim();
        l.starts_with("http").then(|| l.to_owned())
    })?;
    let (_, back) = raw_get(&url)?;
    let back = back.ok_or("the authorization server did not redirect")?;
    raw_get(&back)?;
    let ok = p.wait_exit(Duration::from_secs(30))?.success();
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

/// The round trips a first sign-in cannot do without under the MCP specification: the 401,
/// the protected-resource metadata, the authorization-server metadata, a dynamic
/// registration (none with a metadata document), the authorization and the token request.
const SPEC_MINIMUM_LOGIN: u32 = 6;
/// A step-up with the metadata known: the authorization and the token request.
const SPEC_MINIMUM_STEP_UP: u32 = 2;

/// `patchbay mcp call URL admin` at a terminal (a pty from `script`) after the grant lacks
/// the scope: 403 → new sign-in (the "browser" follows the printed URL) → retried call.
fn step_up(fake: &FakeMcp, data_dir: &Path) -> Result<(Duration, Counters)> {
    fake.reset_counters();
    let inner = patchbay(data_dir, &["call", &fake.mcp_url(), "admin"]);
    let line: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", &line.join(" "), "/dev/null"])
        .env("PATCHBAY_DATA_DIR", data_dir)
        .env("PATCHBAY_LOG", "warn");
    let t0 = Instant::now();
    let mut p = spawn(cmd)?;
    let url = p.next_line(Duration::from_secs(30), |l| {
        let l = l.text.trim();
        l.starts_with("http").then(|| l.to_owned())
    })?;
    let (_, back) = raw_get(&url)?;
    raw_get(&back.ok_or("the authorization server did not redirect")?)?;
    let ok = p.wait_exit(Duration::from_secs(30))?.success();
    let took = t0.elapsed();
    if !ok || !p.output().contains("admin done") {
        return Err(format!("the step-up failed:\n{}", p.output()));
    }
    Ok((took, fake.counters()))
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
    let mut p = spawn(cmd)?;
    let url = p.next_line(Duration::from_secs(60), |l| {
        let l = l.text.trim();
        (l.starts_with("http") && l.contains("/as/authorize")).then(|| l.to_owned())
    })?;
    let (_, back) = raw_get(&url)?;
    let back = back.ok_or("the authorization server did not redirect")?;
    raw_get(&back)?;
    p.next_line(Duration::from_secs(60), |l| {
        l.text.contains("Proxy established").then_some(())
    })?;
    let login = t0.elapsed();
    handshake(&mut p)?;
    send(
        &mut p,
        &[json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})],
    )?;
    p.next_line(Duration::from_secs(30), |l| {
        (answer(l, 2) && l.text.contains("echo")).then_some(())
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

/// The MCP handshake a stdio client opens with: `initialize`, its answer, `initialized`.
fn handshake(p: &mut Running) -> Result {
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "patchbay-bench", "version": "1"}}});
    send(p, &[initialize])?;
    p.next_line(Duration::from_secs(30), |l| answer(l, 1).then_some(()))?;
    send(
        p,
        &[json!({"jsonrpc": "2.0", "method": "notifications/initialized"})],
    )
}

/// 50 concurrent `tools/call`s through one `patchbay mcp proxy`: with a valid token, then
/// right after every token expired. Returns (valid batch, expired batch, refresh grants).
fn refresh_storm(fake: &FakeMcp, data_dir: &Path) -> Result<(Duration, Duration, u32, u32)> {
    let mut p = spawn(patchbay(data_dir, &["proxy", &fake.mcp_url()]))?;
    handshake(&mut p)?;
    let batch = |p: &mut Running, first: usize| -> Result<Duration> {
        let calls: Vec<Value> = (0..CALLS)
            .map(|i| {
                json!({"jsonrpc": "2.0", "id": first + i, "method": "tools/call",
                       "params": {"name": "echo", "arguments": {"text": format!("call {i}")}}})
            })
            .collect();
        let t0 = Instant::now();
        send(p, &calls)?;
        let mut left = CALLS;
        p.next_line(Duration::from_secs(60), |l| {
            if l.stdout && l.text.contains("\"result\"") {
                left -= 1;
            } else if l.stdout && l.text.contains("\"error\"") {
                return Some(Err(format!("a call failed: {}", l.text)));
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
        section.row(
            Row::new(
                "HTTP round trips of the first login (OAuth side)",
                login_trips.to_string(),
            )
            .baseline(format!("spec minimum: {SPEC_MINIMUM_LOGIN}"))
            .budget(
                format!("= {SPEC_MINIMUM_LOGIN} (spec minimum)"),
                login_trips == SPEC_MINIMUM_LOGIN,
            ),
        );
        section.row(Row::new(
            "HTTP round trips of `patchbay mcp tools` (OAuth + MCP)",
            format!("{} + {}", tools_trips.0, tools_trips.1),
        ));
        if let Some(dir) = &signed_in {
            match step_up(&fake, dir.path()) {
                Ok((took, c)) => {
                    let trips = c.oauth_round_trips() - c.mcp_unauthorized;
                    section.row(Row::new(
                        "step-up: `call` → 403 → sign-in → retried call answered (at a pty)",
                        ms(took),
                    ));
                    section.row(
                        Row::new(
                            "HTTP round trips of the step-up (OAuth side)",
                            trips.to_string(),
                        )
                        .baseline(format!("spec minimum: {SPEC_MINIMUM_STEP_UP}"))
                        .budget(
                            format!("= {SPEC_MINIMUM_STEP_UP} (spec minimum)"),
                            trips == SPEC_MINIMUM_STEP_UP,
                        ),
                    );
                }
                Err(e) => section.failed("step-up", &e),
            }
        }
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
