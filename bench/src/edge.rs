//! The edge Worker: upload size from `wrangler deploy --dry-run`, a fresh `wrangler dev`'s
//! first answer, and requests/s under workerd.

use std::time::{Duration, Instant};

use patchbay_testkit::rigs::VercelEdge;
use patchbay_testkit::rigs::wrangler::deploy_dry_run;

use crate::report::{Row, Section, kib, ms, ratio};
use crate::util::{self, LOAD_SECS, Result, probe};

const FREE_PLAN: u64 = 3 * 1024 * 1024;
const BUDGET: u64 = 1024 * 1024;

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
    let dry_run = deploy_dry_run()?;
    let wasm = walk(dry_run.out_dir.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .max_by_key(|p| p.metadata().map(|m| m.len()).unwrap_or(0));
    let raw = wasm
        .as_ref()
        .and_then(|p| p.metadata().ok())
        .map(|m| m.len());
    let gz = wasm.as_ref().and_then(|p| util::gzip_size(p).ok());
    Ok((dry_run.upload_gzip, raw, gz))
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
    // The fake Vercel's vars; the edge token and key through an env file, never argv.
    let VercelEdge {
        mut edge,
        fake: _fake,
        server: _server,
    } = VercelEdge::spawn(&[])?;
    let edge_token = VercelEdge::TOKEN;
    let addr = edge.addr();
    let path = "/.well-known/oauth-protected-resource";
    let t0 = edge.spawned_at;
    let first = loop {
        let t = Instant::now();
        if probe(addr, path, None) == Some(200) {
            break (t0.elapsed(), t.elapsed());
        }
        if edge.has_exited() {
            return Err(format!("wrangler dev exited:\n{}", edge.output()));
        }
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(format!("wrangler dev did not answer:\n{}", edge.output()));
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
            ms(edge.migrations_took)
        )),
    );
    section.row(
        Row::new("that first request's own latency", ms(first.1)).vs(
            format!("the second request: {}", ms(second)),
            ratio(first.1, second),
        ),
    );

    let status_path = "/api/connectors/vercel/status";
    if probe(addr, status_path, Some(edge_token)) != Some(200) {
        return Err(format!(
            "{status_path} did not answer 200:\n{}",
            edge.output()
        ));
    }
    let base = util::wrk(&format!("http://{addr}{path}"), None, LOAD_SECS);
    let status = util::wrk(
        &format!("http://{addr}{status_path}"),
        Some(edge_token),
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
    Ok(())
}
