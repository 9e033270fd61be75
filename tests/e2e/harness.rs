//! Starting the real parts: helper binary, `wrangler dev`, Chromium (through chromedriver).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use patchbay_testkit::process::{Running, free_port, wait_for_port, workspace_root};

pub const STARTUP: Duration = Duration::from_secs(60);
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

fn require_built(path: &Path) {
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask build` (or `cargo xtask test`, which builds first)",
        path.display()
    );
}

/// The `patchbay` binary, built once per test run from the current sources.
pub fn patchbay_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "patchbay-helper",
                "--bin",
                "patchbay",
            ])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the helper failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        target.join("debug/patchbay")
    })
}

/// Serialises the tests that use 127.0.0.1:53682 (rclone's and MCP's OAuth listener): only
/// one flow in the whole machine can hold it, so tests take turns, across test binaries and
/// checkouts too.
pub fn port_53682() -> patchbay_testkit::process::MachinePort {
    patchbay_testkit::process::machine_port(53682)
}

/// Every secret a test hands to a helper. When a helper stops, its whole output (logs and
/// stdout) is checked for each of them: no secret may ever reach a log line.
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Registers `secret` for the log check and returns it.
pub fn secret(secret: &str) -> String {
    SECRETS.lock().unwrap().push(secret.to_owned());
    secret.to_owned()
}

/// A running `patchbay serve` on a free loopback port with its own data folder.
pub struct Helper {
    pub addr: SocketAddr,
    pub token: String,
    _data_dir: tempfile::TempDir,
    _process: Running,
}

impl Helper {
    /// Starts a helper whose data folder was first filled by `prepare`.
    pub fn start(allowed_origins: &[&str], prepare: impl FnOnce(&Path)) -> Helper {
        Self::start_with(allowed_origins, &[], prepare)
    }

    /// Like [`Helper::start`], with extra environment (outside service URLs, …).
    pub fn start_with(
        allowed_origins: &[&str],
        env: &[(&str, &str)],
        prepare: impl FnOnce(&Path),
    ) -> Helper {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let token = patchbay_proto::pairing::new_pairing_token()
            .expose()
            .to_owned();
        Self::start_on(addr, &token, allowed_origins, env, prepare)
    }

    /// Like [`Helper::start_with`], on a given address with a given pairing token: a helper
    /// that comes back where a stopped one was, so a paired page can find it again.
    pub fn start_on(
        addr: SocketAddr,
        token: &str,
        allowed_origins: &[&str],
        env: &[(&str, &str)],
        prepare: impl FnOnce(&Path),
    ) -> Helper {
        let data_dir = tempfile::tempdir().unwrap();
        prepare(data_dir.path());
        let token = token.to_owned();
        let mut cmd = Command::new(patchbay_bin());
        cmd.arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data_dir.path())
            .env("PATCHBAY_TOKEN", &token)
            .env("PATCHBAY_LOG", "debug")
            .env(
                "PATCHBAY_GITHUB_TOKEN_FILE",
                data_dir.path().join("xo-cowork/github_token.json"),
            )
            .env_remove("PATCHBAY_ALLOWED_ORIGINS")
            .envs(env.iter().copied());
        if !allowed_origins.is_empty() {
            cmd.arg("--allow-origin").arg(allowed_origins.join(","));
        }
        let mut process = Running::start("patchbay serve", cmd);
        process.wait_for_output("#helper=", STARTUP);
        Helper {
            addr,
            token,
            _data_dir: data_dir,
            _process: process,
        }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    pub fn pid(&self) -> u32 {
        self._process.pid()
    }

    /// SIGTERM, as a service manager stops it; true if it exited within 10 seconds.
    pub fn stop(&mut self) -> bool {
        self._process
            .signal_group(patchbay_testkit::libc::SIGTERM, Duration::from_secs(10))
    }

    /// Calls the API with the pairing token: the status and the JSON body (`null` if none).
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

    /// An HTTP client request to this helper's API with the pairing token.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.origin()))
            .bearer_auth(&self.token)
    }

    /// The pairing fragment `patchbay serve` prints, for `dashboard`.
    pub fn pairing_link(&self, dashboard: &str) -> String {
        patchbay_proto::pairing::Pairing {
            helper: self.origin(),
            token: patchbay_proto::Secret::new(self.token.clone()),
        }
        .dashboard_link(dashboard)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let output = self._process.output();
        for line in output.lines() {
            // The pairing link is the one place the pairing token is printed, by design.
            if !line.contains("#helper=") {
                assert!(
                    !line.contains(&self.token),
                    "pairing token in a log line: {line}"
                );
            }
        }
        for s in SECRETS.lock().unwrap().iter() {
            assert!(
                !output.contains(s.as_str()),
                "a secret reached the helper's output:\n{output}"
            );
        }
    }
}

/// The edge Worker under `wrangler dev` (workerd, local D1), serving the built dashboard.
pub struct Edge {
    pub port: u16,
    _state: tempfile::TempDir,
    _process: Running,
}

impl Edge {
    pub fn start(vars: &[(&str, &str)]) -> Edge {
        let root = workspace_root();
        require_built(&root.join("edge/build/worker/shim.mjs"));
        require_built(&root.join("dist/index.html"));
        let port = free_port();
        let state = tempfile::tempdir().unwrap();
        // The D1 schema, as a deployment gets it: `wrangler d1 migrations apply`.
        let migrate = Command::new(root.join("node_modules/.bin/wrangler"))
            .current_dir(root.join("edge"))
            .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
            .arg(state.path())
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_LOG_PATH", state.path().join("logs"))
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run wrangler d1 migrations apply");
        assert!(
            migrate.status.success(),
            "wrangler d1 migrations apply failed:\n{}{}",
            String::from_utf8_lossy(&migrate.stdout),
            String::from_utf8_lossy(&migrate.stderr)
        );
        let mut cmd = Command::new(root.join("node_modules/.bin/wrangler"));
        cmd.current_dir(root.join("edge"))
            .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .arg("--inspector-port")
            .arg(free_port().to_string())
            .arg("--persist-to")
            .arg(state.path())
            .arg("--show-interactive-dev-session=false")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_LOG_PATH", state.path().join("logs"))
            .env("NO_COLOR", "1");
        for (k, v) in vars {
            cmd.arg("--var").arg(format!("{k}:{v}"));
        }
        let mut process = Running::start("wrangler dev", cmd);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + STARTUP;
        while !wait_for_port(addr, Duration::from_millis(500)) {
            assert!(
                !process.has_exited(),
                "wrangler dev exited:\n{}",
                process.output()
            );
            assert!(
                Instant::now() < deadline,
                "wrangler dev did not listen:\n{}",
                process.output()
            );
        }
        process.wait_for_output("Ready on", STARTUP);
        Edge {
            port,
            _state: state,
            _process: process,
        }
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The edge under `wrangler dev` in front of a fake Vercel, with a test edge token and
/// encryption key (`extra`: more Worker vars).
pub struct VercelEdge {
    pub edge: Edge,
    pub fake: patchbay_testkit::vercel::FakeVercel,
    /// Where the fake Vercel listens; it stops when this is dropped.
    pub server: patchbay_testkit::FakeServer,
}

impl VercelEdge {
    /// The edge's `/api` bearer in these tests.
    pub const TOKEN: &'static str = "e2e-edge-token-0123456789";
    /// Base64 of the bytes 0..32, passed like every other setting.
    pub const KEY: &'static str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    pub fn start(extra: &[(&str, &str)]) -> VercelEdge {
        let fake = patchbay_testkit::vercel::FakeVercel::new();
        let server = fake.serve();
        let mut vars: Vec<(&str, String)> =
            patchbay_testkit::vercel::FakeVercel::edge_vars(&server.url());
        vars.push(("PATCHBAY_EDGE_TOKEN", Self::TOKEN.into()));
        vars.push(("PATCHBAY_ENCRYPTION_KEY", Self::KEY.into()));
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        secret(Self::TOKEN);
        VercelEdge {
            edge: Edge::start(&vars),
            fake,
            server,
        }
    }
}

/// Headless Debian Chromium driven over WebDriver.
pub struct Browser {
    pub client: Client,
    _driver: Running,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        Self::start_with_args(&[]).await
    }

    /// Like [`Browser::start`], with more Chromium flags (window size, colour scheme…).
    pub async fn start_with_args(extra: &[&str]) -> Browser {
        let port = free_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"));
        let driver = Running::start("chromedriver", cmd);
        assert!(
            wait_for_port(([127, 0, 0, 1], port).into(), STARTUP),
            "chromedriver did not start"
        );
        let profile = tempfile::tempdir().unwrap();
        let args = serde_json::json!([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1280,900",
            format!("--user-data-dir={}", profile.path().display()),
        ]);
        let args: Vec<serde_json::Value> = args
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .chain(extra.iter().map(|a| serde_json::json!(a)))
            .collect();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("connect to chromedriver");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Waits until `css` matches at least `count` elements; returns how many matched.
    pub async fn wait_for_count(&self, css: &str, count: usize) -> usize {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let n = self
                .client
                .find_all(Locator::Css(css))
                .await
                .map(|v| v.len())
                .unwrap_or(0);
            if n >= count {
                return n;
            }
            if Instant::now() > deadline {
                let html = self.client.source().await.unwrap_or_default();
                panic!("timed out waiting for {count} × {css:?} (found {n}); page:\n{html}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the page as `target/screenshots/{name}.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        save_screenshot(&self.client, name).await
    }

    /// Until dropped, a failing (panicking) test leaves `target/screenshots/{name}.png`.
    pub fn screenshot_on_failure(&self, name: &str) -> ScreenshotOnFailure {
        ScreenshotOnFailure {
            client: self.client.clone(),
            name: name.to_owned(),
        }
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }
}

async fn save_screenshot(client: &Client, name: &str) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    let png = client.screenshot().await.expect("take a screenshot");
    std::fs::write(&path, png).unwrap();
    path
}

/// See [`Browser::screenshot_on_failure`].
pub struct ScreenshotOnFailure {
    client: Client,
    name: String,
}

impl Drop for ScreenshotOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // The test's runtime is unwinding on this thread; the WebDriver session lives on its
        // worker threads, so a small runtime on another thread can still ask for a picture.
        let client = self.client.clone();
        let name = format!("{}-failure", self.name);
        let taken = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), save_screenshot(&client, &name))
                        .await
                })
        })
        .join();
        if let Ok(Ok(path)) = taken {
            eprintln!("screenshot of the failing page: {}", path.display());
        }
    }
}
