//! Debian's headless Chromium, driven by chromedriver over WebDriver (fantoccini), with a
//! fresh profile per browser and the flags TOOLCHAIN.md lists (without them Chromium keeps
//! calling Google's hosts).
//!
//! Every browser records the page's exceptions and `console.error` calls (chromedriver's
//! browser log, `goog:loggingPrefs`): [`Browser::wait_for`] fails as soon as one appears,
//! [`Browser::close`] and dropping the browser fail if any appeared, so a panic in the wasm
//! app can never pass a test.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::{STARTUP, or_panic, target_dir};
use crate::process::{Running, free_port, wait_for_port};

/// How long a page may take to show what a test waits for.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// The flags every browser gets (TOOLCHAIN.md: as root, offline, no background traffic).
const FLAGS: [&str; 10] = [
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
];

/// How to start a browser; [`BrowserBuilder::start`] starts it.
pub struct BrowserBuilder {
    name: String,
    args: Vec<String>,
    wait_for_load: bool,
}

impl BrowserBuilder {
    /// One more Chromium flag (window size, colour scheme…); a later one wins.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Navigation returns at once instead of after the page's `load` (WebDriver's
    /// `pageLoadStrategy: none`), for a caller that watches the page from inside.
    pub fn no_wait_for_load(mut self) -> Self {
        self.wait_for_load = false;
        self
    }

    pub async fn try_start(self) -> Result<Browser, String> {
        let port = free_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"));
        let driver = Running::start("chromedriver", cmd);
        if !wait_for_port(([127, 0, 0, 1], port).into(), STARTUP) {
            return Err(format!(
                "chromedriver did not start (is the Debian package chromium-driver \
                 installed? `cargo xtask setup` installs it):\n{}",
                driver.output()
            ));
        }
        let profile = tempfile::tempdir().map_err(|e| format!("a temp folder: {e}"))?;
        let mut args: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(self.args);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        if !self.wait_for_load {
            caps.insert("pageLoadStrategy".into(), json!("none"));
        }
        let webdriver = format!("http://127.0.0.1:{port}");
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .map_err(|e| format!("connect to chromedriver: {e}"))?;
        let session = client
            .session_id()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("chromedriver gave no session id")?;
        Ok(Browser {
            client,
            name: self.name,
            driver: Driver {
                session: format!("{webdriver}/session/{session}"),
            },
            errors: Mutex::default(),
            closed: false,
            _chromedriver: driver,
            _profile: profile,
        })
    }

    /// [`BrowserBuilder::try_start`] for tests: panics with what went wrong.
    pub async fn start(self) -> Browser {
        or_panic(self.try_start().await)
    }
}

/// A headless Chromium with one WebDriver session.
pub struct Browser {
    pub client: Client,
    /// Names the failure screenshot (`target/screenshots/{name}-failure.png`).
    name: String,
    driver: Driver,
    /// Every page error seen so far (chromedriver hands each out once).
    errors: Mutex<Vec<String>>,
    closed: bool,
    _chromedriver: Running,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A browser named `name`: a test that fails while it is open leaves
    /// `target/screenshots/{name}-failure.png`.
    pub fn builder(name: &str) -> BrowserBuilder {
        BrowserBuilder {
            name: name.to_owned(),
            args: Vec::new(),
            wait_for_load: true,
        }
    }

    pub async fn start(name: &str) -> Browser {
        Self::builder(name).start().await
    }

    /// The page exceptions and console errors of this session so far.
    pub async fn page_errors(&self) -> Result<Vec<String>, String> {
        let new = self.driver.page_errors().await?;
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        errors.extend(new);
        Ok(errors.clone())
    }

    /// Panics if the page has thrown or logged an error.
    pub async fn check_page(&self) {
        match self.page_errors().await {
            Ok(errors) if errors.is_empty() => {}
            Ok(errors) => panic!("{}", describe(&errors)),
            Err(e) => panic!("cannot read the browser's log: {e}"),
        }
    }

