//! The edge Worker as Cloudflare runs it locally: `wrangler dev` (workerd) on the built
//! Worker (`edge/build/`), serving the built dashboard, with a fresh local D1 that has the
//! migrations applied, as a deployment gets them. Also `wrangler deploy --dry-run`, which
//! builds the upload without sending it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Spawned, built, or_panic, ready, secret};
use crate::FakeServer;
use crate::process::{Running, free_ports, wait_for_port, workspace_root};
use crate::vercel::FakeVercel;

pub fn wrangler_bin() -> PathBuf {
    workspace_root().join("node_modules/.bin/wrangler")
}

/// `wrangler <args>` in `edge/`, offline and quiet, its logs in `log_dir`.
pub fn wrangler(args: &[&str], log_dir: &Path) -> Command {
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

/// Runs `cmd` to the end: its stdout and stderr together, or an error with them.
fn run(what: &str, mut cmd: Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{what} failed ({}):\n{text}", out.status))
    }
}

/// How to start the edge; [`EdgeBuilder::start`] starts it.
#[derive(Default, Clone)]
pub struct EdgeBuilder {
    vars: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    /// Start on an empty D1, as a deployment that skipped `d1 migrations apply`.
    unmigrated: bool,
}

impl EdgeBuilder {
    /// A Worker var (`--var`): configuration, never a secret.
    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.vars
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// A Worker secret: through an env file (as `edge/.dev.vars` gives them), never argv.
    pub fn secret(mut self, key: &str, value: &str) -> Self {
        self.secrets.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Leaves the fresh local D1 without the migrations (no tables).
    pub fn without_migrations(mut self) -> Self {
        self.unmigrated = true;
        self
    }

    /// Applies the D1 migrations to a fresh local database, then starts `wrangler dev`
    /// without waiting for it (see [`Edge::wait_ready`]).
    pub fn spawn(self) -> Result<Edge, String> {
        built("edge/build/worker/shim.mjs")?;
        built("dist/index.html")?;
        let state = tempfile::tempdir().map_err(|e| format!("a temp folder: {e}"))?;
        let persist = state.path().to_string_lossy().into_owned();
        let started = Instant::now();
        let mut migrate = wrangler(
            &["d1", "migrations", "apply", "DB", "--local"],
            state.path(),
        );
        migrate.args(["--persist-to", &persist]);
        if !self.unmigrated {
            run("wrangler d1 migrations apply", migrate)?;
        }
        let migrations_took = started.elapsed();

        // Always a file of our own, so a developer's edge/.dev.vars never reaches a test.
        let env_file = state.path().join("secrets.env");
        let secrets: String = self
            .secrets
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(&env_file, secrets).map_err(|e| format!("write the env file: {e}"))?;
        // Two ports found together, so they differ (one at a time, the kernel may hand out
        // the same one twice).
        let [port, inspector] = free_ports();
        let mut cmd = wrangler(&["dev", "--ip", "127.0.0.1"], state.path());
        cmd.args(["--port", &port.to_string()])
            .args(["--inspector-port", &inspector.to_string()])
            .args(["--persist-to", &persist])
            .arg("--env-file")
            .arg(&env_file)
            .arg("--show-interactive-dev-session=false");
        for (k, v) in &self.vars {
            cmd.arg("--var").arg(format!("{k}:{v}"));
        }
        Ok(Edge {
            port,
            migrations_took,
            spawned_at: Instant::now(),
            process: Running::start("wrangler dev", cmd),
            _state: state,
        })
    }

    pub fn try_start(self) -> Result<Edge, String> {
        ready_on_fresh_ports(|| self.clone().spawn())
    }

    /// [`EdgeBuilder::try_start`] for tests: panics with what went wrong.
    pub fn start(self) -> Edge {
        or_panic(self.try_start())
    }
}

/// `spawn`ed and serving. A free port is only free when it is found: on a busy machine
/// another process can take it before workerd binds it. workerd then says so and exits, and
/// the part is spawned again on fresh ports (a few times, never for any other failure).
fn ready_on_fresh_ports<P: Spawned>(
    mut spawn: impl FnMut() -> Result<P, String>,
) -> Result<P, String> {
    let mut attempt = 1;
    loop {
        match ready(spawn()) {
            Err(e) if attempt < 4 && e.contains("Address already in use") => attempt += 1,
            other => return other,
        }
    }
}

/// The edge under `wrangler dev`.
pub struct Edge {
    pub port: u16,
    /// How long `wrangler d1 migrations apply` took before the start.
    pub migrations_took: Duration,
    /// When `wrangler dev` was spawned.
    pub spawned_at: Instant,
    process: Running,
    _state: tempfile::TempDir,
}

impl Edge {
    pub fn builder() -> EdgeBuilder {
        EdgeBuilder::default()
    }

