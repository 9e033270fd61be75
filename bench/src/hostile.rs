//! The helper against hostile local clients (issue 17): 2,000 connections that send part of
//! a request head and stall, plus slowloris connections that trickle a header byte a
//! second, while a well-behaved client keeps calling `/api/health` and an authenticated
//! endpoint. Budgets: p99 of those calls under 50 ms, RSS under 100 MB throughout, and
//! back near idle once the hostile connections are gone.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use patchbay_testkit::rigs::Helper;

use crate::report::{Row, Section, ms};
use crate::util::{self, RssSampler, rss_kib};

const STALLED: usize = 2_000;
const SLOWLORIS: usize = 200;
/// Header bytes each stalled connection sends before it stops (under the 16 KiB cap, so
/// every one of them costs the helper a full read buffer).
const STALLED_HEAD_BYTES: usize = 12 * 1024;
/// How long the flood is held once open: longer than the helper's 10 s header-read
/// timeout, so the run shows every hostile connection closed.
const HOLD: Duration = Duration::from_secs(12);
const PROBE_EVERY: Duration = Duration::from_millis(25);

/// The hostile connections, open.
struct Flood {
    stalled: Vec<TcpStream>,
    slow: Vec<TcpStream>,
}

impl Flood {
    fn open(addr: SocketAddr) -> Flood {
        let filler =
            format!("X-Filler: {}\r\n", "a".repeat(1000)).repeat(STALLED_HEAD_BYTES / 1012);
        let head = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\n{filler}");
        let connect = |first: &[u8]| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
            s.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
            s.write_all(first).ok()?;
            Some(s)
        };
        let stalled = (0..STALLED)
            .filter_map(|_| connect(head.as_bytes()))
            .collect();
        let slow = (0..SLOWLORIS)
            .filter_map(|_| {
                connect(format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\nX-").as_bytes())
            })
            .collect();
        Flood { stalled, slow }
    }

    /// One more header byte on every slowloris connection.
    fn trickle(&mut self) {
        for s in &mut self.slow {
            let _ = s.write_all(b"a");
        }
    }

    /// How many connections the helper has closed (or answered, which it does only as it
    /// closes them): a read sees the end, a reset or an answer, not "nothing yet".
    fn closed_by_helper(&mut self) -> (usize, usize) {
        fn closed(s: &TcpStream) -> bool {
            let _ = s.set_nonblocking(true);
            let mut b = [0u8; 512];
            !matches!((&*s).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        }
        let count = |streams: &[TcpStream]| streams.iter().filter(|s| closed(s)).count();
        (count(&self.stalled), count(&self.slow))
    }
}

/// A well-behaved client: fresh connections, one request each, timed; or what went wrong.
fn timed_get(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
) -> std::result::Result<Duration, String> {
    let t0 = Instant::now();
    match util::request(addr, path, bearer)? {
        200 => Ok(t0.elapsed()),
        status => Err(format!("answered {status}")),
    }
}

/// Where the flood is when a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Before,
    Opening,
    Held,
    After,
}

impl Phase {
    const ALL: [Phase; 4] = [Phase::Before, Phase::Opening, Phase::Held, Phase::After];

    fn describe(self) -> &'static str {
        match self {
            Phase::Before => "before the flood",
            Phase::Opening => "while the flood was being opened",
            Phase::Held => "while it was held",
            Phase::After => "after it closed",
        }
    }
}

