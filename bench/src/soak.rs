//! The soak (issue 17): 1,000 consecutive Drive flows through one helper and 1,000 MCP
//! calls through one `patchbay mcp proxy`. What must stay flat is the process's open file
//! descriptors and RSS: a leak of a pipe, a socket or a session shows here long before a
//! person would notice it. `PATCHBAY_BENCH_SOAK=N` runs N of each instead (a quick check).

use std::time::{Duration, Instant};

use patchbay_testkit::mcp::FakeMcp;
use patchbay_testkit::process::machine_port;
use serde_json::json;

use crate::mcp::{handshake, patchbay, patchbay_login, send, spawn};
use crate::rclone::{Rig, one_flow};
use crate::report::{Row, Section};
use crate::util::{self, Result, rss_kib};

const SOAK: usize = 1_000;
/// Samples taken over a run (the first after the first tenth, as a warmed-up baseline).
const SAMPLES: usize = 10;

fn rounds() -> usize {
    std::env::var("PATCHBAY_BENCH_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SOAK)
}

fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// File descriptors and RSS (KiB) of a process, sampled during a run.
#[derive(Default)]
struct Trace {
    fds: Vec<usize>,
    rss: Vec<u64>,
}

impl Trace {
    fn sample(&mut self, pid: u32) {
        if let (Some(fds), Some(rss)) = (open_fds(pid), rss_kib(pid)) {
            self.fds.push(fds);
            self.rss.push(rss);
        }
    }

    /// Rows: fds and RSS after the first tenth and at the end. Budget: no fd more than at
    /// the warmed-up sample, RSS within 10 % (+2 MB for allocator noise).
    fn report(&self, what: &str, n: usize, elapsed: Duration, section: &mut Section) {
        let (Some(fd0), Some(fd1), Some(rss0), Some(rss1)) = (
            self.fds.first(),
            self.fds.last(),
            self.rss.first(),
            self.rss.last(),
        ) else {
            return section.failed(what, "no sample of the process was taken");
        };
        let mb = |kib: u64| kib as f64 / 1024.0;
        section.row(
            Row::new(
                format!(
                    "{what}: open file descriptors over {n} ({:.0} s)",
                    elapsed.as_secs_f64()
                ),
                format!(
                    "{fd0} → {fd1} (max {})",
                    self.fds.iter().max().unwrap_or(fd1)
                ),
            )
            .budget("flat (end ≤ warmed-up)", fd1 <= fd0),
        );
        section.row(
            Row::new(
                format!("{what}: RSS over {n}"),
                format!(
                    "{:.1} MB → {:.1} MB (max {:.1} MB)",
                    mb(*rss0),
                    mb(*rss1),
                    mb(*self.rss.iter().max().unwrap_or(rss1))
                ),
            )
            .budget(
                "flat (end ≤ warmed-up × 1.1 + 2 MB)",
                mb(*rss1) <= mb(*rss0) * 1.1 + 2.0,
            ),
        );
    }
}

pub async fn drive_flows(section: &mut Section) {
    // Held for the whole soak: the other engineers' tests take the same machine-wide lock.
    let _port = tokio::task::block_in_place(|| machine_port(53682));
    let rig = match Rig::start() {
        Ok(r) => r,
        Err(e) => return section.failed("soak: the helper with the fake provider", &e),
    };
    let n = rounds();
    let every = (n / SAMPLES).max(1);
    let mut trace = Trace::default();
    let t0 = Instant::now();
    for i in 0..n {
        if let Err(e) = one_flow(&rig, i % 50, false).await {
            return section.failed(&format!("soak: Drive flow {i}"), &e);
        }
        if (i + 1) % every == 0 {
            trace.sample(rig.helper.pid());
        }
    }
    trace.report("Drive flows (one helper)", n, t0.elapsed(), section);
}

pub fn mcp_calls(section: &mut Section) {
    if let Err(e) = mcp_soak(section) {
        section.failed("soak: MCP calls through the proxy", &e);
    }
}

fn mcp_soak(section: &mut Section) -> Result {
    let fake = FakeMcp::start();
    let dir = util::tempdir();
    {
        let _port = machine_port(53682);
        patchbay_login(&fake, dir.path())?;
    }
    let mut proxy = spawn(patchbay(dir.path(), &["proxy", &fake.mcp_url()]))?;
    handshake(&mut proxy)?;
    let n = rounds();
    let every = (n / SAMPLES).max(1);
    let mut trace = Trace::default();
    let t0 = Instant::now();
    for i in 0..n {
        let id = 1000 + i;
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"text": format!("soak {i}")}}});
        send(&mut proxy, &[call])?;
        let needle = format!("\"id\":{id}");
        proxy.next_line(Duration::from_secs(30), |l| {
            (l.stdout && l.text.contains(&needle)).then(|| {
                if l.text.contains("\"result\"") {
                    Ok(())
                } else {
                    Err(format!("call {i} failed: {}", l.text))
                }
            })
        })??;
        if (i + 1) % every == 0 {
            trace.sample(proxy.pid());
        }
    }
    trace.report(
        "MCP calls (one `patchbay mcp proxy`)",
        n,
        t0.elapsed(),
        section,
    );
    Ok(())
}