    /// Waits until wrangler listens and has said it is ready.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !wait_for_port(self.addr(), Duration::from_millis(500)) {
            if self.process.has_exited() {
                return Err(format!("wrangler dev exited:\n{}", self.output()));
            }
            if Instant::now() > deadline {
                return Err(format!("wrangler dev did not listen:\n{}", self.output()));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.process
            .next_line(left, |l| l.text.contains("Ready on").then_some(()))
    }

    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn has_exited(&mut self) -> bool {
        self.process.has_exited()
    }

    /// Everything wrangler printed so far.
    pub fn output(&self) -> String {
        self.process.output()
    }
}

impl Spawned for Edge {
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        Edge::wait_ready(self, timeout)
    }
}

/// The edge in front of a fake Vercel (`testkit::vercel`), with a test edge token and
/// encryption key.
pub struct VercelEdge {
    pub edge: Edge,
    pub fake: FakeVercel,
    /// Where the fake Vercel listens; it stops when this is dropped.
    pub server: FakeServer,
}

impl VercelEdge {
    /// The edge's `/api` bearer here.
    pub const TOKEN: &'static str = "e2e-edge-token-0123456789";
    /// Base64 of the bytes 0..32.
    pub const KEY: &'static str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    /// Started and ready; `extra`: more Worker vars.
    pub fn start(extra: &[(&str, &str)]) -> VercelEdge {
        or_panic(ready_on_fresh_ports(|| Self::spawn(extra)))
    }

    /// Like [`VercelEdge::start`], without waiting for `wrangler dev`.
    pub fn spawn(extra: &[(&str, &str)]) -> Result<VercelEdge, String> {
        let fake = FakeVercel::new();
        let server = fake.serve();
        secret(Self::TOKEN);
        let edge = Edge::builder()
            .vars(FakeVercel::edge_vars(&server.url()))
            .vars(extra.iter().copied())
            .secret("PATCHBAY_EDGE_TOKEN", Self::TOKEN)
            .secret("PATCHBAY_ENCRYPTION_KEY", Self::KEY)
            .spawn()?;
        Ok(VercelEdge { edge, fake, server })
    }

    /// What a helper needs to forward Vercel calls to this edge.
    pub fn helper_env(&self) -> [(&'static str, String); 2] {
        [
            ("PATCHBAY_EDGE_URL", self.edge.origin()),
            ("PATCHBAY_EDGE_TOKEN", Self::TOKEN.to_owned()),
        ]
    }
}

impl Spawned for VercelEdge {
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        self.edge.wait_ready(timeout)
    }
}

/// What `wrangler deploy --dry-run` built.
pub struct DryRun {
    /// The upload's gzip size, as wrangler reports it.
    pub upload_gzip: u64,
    /// Where it wrote the upload (`--outdir`).
    pub out_dir: tempfile::TempDir,
}

/// `wrangler deploy --dry-run`: the Worker built as it would be uploaded, sent nowhere.
pub fn deploy_dry_run() -> Result<DryRun, String> {
    built("edge/build/worker/shim.mjs")?;
    let out_dir = tempfile::tempdir().map_err(|e| format!("a temp folder: {e}"))?;
    let mut deploy = wrangler(&["deploy", "--dry-run", "--outdir"], out_dir.path());
    deploy.arg(out_dir.path());
    let text = run("wrangler deploy --dry-run", deploy)?;
    let upload_gzip = upload_gzip(&text)
        .ok_or_else(|| format!("no upload size in wrangler's output:\n{text}"))?;
    Ok(DryRun {
        upload_gzip,
        out_dir,
    })
}

/// The gzip size in bytes from wrangler's `Total Upload: 650.12 KiB / gzip: 250.34 KiB`.
fn upload_gzip(output: &str) -> Option<u64> {
    let size = output.lines().find_map(|l| l.split_once("gzip:"))?.1.trim();
    let (number, unit) = size.split_once(' ')?;
    let scale = match unit.trim() {
        "B" | "bytes" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number.parse::<f64>().ok()? * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_size_is_read_from_wranglers_summary() {
        let out = "⛅️ wrangler 4.86.0\nTotal Upload: 650.12 KiB / gzip: 250.50 KiB\n--dry-run: exiting now.";
        assert_eq!(upload_gzip(out), Some(256_512));
        assert_eq!(
            upload_gzip("Total Upload: 3.10 MiB / gzip: 1.50 MiB"),
            Some(1_572_864)
        );
        assert_eq!(upload_gzip("Total Upload: 900 B / gzip: 512 B"), Some(512));
        assert_eq!(upload_gzip("Total Upload: 1 KiB / gzip: 2 parsecs"), None);
        assert_eq!(upload_gzip("no summary here"), None);
    }
}
