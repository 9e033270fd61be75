//! The edge Worker: upload size from `wrangler deploy --dry-run`, a fresh `wrangler dev`'s
//! first answer, and requests/s under workerd.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patchbay_testkit::process::{Running, free_port, workspace_root};
use patchbay_testkit::vercel::FakeVercel;

use crate::report::{Row, Section, kib, ms, ratio};
use crate::util::{self, LOAD_SECS, Result, probe, wrangler_bin};

const FREE_PLAN: u64 = 3 * 1024 * 1024;
const BUDGET: u64 = 1024 * 1024;
/// Base64 of the bytes 0..32: a bench-only key, passed with `--var`.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn wrangler(args: &[&str], log_dir: &std::path::Path) -> Command {
    let mut c = Command::new(wrangler_bin());
    c.current_dir(workspace_root().join("edge"))
        .args(args)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_LOG_PATH", log_dir.join("logs"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

pub fn size(section: &mut Section) {
    match dry_run() {
        Ok((upload_gz, wasm_raw, wasm_gz)) => {
            section.row(
                Row::new(
                    "Worker upload, gzip (`wrangler deploy --dry-run`)",
                    kib(upload_gz),
                )
                .vs("free-plan limit 3 MiB", upload_gz as f64 / FREE_PLAN as f64)
                .budget("≤ 1 MiB", upload_gz <= BUDGET),
            );
            if let (Some(raw), Some(gz)) = (wasm_raw, wasm_gz) {
                section.row(
                    Row::new("Worker wasm alone, gzip -9", kib(gz))
                        .vs(format!("raw: {}", kib(raw)), gz as f64 / raw as f64),
                );
            }
        }
        Err(e) => {
            section.failed("Worker size", &e);
            section.row(
                Row::not_measured("Worker upload, gzip", "dry run failed").budget("≤ 1 MiB", false),
            );
        }
    }
}

fn dry_run() -> Result<(u64, Option<u64>, Option<u64>)> {
    if !workspace_root().join("edge/build/worker/shim.mjs").exists() {
        return Err("edge/build is missing (run `cargo xtask build`)".into());
    }
    let out_dir = util::tempdir();
    let out = wrangler(&["deploy", "--dry-run", "--outdir"], out_dir.path())
        .arg(out_dir.path())
        .output()
        .map_err(|e| format!("wrangler: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!("wrangler deploy --dry-run failed:\n{text}"));
    }
    // "Total Upload: 650.12 KiB / gzip: 250.34 KiB"
    let gzip = text
        .lines()
        .find_map(|l| l.split_once("gzip:").map(|(_, r)| r.trim().to_owned()))
        .ok_or_else(|| format!("no size in wrangler's output:\n{text}"))?;
    let (number, unit) = gzip.split_once(' ').ok_or("unexpected size")?;
    let number: f64 = number.parse().map_err(|_| format!("size {gzip:?}"))?;
    let bytes = number
        * match unit.trim() {
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "B" | "bytes" => 1.0,
            other => return Err(format!("unit {other}")),
        };
    let wasm = walk(out_dir.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .max_by_key(|p| p.metadata().map(|m| m.len()).unwrap_or(0));
    let raw = wasm
        .as_ref()
        .and_then(|p| p.metadata().ok())
        .map(|m| m.len());
    let gz = wasm.as_ref().and_then(|p| util::gzip_size(p).ok());
    Ok((bytes as u64, raw, gz))
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn dev(section: &mut Section) {
    if let Err(e) = dev_inner(section) {
        section.failed("wrangler dev", &e);
    }
}

fn dev_inner(section: &mut Section) -> Result {
    let fake = FakeVercel::new();
    let server = fake.serve();
    let edge_token = util::pairing_token();
    let vars: Vec<(&str, String)> = FakeVercel::edge_vars(&server.url());

    let state = util::tempdir();
    let t = Instant::now();
    let migrate = wrangler(
        &["d1", "migrations", "apply", "DB", "--local", "--persist-to"],
        state.path(),
    )
    .arg(state.path())
    .output()
    .map_err(|e| format!("wrangler: {e}"))?;
    if !migrate.status.success() {
        return Err(format!(
            "wrangler d1 migrations apply failed:\n{}{}",
            String::from_utf8_lossy(&migrate.stdout),
            String::from_utf8_lossy(&migrate.stderr)
        ));
    }
    let migrate_time = t.elapsed();

    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut cmd = wrangler(
        &[
            "dev",
            "--ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--show-interactive-dev-session=false",
        ],
        state.path(),
    );
    cmd.arg("--inspector-port")
        .arg(free_port().to_string())
        .arg("--persist-to")
        .arg(state.path());
    // The secrets go through an env file (like edge/.dev.vars), not argv.
    let env_file = state.path().join("bench.vars");
    std::fs::write(
        &env_file,
        format!("PATCHBAY_EDGE_TOKEN={edge_token}\nPATCHBAY_ENCRYPTION_KEY={KEY}\n"),
    )
    .map_err(|e| e.to_string())?;
    cmd.arg("--env-file").arg(&env_file);
    for (k, v) in &vars {
        cmd.arg("--var").arg(format!("{k}:{v}"));
    }
    let t0 = Instant::now();
    let mut process = Running::start("wrangler dev", cmd);
    let path = "/.well-known/oauth-protected-resource";
    let first = loop {
        let t = Instant::now();
        if probe(addr, path, None) == Some(200) {
            break (t0.elapsed(), t.elapsed());
        }
        if process.has_exited() {
            return Err(format!("wrangler dev exited:\n{}", process.output()));
        }
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "wrangler dev did not answer:\n{}",
                process.output()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let t = Instant::now();
    probe(addr, path, None);
    let second = t.elapsed();
    section.row(
        Row::new(
            "fresh `wrangler dev`: spawn → first answered request",
            ms(first.0),
        )
        .baseline(format!(
            "(D1 migrations applied before, {})",
            ms(migrate_time)
        )),
    );
    section.row(
        Row::new("that first request's own latency", ms(first.1)).vs(
            format!("the second request: {}", ms(second)),
            ratio(first.1, second),
        ),
    );

    let status_path = "/api/connectors/vercel/status";
    if probe(addr, status_path, Some(&edge_token)) != Some(200) {
        return Err(format!(
            "{status_path} did not answer 200:\n{}",
            process.output()
        ));
    }
    let base = util::wrk(&format!("http://{addr}{path}"), None, LOAD_SECS);
    let status = util::wrk(
        &format!("http://{addr}{status_path}"),
        Some(&edge_token),
        LOAD_SECS,
    );
    match (&status, &base) {
        (Ok(s), Ok(b)) => {
            section.row(Row::new(
                format!("`{path}` (no D1), {} connections", util::CONNECTIONS),
                b.summary(),
            ));
            section.row(
                Row::new(
                    format!(
                        "`GET {status_path}` (bearer, D1 read), {} connections",
                        util::CONNECTIONS
                    ),
                    s.summary(),
                )
                .vs(format!("`{path}`: {:.0} req/s", b.rps), s.rps / b.rps),
            );
        }
        (Err(e), _) | (_, Err(e)) => section.failed("edge under load", e),
    }
    section.note(
        "`wrangler dev` (workerd, local D1 in a fresh folder) with the fake Vercel's vars; the \
         first request is polled every 5 ms from the spawn on. Under load, workerd, wrangler's \
         node process and wrk share the 2 cores.",
    );
    drop(process);
    Ok(())
}
