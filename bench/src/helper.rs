//! The helper on its own: start-up, memory, requests/s and latency under 64 connections.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patchbay_testkit::process::free_port;
use patchbay_testkit::rigs::Helper;

use crate::report::{Row, Section, median, ms, ratio};
use crate::util::{self, LOAD_SECS, RssSampler, helper_bin, probe, rss_kib};

const STARTS: usize = 7;

/// Spawn → first `200` from `/api/health`, probing on fresh connections every 0.5 ms.
/// Returns the time and the still running helper (for idle RSS).
fn start_once() -> util::Result<(Duration, Helper)> {
    let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut helper = util::helper().listen(addr).spawn()?;
    let t0 = helper.spawned_at;
    loop {
        if probe(addr, "/api/health", None) == Some(200) {
            return Ok((t0.elapsed(), helper));
        }
        if helper.has_exited() {
            return Err(format!("the helper exited:\n{}", helper.output()));
        }
        if t0.elapsed() > Duration::from_secs(20) {
            return Err("the helper did not answer within 20 s".into());
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// `patchbay --version`: exec, load and exit of the same binary, serving nothing.
fn exec_floor() -> Duration {
    let t0 = Instant::now();
    let _ = Command::new(helper_bin())
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    t0.elapsed()
}

pub fn start_and_idle(section: &mut Section) {
    let mut times = Vec::new();
    let mut floors = Vec::new();
    let mut idle = None;
    for i in 0..STARTS {
        floors.push(exec_floor());
        match start_once() {
            Ok((t, helper)) => {
                times.push(t);
                if i == 0 {
                    // Idle: a second after start-up, nothing asked.
                    std::thread::sleep(Duration::from_secs(1));
                    idle = rss_kib(helper.pid());
                }
            }
            Err(e) => section.failed("start → first answered request", &e),
        }
    }
    if !times.is_empty() {
        let start = median(times.clone());
        let floor = median(floors);
        section.row(
            Row::new(
                format!(
                    "start → first answered `GET /api/health` (median of {})",
                    times.len()
                ),
                ms(start),
            )
            .vs(
                format!("`patchbay --version` exec → exit: {}", ms(floor)),
                ratio(start, floor),
            )
            .budget("≤ 100 ms", start <= Duration::from_millis(100)),
        );
    }
    match idle {
        Some(kib) => section.row(
            Row::new(
                "idle RSS (1 s after start)",
                format!("{:.1} MB", kib as f64 / 1024.0),
            )
            .budget("≤ 20 MB", kib as f64 / 1024.0 <= 20.0),
        ),
        None => section.row(
            Row::not_measured("idle RSS", "the helper did not start").budget("≤ 20 MB", false),
        ),
    }
}

/// Requests/s and latency of the helper's hot reads, and the RSS peak while serving them.
pub fn load(rig_helper: &Helper, session_id: Option<&str>, section: &mut Section) {
    let token = Some(rig_helper.token.as_str());
    let health = util::wrk(&rig_helper.url("/api/health"), None, LOAD_SECS);
    let sampler = RssSampler::start(rig_helper.pid());
    let connectors = util::wrk(&rig_helper.url("/api/connectors"), token, LOAD_SECS);
    let session = session_id.map(|id| {
        util::wrk(
            &rig_helper.url(&format!("/api/connectors/gdrive/sessions/{id}")),
            token,
            LOAD_SECS,
        )
    });
    let peak = sampler.peak_kib();
    let base = match &health {
        Ok(h) => {
            section.row(Row::new(
                format!(
                    "`GET /api/health` (no token, no files), {} connections",
                    util::CONNECTIONS
                ),
                h.summary(),
            ));
            Some(h.rps)
        }
        Err(e) => {
            section.failed("GET /api/health under load", e);
            None
        }
    };
    let with_base = |row: Row, rps: f64| match base {
        Some(b) => row.vs(format!("`/api/health`: {b:.0} req/s"), rps / b),
        None => row,
    };
    match connectors {
        Ok(l) => {
            let row = with_base(
                Row::new(
                    format!("`GET /api/connectors`, {} connections", util::CONNECTIONS),
                    l.summary(),
                ),
                l.rps,
            );
            section.row(match base {
                Some(b) => row.budget("≥ 0.60× `/api/health`", l.rps / b >= 0.6),
                None => row.budget("≥ 0.60× `/api/health`", false),
            })
        }
        Err(e) => section.failed("GET /api/connectors under load", &e),
    }
    match session {
        Some(Ok(l)) => section.row(with_base(
            Row::new(
                format!(
                    "session poll `GET …/gdrive/sessions/{{id}}`, {} connections",
                    util::CONNECTIONS
                ),
                l.summary(),
            ),
            l.rps,
        )),
        Some(Err(e)) => section.failed("session poll under load", &e),
        None => section.row(Row::not_measured(
            "session poll under load",
            "no session was created",
        )),
    }
    section.row(Row::new(
        "RSS peak under load (during the two runs above)",
        format!("{:.1} MB", peak as f64 / 1024.0),
    ));
    section.note(format!(
        "Load: `wrk -t2 -c{} -d{LOAD_SECS}s` on loopback; the pairing token reaches wrk through \
         an environment variable read by a Lua script, never argv. The overview's answer \
         (rclone.conf with 3 remotes, mcp-tokens.json, connectors.json) is kept until one of \
         those files changes, so a request costs three `stat`s. The helper and wrk \
         share the 2 cores, so the ratio to `/api/health` (same server, no auth, no files) is \
         the comparable number.",
        util::CONNECTIONS
    ));
}