    /// Polls `probe` (every 50 ms, up to [`UI_TIMEOUT`]) until it yields something; fails at
    /// once on a page error, and with the page's source on timeout.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            self.check_page().await;
            if let Some(v) = probe().await {
                return v;
            }
            if Instant::now() > deadline {
                let html = self.client.source().await.unwrap_or_default();
                panic!("timed out waiting for {what}; page:\n{html}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// [`Browser::wait_for`] a condition.
    pub async fn wait_until<F, Fut>(&self, what: &str, mut probe: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        self.wait_for(what, || {
            let f = probe();
            async move { f.await.then_some(()) }
        })
        .await
    }

    /// Waits until `css` matches at least `count` elements; returns how many matched.
    pub async fn wait_for_count(&self, css: &str, count: usize) -> usize {
        self.wait_for(&format!("{count} × {css:?}"), || async {
            let n = self
                .client
                .find_all(Locator::Css(css))
                .await
                .map(|v| v.len())
                .unwrap_or(0);
            (n >= count).then_some(n)
        })
        .await
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

    /// Saves a PNG of the page as `target/screenshots/{name}.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        self.driver
            .screenshot(name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Saves a PNG of the first element `css` matches as `target/screenshots/{name}.png`.
    pub async fn screenshot_of(&self, css: &str, name: &str) -> PathBuf {
        let element = self.client.find(Locator::Css(css)).await;
        let element = element.unwrap_or_else(|e| panic!("{css}: {e}"));
        let png = element.screenshot().await;
        or_panic(save_png(
            name,
            &png.unwrap_or_else(|e| panic!("screenshot of {css}: {e}")),
        ))
    }

    /// Makes the page see `prefers-color-scheme: dark` (or `light`) as if the system were
    /// set so, through chromedriver's DevTools endpoint (`Emulation.setEmulatedMedia`).
    pub async fn color_scheme(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        let params = json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]});
        let body = json!({"cmd": "Emulation.setEmulatedMedia", "params": params});
        let set = self
            .driver
            .command(reqwest::Method::POST, "goog/cdp/execute", body);
        or_panic(set.await.map(drop));
    }

    /// Ends the session; panics listing the page errors, if any appeared.
    pub async fn close(self) {
        or_panic(self.try_close().await)
    }

    /// Ends the session; an error lists the page errors, if any appeared.
    pub async fn try_close(mut self) -> Result<(), String> {
        self.closed = true;
        let errors = self.page_errors().await?;
        self.client
            .clone()
            .close()
            .await
            .map_err(|e| format!("close the WebDriver session: {e}"))?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(describe(&errors))
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if self.closed && !panicking {
            return;
        }
        // The test's runtime may be unwinding, or have a single thread that is busy dropping
        // this: talk to chromedriver from a small runtime of our own.
        let driver = self.driver.clone();
        let name = format!("{}-failure", self.name);
        let seen = self.errors.lock().map(|e| e.clone()).unwrap_or_default();
        let found = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let limit = Duration::from_secs(10);
                let errors = tokio::time::timeout(limit, driver.page_errors()).await;
                if panicking {
                    let shot = tokio::time::timeout(limit, driver.screenshot(&name)).await;
                    if let Ok(Ok(path)) = shot {
                        eprintln!("screenshot of the failing page: {}", path.display());
                    }
                }
                errors.ok()?.ok()
            })
        })
        .join()
        .ok()
        .flatten()
        .unwrap_or_default();
        let errors: Vec<String> = seen.into_iter().chain(found).collect();
        if errors.is_empty() {
            return;
        }
        if panicking {
            eprintln!("{}", describe(&errors));
        } else {
            panic!("{}", describe(&errors));
        }
    }
}

fn describe(errors: &[String]) -> String {
    format!(
        "the page threw or logged {} error(s):\n{}",
        errors.len(),
        errors.join("\n")
    )
}

/// chromedriver's own endpoints for the session, reached without fantoccini so they work
/// from any runtime (see `Drop for Browser`).
#[derive(Clone)]
struct Driver {
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
}

impl Driver {
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, String> {
        let url = format!("{}/{path}", self.session);
        let mut req = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?
            .request(method, &url);
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = req.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = res.status();
        let mut answer: Value = res.json().await.map_err(|e| format!("{url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{url}: {status} {answer}"));
        }
        Ok(answer["value"].take())
    }

    /// New entries of the browser log that are page errors (see [`page_error`]).
    async fn page_errors(&self) -> Result<Vec<String>, String> {
        let log = self
            .command(reqwest::Method::POST, "se/log", json!({"type": "browser"}))
            .await?;
        Ok(log
            .as_array()
            .map(|entries| entries.iter().filter_map(page_error).collect())
            .unwrap_or_default())
    }

    async fn screenshot(&self, name: &str) -> Result<PathBuf, String> {
        use base64::Engine as _;
        let png = self
            .command(reqwest::Method::GET, "screenshot", Value::Null)
            .await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot: {e}"))?;
        save_png(name, &png)
    }
}

/// Writes `png` as `target/screenshots/{name}.png`, the e2e artefacts folder.
fn save_png(name: &str, png: &[u8]) -> Result<PathBuf, String> {
    let dir = target_dir().join("screenshots");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// A browser-log entry that is a page error: an uncaught exception or rejection
/// (`javascript`) or a `console.error` (`console-api`), and anything else Chromium reports
/// as SEVERE, except failed requests (`network`): the dashboard meets those on purpose (a
/// stopped helper, a 4xx it explains) and each test checks what it then shows.
fn page_error(entry: &Value) -> Option<String> {
    let severe = entry["level"] == "SEVERE";
    let source = entry["source"].as_str().unwrap_or_default();
    (severe && source != "network").then(|| {
        format!(
            "[{source}] {}",
            entry["message"].as_str().unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_and_console_errors_are_page_errors_failed_requests_are_not() {
        let entry = |level: &str, source: &str, message: &str| json!({"level": level, "source": source, "message": message, "timestamp": 1});
        let panic = entry(
            "SEVERE",
            "console-api",
            "http://127.0.0.1:1/app.js 1:2 \"panicked at app/src/cards/remotes.rs:10:5\"",
        );
        assert_eq!(
            page_error(&panic).as_deref(),
            Some(
                "[console-api] http://127.0.0.1:1/app.js 1:2 \"panicked at app/src/cards/remotes.rs:10:5\""
            )
        );
        let thrown = entry("SEVERE", "javascript", "Uncaught RuntimeError: unreachable");
        assert!(page_error(&thrown).unwrap().contains("unreachable"));
        let refused = entry(
            "SEVERE",
            "network",
            "http://127.0.0.1:9/api/health - Failed to load resource: net::ERR_CONNECTION_REFUSED",
        );
        assert_eq!(page_error(&refused), None);
        assert_eq!(
            page_error(&entry("WARNING", "console-api", "careful")),
            None
        );
        assert_eq!(page_error(&entry("INFO", "console-api", "hello")), None);
    }
}
