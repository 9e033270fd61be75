//! `patchbay serve`, the real binary: built once, started on loopback with its own data
//! folder, ready once it has printed its pairing link, stopped like a service manager stops
//! it, and its output checked for secrets when it goes.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use patchbay_proto::Secret;
use patchbay_proto::pairing::{Pairing, new_pairing_token};

use super::{Spawned, or_panic, ready, registered_secrets, target_dir};
use crate::process::{Running, workspace_root};

/// The debug `patchbay` binary, built once per test run from the current sources.
pub fn debug_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--quiet", "-p", "patchbay-helper"])
            .args(["--bin", "patchbay"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the helper failed");
        target_dir().join("debug/patchbay")
    })
}

/// How to start a helper; [`HelperBuilder::start`] starts it.
#[derive(Clone)]
pub struct HelperBuilder {
    bin: PathBuf,
    listen: SocketAddr,
    token: Option<String>,
    allowed_origins: Vec<String>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    files: Vec<(String, String)>,
}

impl HelperBuilder {
    /// A helper from `bin`, on a port the kernel picks, with a fresh pairing token and an
    /// empty data folder.
    pub fn new(bin: impl Into<PathBuf>) -> HelperBuilder {
        HelperBuilder {
            bin: bin.into(),
            listen: ([127, 0, 0, 1], 0).into(),
            token: None,
            allowed_origins: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Listens on `addr` (a helper that comes back where a stopped one was).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The pairing token (`PATCHBAY_TOKEN`); else a fresh one.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// One more origin the helper accepts (`--allow-origin`).
    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.allowed_origins.push(origin.to_owned());
        self
    }

    /// Serves the built dashboard on the helper's own origin (`--dashboard-dir dist`).
    pub fn dashboard(self) -> Result<Self, String> {
        let dist = super::dist_dir()?;
        Ok(self.arg("--dashboard-dir").arg(dist))
    }

    /// How much it logs (`PATCHBAY_LOG`, e.g. `debug`); else the binary's default.
    pub fn log(self, filter: &str) -> Self {
        self.env("PATCHBAY_LOG", filter)
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// One environment variable; a later one of the same name wins.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Several, as the fakes give them (`FakeOAuth::helper_env`, …).
    pub fn envs<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// A file the data folder holds before the helper starts (`rclone.conf`, …).
    pub fn file(mut self, name: &str, contents: &str) -> Self {
        self.files.push((name.to_owned(), contents.to_owned()));
        self
    }

    /// Starts the helper without waiting for it (see [`Helper::wait_ready`]).
    pub fn spawn(self) -> Result<Helper, String> {
        let data_dir = tempfile::tempdir().map_err(|e| format!("a temp folder: {e}"))?;
        for (name, contents) in &self.files {
            let path = data_dir.path().join(name);
            std::fs::write(&path, contents)
                .map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        let token = self
            .token
            .clone()
            .unwrap_or_else(|| new_pairing_token().expose().to_owned());
        let cmd = self.command(data_dir.path(), &token, self.listen);
        let http = http_client()?;
        Ok(Helper {
            addr: self.listen,
            token,
            http,
            data_dir,
            spawned_at: Instant::now(),
            process: Running::start("patchbay serve", cmd),
            launch: self,
            earlier_output: String::new(),
        })
    }

    /// `patchbay serve` as configured, on `data_dir` and `listen`.
    fn command(&self, data_dir: &Path, token: &str, listen: SocketAddr) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .args(&self.args)
            .env("PATCHBAY_TOKEN", token)
            .env(
                "PATCHBAY_GITHUB_TOKEN_FILE",
                data_dir.join("xo-cowork/github_token.json"),
            )
            .env_remove("PATCHBAY_ALLOWED_ORIGINS")
            .envs(self.env.iter().cloned());
        if !self.allowed_origins.is_empty() {
            cmd.arg("--allow-origin")
                .arg(self.allowed_origins.join(","));
        }
        cmd
    }

    /// Starts the helper and waits until it serves.
    pub fn try_start(self) -> Result<Helper, String> {
        ready(self.spawn())
    }

    /// [`HelperBuilder::try_start`] for tests: panics with what went wrong.
    pub fn start(self) -> Helper {
        or_panic(self.try_start())
    }
}

/// The client for a helper's API: no proxy; connections are kept and reused.
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| format!("an HTTP client: {e}"))
}

