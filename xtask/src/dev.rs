//! `cargo xtask dev [--verbose]`: the helper, the edge under `wrangler dev` and the dashboard
//! under `trunk serve`, each reported in one line once it is really up, then the pairing link
//! in a box. The dashboard's dev build goes to `target/dev-dashboard/`, never to the release
//! `dist/`. Without `--verbose` nothing else reaches the terminal: no commands, no child
//! output (a part that fails shows its last lines).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use patchbay_testkit::libc;
use patchbay_testkit::process::Running;

use crate::tools::{
    QUIET, Result, build_helper, build_worker, cmd, last_lines, node_bin, root, run, setup, shown,
    strip_ansi, target_dir,
};

const HELPER_PORT: u16 = 7878;
const EDGE_PORT: u16 = 8787;
const DASHBOARD_PORT: u16 = 8080;
/// Where `trunk serve` writes the dev build (under target/, which it does not watch).
const DEV_DIST: &str = "target/dev-dashboard";
/// The local edge's secrets (see [`edge_secrets`]).
const EDGE_SECRETS: &str = "target/dev-edge/secrets.env";
/// How long the helper and the edge may take to come up; the dashboard's first build has
/// no limit but its own (it compiles the app, which can take minutes on a cold cache).
const START_LIMIT: Duration = Duration::from_secs(120);

