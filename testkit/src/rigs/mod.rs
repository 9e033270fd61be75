//! The real parts every end-to-end test and benchmark starts, written once: the `patchbay`
//! helper ([`helper`]), `wrangler dev` with local D1 ([`wrangler`]), headless Chromium
//! through chromedriver ([`chromium`]), oidc-provider as a third-party authorization server
//! ([`oidc`]), and the HTTP client that plays a person's browser
//! ([`browser_http`]). `tests/e2e` and `bench/` both stand on these; they add only their
//! defaults (a debug or a release helper, how loud it logs).
//!
//! Behind the `rigs` feature, so the crates that only need the fakes (the helper's and the
//! edge's own tests, xtask) do not compile an HTTP client and a WebDriver client for them.

pub mod chromium;
pub mod helper;
pub mod oidc;
pub mod wrangler;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

pub use fantoccini;

pub use chromium::Browser;
pub use helper::{Helper, HelperBuilder};
pub use oidc::OidcProvider;
pub use wrangler::{Edge, EdgeBuilder, VercelEdge};

use crate::process::workspace_root;

/// How long a real part may take to start (a cold `wrangler dev` on a loaded machine).
pub const STARTUP: Duration = Duration::from_secs(60);

/// A part that is spawned first and serves a moment later.
trait Spawned: Sized {
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String>;
}

/// `spawned`, once it serves (within [`STARTUP`]).
fn ready<P: Spawned>(spawned: Result<P, String>) -> Result<P, String> {
    let mut part = spawned?;
    part.wait_ready(STARTUP)?;
    Ok(part)
}

/// For tests: the value, or a panic that says what went wrong.
fn or_panic<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// What a person's browser does when a test plays one: no proxy, and no redirect followed,
/// so the test sees where each answer sends the browser.
pub fn browser_http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

/// The person opens `url` (an authorization URL) and is sent on: the status and the
/// `Location` of the answer, which must be a redirect.
pub async fn redirect_of(url: &str) -> Result<(u16, String), String> {
    let res = browser_http()
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = res.status().as_u16();
    match res.headers().get("location").and_then(|l| l.to_str().ok()) {
        Some(location) => Ok((status, location.to_owned())),
        None => Err(format!(
            "GET {url} answered {status} without a redirect: {}",
            res.text().await.unwrap_or_default()
        )),
    }
}

/// Every secret a test hands to a helper. When a [`Helper`] stops, its whole output is
/// checked for each of them: no secret may ever reach a log line.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Registers `secret` for that check and returns it.
pub fn secret(secret: &str) -> String {
    SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(secret.to_owned());
    secret.to_owned()
}

fn registered_secrets() -> Vec<String> {
    SECRETS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Cargo's target folder (`CARGO_TARGET_DIR`, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `path` inside the workspace, which `cargo xtask build` makes; an error that says so when
/// it is missing.
pub fn built(path: &str) -> Result<PathBuf, String> {
    let full = workspace_root().join(path);
    if full.exists() {
        Ok(full)
    } else {
        Err(format!(
            "{} is missing: run `cargo xtask build` (or `cargo xtask test`, which builds first)",
            full.display()
        ))
    }
}

/// The built dashboard (`dist/`, with its `index.html`).
pub fn dist_dir() -> Result<PathBuf, String> {
    built("dist/index.html").map(|index| parent(&index))
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_owned).unwrap_or_default()
}
