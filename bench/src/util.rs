//! What every area uses: the load generator (wrk), RSS, a raw HTTP probe, the helper binary.
//! The real parts themselves (helper, Chromium, wrangler dev) come from `testkit::rigs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use patchbay_testkit::rigs::{HelperBuilder, target_dir};

pub type Result<T = ()> = std::result::Result<T, String>;

/// Attempts that failed and were retried, for the report.
static RETRIED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn note_retry(attempt: u32, e: &str) {
    eprintln!("bench: attempt {attempt} failed: {e}");
    if let Ok(mut r) = RETRIED.lock() {
        r.push(e.lines().next().unwrap_or(e).to_owned());
    }
}

/// Every failed attempt that was retried in this run.
pub fn retried() -> Vec<String> {
    RETRIED.lock().map(|r| r.clone()).unwrap_or_default()
}

/// Length of each load run.
pub const LOAD_SECS: u32 = 5;
/// Concurrent connections of each load run.
pub const CONNECTIONS: u32 = 64;

/// The release helper (`PATCHBAY_BENCH_HELPER`, set by `cargo xtask bench`).
pub fn helper_bin() -> PathBuf {
    std::env::var_os("PATCHBAY_BENCH_HELPER")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release/patchbay"))
}

/// A release helper as the bench starts it: logging at its default level, as it runs.
pub fn helper() -> HelperBuilder {
    HelperBuilder::new(helper_bin())
}

/// The scratch folder of the bench (inside `target/`, never in the source tree).
pub fn scratch() -> PathBuf {
    let dir = target_dir().join("bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(scratch())
        .expect("temp dir in target/bench")
}

/// One HTTP/1.1 GET on a fresh connection; the status, or `None` if nothing answered.
pub fn probe(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Option<u16> {
    request(addr, path, bearer).ok()
}

/// How long a probe waits for loopback's handshake: far longer than it takes, far shorter
/// than the 1 s after which a client whose SYN the kernel dropped sends it again.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP/1.1 GET on a fresh connection: the status, or which step failed and how
/// (`connect: timed out after 200 ms`, `read: connection reset`, …), so a failure in a
/// report says why.
pub fn request(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
) -> std::result::Result<u16, String> {
    let step = |what: &'static str| move |e: std::io::Error| failed_step(what, &e);
    let mut s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(step("connect"))?;
    s.set_read_timeout(Some(READ_TIMEOUT))
        .map_err(step("connect"))?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .map_err(step("write"))?;
    // The status line is the answer; the connection is dropped without waiting for the
    // body or the close (some servers keep it open despite `Connection: close`).
    let mut head = [0u8; 12];
    s.read_exact(&mut head).map_err(step("read"))?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("read: not an HTTP status line ({})", head.escape_ascii()))
}

fn failed_step(step: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let how = match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock if step == "connect" => {
            format!("timed out after {} ms", CONNECT_TIMEOUT.as_millis())
        }
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!("timed out after {} s", READ_TIMEOUT.as_secs())
        }
        ErrorKind::UnexpectedEof => "closed before the status line".to_owned(),
        ErrorKind::ConnectionRefused => "refused".to_owned(),
        ErrorKind::ConnectionReset => "reset".to_owned(),
        _ => e.to_string(),
    };
    format!("{step}: {how}")
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Samples a process's RSS every 50 ms until dropped; keeps the peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    p.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    pub fn peak_kib(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// The result of one load run.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests: u64,
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Answers that were not 2xx/3xx.
    pub bad_status: u64,
    /// Connect, read, write errors and timeouts.
    pub errors: u64,
}

impl Load {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{:.0} req/s, p50 {}, p99 {}",
            self.rps,
            crate::report::ms(self.p50),
            crate::report::ms(self.p99)
        );
        if self.bad_status + self.errors > 0 {
            s.push_str(&format!(
                " ({} non-2xx, {} errors of {})",
                self.bad_status, self.errors, self.requests
            ));
        }
        s
    }

    /// Whether every request got a 2xx/3xx answer.
    pub fn clean(&self) -> bool {
        self.bad_status == 0 && self.errors == 0 && self.requests > 0
    }
}

/// wrk's script: the bearer comes from the environment, so it never appears in argv, and
/// the summary is printed in one parseable line.
const WRK_SCRIPT: &str = r#"
local token = os.getenv("PATCHBAY_BENCH_BEARER")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"#;

fn wrk_script() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = scratch().join("bearer.lua");
        std::fs::write(&path, WRK_SCRIPT).expect("write wrk script");
        path
    })
}

/// `wrk` against `url` for `secs` with [`CONNECTIONS`] connections on 2 threads.
pub fn wrk(url: &str, bearer: Option<&str>, secs: u32) -> Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{secs}s")])
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(wrk_script())
        .arg(url)
        .env_remove("PATCHBAY_BENCH_BEARER");
    if let Some(t) = bearer {
        cmd.env("PATCHBAY_BENCH_BEARER", t);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run wrk (install the Debian package `wrk`): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .ok_or_else(|| {
            format!(
                "wrk printed no summary:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let n: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let [requests, duration_us, p50, p99, bad_status, errors] = n[..] else {
        return Err(format!("unexpected wrk summary {line:?}"));
    };
    Ok(Load {
        requests,
        rps: requests as f64 / (duration_us as f64 / 1e6),
        p50: Duration::from_micros(p50),
        p99: Duration::from_micros(p99),
        bad_status,
        errors,
    })
}

/// gzip -9 size of a file.
pub fn gzip_size(path: &Path) -> Result<u64> {
    compressed_size(path, "gzip", &["-9", "-c"])
}

/// The size of `path` compressed by brotli at its highest quality, as a CDN serves it
/// (Cloudflare sends brotli to browsers that accept it).
pub fn brotli_size(path: &Path) -> Result<u64> {
    compressed_size(path, "brotli", &["-q", "11", "-c"])
}

fn compressed_size(path: &Path, program: &str, args: &[&str]) -> Result<u64> {
    let out = Command::new(program)
        .args(args)
        .arg(path)
        .output()
        .map_err(|e| format!("{program}: {e} (cargo xtask setup installs it)"))?;
    if !out.status.success() {
        return Err(format!("{program} {} failed", path.display()));
    }
    Ok(out.stdout.len() as u64)
}

/// First line of `program args` (stdout, else stderr), for the versions table.
pub fn version_of(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) => {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("?")
                .trim()
                .to_owned()
        }
        Err(_) => "not installed".into(),
    }
}

/// Runs `f` until it succeeds or `tries` attempts failed; the port 53682 may be held for a
/// moment by someone else's test on this shared machine.
pub async fn retry<T, F, Fut>(tries: u32, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut last = String::new();
    for attempt in 0..tries {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                note_retry(attempt + 1, &e);
                last = e;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    Err(last)
}

/// A GET on a fresh connection, as a browser's first request: the status and `Location`.
pub fn raw_get(url: &str) -> Result<(u16, Option<String>)> {
    use std::net::ToSocketAddrs;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {url}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = host
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .find(|a| a.is_ipv4())
        .ok_or_else(|| format!("{host}: no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {host}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    // Read the head only: some servers keep the connection open after answering.
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    while !text.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&text);
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP answer from {host}"))?;
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let location = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("location")
            .then(|| v.trim().to_owned())
    });
    Ok((status, location))
}

/// [`retry`] for blocking work.
pub fn retry_sync<T>(tries: u32, mut f: impl FnMut() -> Result<T>) -> Result<T> {
    let mut last = String::new();
    for attempt in 0..tries {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) => {
                note_retry(attempt + 1, &e);
                last = e;
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
    Err(last)
}