pub fn dev(verbose: bool) -> Result {
    // Ctrl-C (and SIGTERM) wait in a queue for this thread to take them, so they stop the
    // parts in order instead of killing xtask under them. Blocked before any thread starts:
    // every thread inherits the mask.
    let signals = Signals::block();
    QUIET.store(!verbose, std::sync::atomic::Ordering::Relaxed);

    part("tools", "ready", setup)?;
    signals.stop_if_asked()?;
    part("edge", "Worker built", build_worker)?;
    signals.stop_if_asked()?;
    part("helper", "built", || build_helper(false))?;
    signals.stop_if_asked()?;
    let edge_token = edge_secrets()?;
    let dist = root().join(DEV_DIST);
    std::fs::create_dir_all(&dist).map_err(|e| format!("create {DEV_DIST}: {e}"))?;

    let started = SystemTime::now();
    let edge = start(verbose, "edge", {
        let mut c = wrangler();
        c.args(["dev", "--ip", "127.0.0.1", "--port", &EDGE_PORT.to_string()])
            // The edge serves the same dev build as trunk, so dist/ is never needed.
            .args(["--assets", &dist.to_string_lossy()])
            .args(["--env-file", &root().join(EDGE_SECRETS).to_string_lossy()])
            .arg("--show-interactive-dev-session=false");
        c
    });
    let helper = start(verbose, "helper", {
        let mut c = cmd(&target_dir().join("debug/patchbay").to_string_lossy());
        c.env("PATCHBAY_EDGE_URL", format!("http://127.0.0.1:{EDGE_PORT}"))
            .env("PATCHBAY_EDGE_TOKEN", &edge_token)
            .args(["serve", "--listen", &format!("127.0.0.1:{HELPER_PORT}")])
            .args([
                "--dashboard-url",
                &format!("http://127.0.0.1:{DASHBOARD_PORT}"),
            ])
            .args([
                "--allow-origin",
                &format!(
                    "http://localhost:{DASHBOARD_PORT},http://127.0.0.1:{EDGE_PORT},\
                     http://localhost:{EDGE_PORT}"
                ),
            ]);
        c
    });
    let trunk = start(verbose, "dashboard", {
        let mut c = cmd("trunk");
        c.args(["serve", "--dist", DEV_DIST]);
        c
    });
    let mut parts = [
        Part::new("helper", helper, Ready::Printed("#helper=")),
        Part::new("edge", edge, Ready::Printed("Ready on")),
        Part::new(
            "dashboard",
            trunk,
            Ready::Built(dist.join("index.html"), started),
        ),
    ];
    eprintln!(
        "xtask: dashboard: building into {DEV_DIST} (the first build compiles the app, which \
         can take a few minutes)"
    );

    let begun = Instant::now();
    while parts.iter().any(|p| p.up.is_none()) {
        signals.stop_if_asked()?;
        for p in parts.iter_mut() {
            if verbose {
                p.echo();
            }
            if p.up.is_none() {
                p.check(begun)?;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let link = parts[0]
        .running
        .output()
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("http") && l.contains("#helper="))
        .map(str::to_owned)
        .ok_or("the helper did not print its dashboard link")?;
    eprintln!();
    eprintln!(
        "{}",
        boxed(&[
            "Patchbay is running. Open this link to pair your browser:",
            "",
            &link,
            "",
            "Keep it private: it carries the pairing token. Ctrl-C stops everything.",
        ])
    );
    // Until Ctrl-C: pass output on (--verbose), and say so if a part stops by itself.
    while !signals.wait_for(Duration::from_millis(200)) {
        for p in parts.iter_mut() {
            if verbose {
                p.echo();
            }
            if p.running.has_exited() {
                return Err(format!(
                    "{}: it stopped. Its last lines:\n{}",
                    p.name,
                    redacted(&last_lines(&p.running.output(), 25))
                ));
            }
        }
    }
    eprintln!("xtask: stopping the dashboard, the helper and the edge");
    drop(parts);
    Ok(())
}

/// One preparatory step, in one line: `xtask: edge: Worker built (12.3 s)`.
fn part(name: &str, done: &str, f: impl FnOnce() -> Result) -> Result {
    let begun = Instant::now();
    f().map_err(|e| format!("{name}: {e}"))?;
    eprintln!(
        "xtask: {name}: {done} ({:.1} s)",
        begun.elapsed().as_secs_f64()
    );
    Ok(())
}

fn wrangler() -> std::process::Command {
    let mut c = cmd(&node_bin().join("wrangler").to_string_lossy());
    c.current_dir(root().join("edge")).env("NO_COLOR", "true");
    c
}

/// The edge's secrets for local runs, made once into target/dev-edge/secrets.env (0600) and
/// given to `wrangler dev --env-file`. Not edge/.dev.vars: every `wrangler dev` reads that,
/// the tests' edges too, which then would not start without secrets as they mean to. The D1
/// schema comes from the same migrations as a deployment. Returns the edge's API token,
/// which the helper needs to forward Vercel calls.
fn edge_secrets() -> Result<String> {
    let dev_vars = root().join(EDGE_SECRETS);
    if !dev_vars.exists() {
        std::fs::create_dir_all(dev_vars.parent().expect("a folder"))
            .map_err(|e| format!("create {EDGE_SECRETS}'s folder: {e}"))?;
        let secrets = format!(
            "PATCHBAY_EDGE_TOKEN={}\nPATCHBAY_ENCRYPTION_KEY={}\n",
            patchbay_proto::secret::random_urlsafe(32),
            patchbay_proto::secret::random_urlsafe(32)
        );
        write_private(&dev_vars, &secrets)?;
        eprintln!("xtask: edge: wrote {EDGE_SECRETS} (a fresh API token and encryption key)");
    }
    let mut migrate = wrangler();
    migrate.args(["d1", "migrations", "apply", "DB", "--local"]);
    run(migrate).map_err(|e| format!("edge: {e}"))?;
    std::fs::read_to_string(&dev_vars)
        .ok()
        .and_then(|vars| {
            vars.lines().find_map(|l| {
                l.strip_prefix("PATCHBAY_EDGE_TOKEN=")
                    .map(|t| t.trim().to_owned())
            })
        })
        .ok_or_else(|| format!("{EDGE_SECRETS} has no PATCHBAY_EDGE_TOKEN line"))
}

fn write_private(path: &Path, text: &str) -> Result {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("write {}: {e}", path.display()))
}

/// Starts a part in its own process group (stopped, group and all, when dropped); what it
/// prints is kept (see [`Part::echo`]).
fn start(verbose: bool, name: &'static str, mut c: std::process::Command) -> Running {
    c.env("NO_COLOR", "true").env("CARGO_TERM_COLOR", "never");
    if verbose {
        eprintln!("xtask: {name}: $ {}", shown(&c));
    }
    Running::start(name, c)
}

/// What shows that a part is up.
enum Ready {
    /// Its output contains this (and its port answers).
    Printed(&'static str),
    /// Its port answers and this file was written after the given moment: `trunk serve`
    /// opens the port after its first build, failed or not; only a new index.html means the
    /// build worked.
    Built(PathBuf, SystemTime),
}

struct Part {
    name: &'static str,
    running: Running,
    ready: Ready,
    up: Option<Duration>,
    /// How much of its output went to the terminal already (`--verbose`).
    echoed: usize,
}

impl Part {
    fn new(name: &'static str, running: Running, ready: Ready) -> Self {
        Self {
            name,
            running,
            ready,
            up: None,
            echoed: 0,
        }
    }

    /// Copies what the part printed since last time to the terminal, a prefixed line each.
    fn echo(&mut self) {
        let text = self.running.output();
        let Some(new) = text.get(self.echoed..) else {
            return;
        };
        if let Some(end) = new.rfind('\n') {
            for line in new[..end].lines() {
                eprintln!("{:>9} │ {}", self.name, strip_ansi(line));
            }
            self.echoed += end + 1;
        }
    }

    fn port(&self) -> u16 {
        match self.name {
            "helper" => HELPER_PORT,
            "edge" => EDGE_PORT,
            _ => DASHBOARD_PORT,
        }
    }

    /// Notes (and says) when the part is up; fails if it exited or cannot come up.
    fn check(&mut self, begun: Instant) -> Result {
        let name = self.name;
        let failed = |why: &str, output: &str| {
            format!(
                "{name}: {why}. Its last lines:\n{}\n(`cargo xtask dev --verbose` shows \
                 everything it prints.)",
                redacted(&last_lines(output, 25))
            )
        };
        if self.running.has_exited() {
            return Err(failed("it stopped", &self.running.output()));
        }
        let port_open = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port())),
            Duration::from_millis(100),
        )
        .is_ok();
        let up = port_open
            && match &self.ready {
                Ready::Printed(needle) => self.running.output().contains(needle),
                Ready::Built(index, since) => {
                    let fresh = modified_after(index, *since);
                    if !fresh {
                        return Err(failed("its first build failed", &self.running.output()));
                    }
                    true
                }
            };
        if up {
            let took = begun.elapsed();
            self.up = Some(took);
            eprintln!(
                "xtask: {name}: up on http://127.0.0.1:{} ({:.1} s)",
                self.port(),
                took.as_secs_f64()
            );
        } else if !matches!(self.ready, Ready::Built(..)) && begun.elapsed() > START_LIMIT {
            return Err(failed(
                &format!("not up after {} s", START_LIMIT.as_secs()),
                &self.running.output(),
            ));
        }
        Ok(())
    }
}