/// A running `patchbay serve`.
pub struct Helper {
    /// Where it listens (known once [`Helper::wait_ready`] has read the pairing link).
    pub addr: SocketAddr,
    pub token: String,
    /// When the process was spawned.
    pub spawned_at: Instant,
    /// For its API; connections are kept and reused.
    http: reqwest::Client,
    data_dir: tempfile::TempDir,
    process: Running,
    /// How it was started, for [`Helper::restart`].
    launch: HelperBuilder,
    /// What processes before a restart printed (checked for secrets too).
    earlier_output: String,
}

impl Helper {
    pub fn builder(bin: impl Into<PathBuf>) -> HelperBuilder {
        HelperBuilder::new(bin)
    }

    /// Waits for the pairing link the helper prints once it listens, and reads from it where
    /// it listens; fails if the link names another token than the one it was given.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let line = self.process.next_line(timeout, |l| {
            l.text.contains("#helper=").then(|| l.text.clone())
        })?;
        let fragment = line.split_once('#').map(|(_, f)| f).unwrap_or_default();
        let pairing = Pairing::from_fragment(fragment.trim())
            .ok_or_else(|| format!("the helper printed an unreadable pairing link: {line}"))?;
        if !pairing.token.matches(&self.token) {
            return Err("the helper's pairing link holds another token".into());
        }
        self.addr = pairing
            .helper
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("the pairing link names no loopback address: {line}"))?;
        Ok(())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// Whether it has exited.
    pub fn has_exited(&mut self) -> bool {
        self.process.has_exited()
    }

    /// SIGKILL, as a crash or the OOM killer ends it: no shutdown code runs. Its children
    /// (rclone, gh) are in groups of their own and are not signalled. True once it is gone.
    pub fn kill(&mut self) -> bool {
        self.process.signal(libc::SIGKILL, Duration::from_secs(10))
    }

    /// Starts it again, after [`Helper::kill`] or [`Helper::stop`], with the same data
    /// folder, token, address and settings, and waits until it serves.
    pub fn restart(&mut self) -> Result<(), String> {
        let cmd = self
            .launch
            .command(self.data_dir.path(), &self.token, self.addr);
        let previous = std::mem::replace(&mut self.process, Running::start("patchbay serve", cmd));
        self.earlier_output.push_str(&previous.output());
        drop(previous);
        // Kept connections went with the old process.
        self.http = http_client()?;
        self.spawned_at = Instant::now();
        self.wait_ready(super::STARTUP)
    }

    /// SIGTERM, as a service manager stops it; true if it exited within 10 seconds.
    pub fn stop(&mut self) -> bool {
        self.process
            .signal_group(libc::SIGTERM, Duration::from_secs(10))
    }

    /// A request to its API with the pairing token.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    /// The client [`Helper::api`] uses, for tasks of their own (no proxy).
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// Calls its API with the pairing token: the status and the JSON body (`null` if none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.api(method, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("the helper answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// [`Helper::call`] with `GET`.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// [`Helper::call`] with `POST` and a JSON body.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// The link `patchbay serve` prints, for a dashboard at `dashboard`.
    pub fn pairing_link(&self, dashboard: &str) -> String {
        Pairing {
            helper: self.origin(),
            token: Secret::new(self.token.clone()),
        }
        .dashboard_link(dashboard)
    }

    /// Its output may hold the pairing token only in the pairing link, and no registered
    /// secret at all.
    fn check_output(&self) -> Result<(), String> {
        let output = format!("{}{}", self.earlier_output, self.process.output());
        for line in output.lines() {
            // The pairing link is the one place the pairing token is printed, by design.
            if !line.contains("#helper=") && line.contains(&self.token) {
                return Err(format!("pairing token in a log line: {line}"));
            }
        }
        if registered_secrets()
            .iter()
            .any(|s| output.contains(s.as_str()))
        {
            return Err(format!("a secret reached the helper's output:\n{output}"));
        }
        Ok(())
    }
}

impl Spawned for Helper {
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        Helper::wait_ready(self, timeout)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Err(e) = self.check_output() {
            panic!("{e}");
        }
    }
}
