//! The soak (issue 17): 1,000 consecutive Drive flows through one helper and 1,000 MCP
//! calls through one `patchbay mcp proxy`. What must stay flat is the process's open file
//! descriptors and RSS: a leak of a pipe, a socket or a session shows here long before a
//! person would notice it. `PATCHBAY_BENCH_SOAK=N` runs N of each instead (a quick check).
//! The helper's connections from the bench's own HTTP client (its keep-alive pool holds one
//! or two, however many the last flow used) are shown but not counted, and a count that grew
//! names the kinds that grew (`pipe +1`).

use std::collections::{BTreeMap, HashSet};
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

/// What the soak's own HTTP client holds open to the helper: its pooled keep-alive
/// connections (one or two, however many the last flow used), counted apart.
const CLIENT_CONNECTIONS: &str = "the bench's connections to it";

/// A process's open file descriptors by kind: `socket`, `pipe`, `anon_inode:[eventfd]`, the
/// file's path, or [`CLIENT_CONNECTIONS`] for a socket accepted on `port`.
fn open_fds(pid: u32, port: Option<u16>) -> Option<BTreeMap<String, usize>> {
    let accepted = port.map(accepted_on).unwrap_or_default();
    let mut kinds = BTreeMap::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        // `socket:[12345]` → `socket`: the inode differs for every one.
        let kind = match target.split_once(":[") {
            Some((_, inode)) if accepted.contains(inode.trim_end_matches(']')) => {
                CLIENT_CONNECTIONS.to_owned()
            }
            Some((kind, _)) if !kind.starts_with("anon_inode") => kind.to_owned(),
            _ => target.into_owned(),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    Some(kinds)
}

/// The inodes of TCP connections on local `port` (accepted there, not the listener).
fn accepted_on(port: u16) -> HashSet<String> {
    const LISTEN: &str = "0A";
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
            // timeout inode …
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) && *state != LISTEN {
                inodes.insert((*inode).to_owned());
            }
        }
    }
    inodes
}

/// The kinds `end` holds more of than `start`: `socket +1` ([`CLIENT_CONNECTIONS`] aside).
fn grown(start: &BTreeMap<String, usize>, end: &BTreeMap<String, usize>) -> String {
    end.iter()
        .filter(|(kind, _)| *kind != CLIENT_CONNECTIONS)
        .filter_map(|(kind, &n)| {
            let before = start.get(kind).copied().unwrap_or(0);
            (n > before).then(|| format!("{kind} +{}", n - before))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// File descriptors and RSS (KiB) of a process, sampled during a run.
#[derive(Default)]
struct Trace {
    fds: Vec<usize>,
    /// The first and the last sample's descriptors by kind, to name what grew.
    fd_kinds: Vec<BTreeMap<String, usize>>,
    /// The bench client's connections at each sample (not in `fds`).
    clients: Vec<usize>,
    rss: Vec<u64>,
}

impl Trace {
    /// One sample of process `pid`; `port`: the one it serves on, whose accepted
    /// connections are the bench client's and not counted.
    fn sample(&mut self, pid: u32, port: Option<u16>) {
        if let (Some(kinds), Some(rss)) = (open_fds(pid, port), rss_kib(pid)) {
            let clients = kinds.get(CLIENT_CONNECTIONS).copied().unwrap_or(0);
            self.clients.push(clients);
            self.fds.push(kinds.values().sum::<usize>() - clients);
            if self.fd_kinds.len() == 2 {
                self.fd_kinds.pop();
            }
            self.fd_kinds.push(kinds);
            self.rss.push(rss);
        }
    }

    /// `14 → 15 (max 15; more at the end: pipe +1)`, and the bench client's connections.
    fn fds_value(&self, fd0: usize, fd1: usize) -> String {
        let mut value = format!(
            "{fd0} → {fd1} (max {}",
            self.fds.iter().max().unwrap_or(&fd1)
        );
        if let (Some(start), Some(end)) = (self.fd_kinds.first(), self.fd_kinds.last())
            && fd1 > fd0
        {
            value += &format!("; more at the end: {}", grown(start, end));
        }
        value.push(')');
        if let (Some(least), Some(most)) = (self.clients.iter().min(), self.clients.iter().max())
            && *most > 0
        {
            value += &format!(", not counting {CLIENT_CONNECTIONS}: {least} to {most}");
        }
        value
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
                self.fds_value(*fd0, *fd1),
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
            trace.sample(rig.helper.pid(), Some(rig.helper.addr.port()));
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
            trace.sample(proxy.pid(), None);
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