fn modified_after(path: &Path, since: SystemTime) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= since)
}

/// Output lines for the terminal, without the one that carries the pairing token.
fn redacted(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.contains("token=") {
                "  (the dashboard link)"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `lines` in a box drawn with box-drawing characters (no colour codes), as wide as the
/// longest line.
pub fn boxed(lines: &[&str]) -> String {
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let rule = "─".repeat(width + 2);
    let mut out = format!("╭{rule}╮\n");
    for l in lines {
        let pad = " ".repeat(width - l.chars().count());
        out.push_str(&format!("│ {l}{pad} │\n"));
    }
    out.push_str(&format!("╰{rule}╯"));
    out
}

/// SIGINT and SIGTERM, blocked so they queue until asked for.
struct Signals(libc::sigset_t);

impl Signals {
    fn block() -> Self {
        // SAFETY: plain libc calls on a sigset_t we own; no handlers are installed.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Signals(set)
        }
    }

    /// Fails (so everything started so far stops) if Ctrl-C was pressed.
    fn stop_if_asked(&self) -> Result {
        if self.wait_for(Duration::ZERO) {
            Err("stopped (Ctrl-C)".into())
        } else {
            Ok(())
        }
    }

    /// Waits up to `timeout` for Ctrl-C or SIGTERM; whether one came.
    fn wait_for(&self, timeout: Duration) -> bool {
        let limit = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: sigtimedwait on the set blocked in `block`; it only takes a signal from it.
        unsafe { libc::sigtimedwait(&self.0, std::ptr::null_mut(), &limit) > 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_box_fits_its_longest_line() {
        let b = boxed(&[
            "Patchbay is running.",
            "",
            "http://127.0.0.1:8080/#helper=x",
        ]);
        let lines: Vec<&str> = b.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == lines[0].chars().count())
        );
        assert_eq!(lines[3], "│ http://127.0.0.1:8080/#helper=x │");
        assert!(!b.contains('\u{1b}'));
    }

    #[test]
    fn failures_never_show_the_pairing_link() {
        let out = redacted("listening\n  http://127.0.0.1:8080/#helper=h&token=s3cret\nbye");
        assert!(!out.contains("s3cret"), "{out}");
        assert!(
            out.starts_with("listening\n") && out.ends_with("\nbye"),
            "{out}"
        );
    }

    #[test]
    fn colour_codes_are_taken_out_of_child_output() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026-12-01\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m helper listening"),
            "2026-12-01  INFO helper listening"
        );
        assert_eq!(
            strip_ansi("\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}"),
            "link"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