/// The failed calls, counted by what failed, when: `connect: timed out after 200 ms while
/// the flood was being opened (GET /api/health) ×1`.
fn failures_summary(failures: &[(Phase, &'static str, String)]) -> String {
    let mut counted: std::collections::BTreeMap<(Phase, &str, &str), usize> = Default::default();
    for (phase, path, how) in failures {
        *counted.entry((*phase, path, how)).or_default() += 1;
    }
    counted
        .iter()
        .map(|((phase, path, how), n)| format!("{how} {} (GET {path}) ×{n}", phase.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The kernel's count of connections dropped because a listen queue was full (TcpExt
/// ListenOverflows; for the whole network namespace, so other work on the machine counts).
fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut tcp_ext = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (tcp_ext.next()?, tcp_ext.next()?);
    let at = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

fn p99(mut samples: Vec<Duration>) -> Option<Duration> {
    samples.sort();
    let i = (samples.len() * 99).div_ceil(100).checked_sub(1)?;
    samples.get(i).copied()
}

pub fn run(section: &mut Section) {
    let helper = match util::helper().try_start() {
        Ok(h) => h,
        Err(e) => return section.failed("the helper for the hostile-client run", &e),
    };
    if let Err(e) = flood(&helper, section) {
        section.failed("hostile clients", &e);
    }
}

fn flood(helper: &Helper, section: &mut Section) -> util::Result {
    let addr = helper.addr;
    let token = helper.token.clone();
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss_kib(helper.pid()).ok_or("no RSS for the helper")?;
    let sampler = RssSampler::start(helper.pid());

    // The well-behaved client runs all along, from before the flood to after.
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicUsize::new(0));
    let prober = {
        let (stop, phase, token) = (stop.clone(), phase.clone(), token.clone());
        std::thread::spawn(move || {
            let (mut health, mut authed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                for (path, bearer, times) in [
                    ("/api/health", None, &mut health),
                    ("/api/connectors", Some(token.as_str()), &mut authed),
                ] {
                    match timed_get(addr, path, bearer) {
                        Ok(t) => times.push(t),
                        Err(how) => {
                            failed.push((Phase::ALL[phase.load(Ordering::Relaxed)], path, how))
                        }
                    }
                }
                std::thread::sleep(PROBE_EVERY);
            }
            (health, authed, failed)
        })
    };
    let enter = |p: Phase| phase.store(p as usize, Ordering::Relaxed);

    let overflows_before = listen_overflows();
    let opened = Instant::now();
    enter(Phase::Opening);
    let mut flood = Flood::open(addr);
    enter(Phase::Held);
    let open_time = opened.elapsed();
    let (stalled, slow) = (flood.stalled.len(), flood.slow.len());
    let holding = Instant::now();
    let mut during = 0;
    while holding.elapsed() < HOLD {
        flood.trickle();
        during = during.max(rss_kib(helper.pid()).unwrap_or(0));
        std::thread::sleep(Duration::from_secs(1));
    }
    let (stalled_closed, slow_closed) = flood.closed_by_helper();
    drop(flood);
    enter(Phase::After);
    // Let the helper notice the closes and give memory back.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let (health, authed, failed) = prober.join().map_err(|_| "the probing thread panicked")?;
    let peak = sampler.peak_kib();
    let after = rss_kib(helper.pid()).ok_or("no RSS for the helper after the flood")?;
    let mb = |kib: u64| kib as f64 / 1024.0;

    section.row(Row::new(
        format!(
            "hostile connections opened ({STALLED} stalled with {} KiB of headers, \
             {SLOWLORIS} slowloris)",
            STALLED_HEAD_BYTES / 1024
        ),
        format!("{} + {} in {}", stalled, slow, ms(open_time)),
    ));
    section.row(Row::new(
        format!(
            "closed by the helper within {} s (header-read timeout 10 s)",
            HOLD.as_secs()
        ),
        format!("{stalled_closed} of {stalled} stalled, {slow_closed} of {slow} slowloris"),
    ));
    for (what, samples) in [
        ("`GET /api/health`", health),
        ("authenticated `GET /api/connectors`", authed),
    ] {
        let n = samples.len();
        match p99(samples) {
            Some(p) => section.row(
                Row::new(format!("{what} p99 during the flood ({n} calls)"), ms(p))
                    .budget("< 50 ms", p < Duration::from_millis(50)),
            ),
            None => section.row(
                Row::not_measured(format!("{what} during the flood"), "no call answered")
                    .budget("< 50 ms", false),
            ),
        }
    }
    let failures = if failed.is_empty() {
        "0".to_owned()
    } else {
        format!("{}: {}", failed.len(), failures_summary(&failed))
    };
    section.row(
        Row::new("well-behaved calls that failed during the flood", failures)
            .budget("= 0", failed.is_empty()),
    );
    let overflows = match (overflows_before, listen_overflows()) {
        (Some(before), Some(after)) => after.saturating_sub(before).to_string(),
        _ => "not readable".to_owned(),
    };
    section.row(Row::new(
        "connections the kernel dropped from a full listen queue (TcpExt ListenOverflows, \
         whole machine)",
        overflows,
    ));
    section.row(
        Row::new(
            "RSS peak during the flood",
            format!("{:.1} MB", mb(peak.max(during))),
        )
        .baseline(format!("idle: {:.1} MB", mb(idle)))
        .budget("< 100 MB", mb(peak.max(during)) < 100.0),
    );
    section.row(
        Row::new("RSS 3 s after the flood", format!("{:.1} MB", mb(after)))
            .vs(
                format!("idle: {:.1} MB", mb(idle)),
                after as f64 / idle as f64,
            )
            .budget("≤ idle + 10 MB", mb(after) <= mb(idle) + 10.0),
    );
    section.note(format!(
        "The flood opens {STALLED} connections that each send a request line and \
         {} KiB of headers and then nothing, and {SLOWLORIS} that send one more header byte \
         each second. A client opens a fresh connection every {} ms for `/api/health` and \
         for `/api/connectors` with the pairing token. Before issue 17, 2,000 stalled \
         connections took the helper from 18 MB to 1.1 GB and it kept the memory.",
        STALLED_HEAD_BYTES / 1024,
        PROBE_EVERY.as_millis()
    ));
    Ok(())
}
