//! `helper.json`: a running `patchbay serve` writes where it listens into its data folder, so
//! `patchbay pair`, `service status` and `doctor` find it from the data folder alone.
//!
//! It holds no secret (the token stays in `pairing-token`); it is written 0600 and atomically
//! anyway, like every file there. A helper that stops cleanly removes it; one that crashed
//! leaves it behind, so readers check that the recorded process still lives
//! ([`RunningHelper::alive`]) and that the address answers.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use patchbay_proto::Secret;
use serde::{Deserialize, Serialize};

use crate::engine::{fsutil, upstream};

pub const RUNTIME_FILE: &str = "helper.json";

/// What a running helper says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningHelper {
    /// The bound address (port 0 resolved).
    pub address: SocketAddr,
    /// The dashboard its pairing link points to.
    pub dashboard_url: String,
    pub pid: u32,
    pub version: String,
    /// The pairing token came from `PATCHBAY_TOKEN`, not from the `pairing-token` file.
    pub token_from_env: bool,
}

impl RunningHelper {
    /// This process, listening at `address`.
    pub fn this_process(address: SocketAddr, dashboard_url: &str, token_from_env: bool) -> Self {
        Self {
            address,
            dashboard_url: dashboard_url.to_owned(),
            pid: std::process::id(),
            version: super::VERSION.to_owned(),
            token_from_env,
        }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Whether the recorded process still exists (it may have crashed since).
    pub fn alive(&self) -> bool {
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
}

/// How a recorded helper answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// It answers as a Patchbay helper (and accepts the token, when one was sent).
    Serving,
    /// It answers, and refuses the token.
    WrongToken,
    /// Something answers there with this status, not as a Patchbay helper would.
    Other(u16),
    /// Nothing answers.
    Silent,
}

/// Asks the helper (loopback, no proxy): with `token`, for its connector overview, which
/// needs the token; without, for `/api/health`.
pub async fn ask(helper: &RunningHelper, token: Option<&Secret>) -> Answer {
    let path = if token.is_some() {
        "/api/connectors"
    } else {
        "/api/health"
    };
    let mut request = upstream::loopback_client()
        .get(format!("{}{path}", helper.origin()))
        .timeout(std::time::Duration::from_secs(5));
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => Answer::Serving,
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => Answer::WrongToken,
        Ok(r) => Answer::Other(r.status().as_u16()),
        Err(_) => Answer::Silent,
    }
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(RUNTIME_FILE)
}

/// Records `helper` in `data_dir` (created 0700 if needed: a token from the environment
/// leaves `serve` nothing else to keep there).
pub fn record(data_dir: &Path, helper: &RunningHelper) -> io::Result<()> {
    fsutil::ensure_private_dir(data_dir)?;
    let json = serde_json::to_vec_pretty(helper).map_err(io::Error::other)?;
    fsutil::write_private_atomic(&path(data_dir), &json)
}

/// The recorded helper; `Ok(None)` when none has started with this data folder (or it
/// stopped cleanly).
pub fn read(data_dir: &Path) -> Result<Option<RunningHelper>, String> {
    let file = path(data_dir);
    match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            format!(
                "{} does not parse ({e}); delete it, then restart the helper",
                file.display()
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

/// Removes the record when it is still this process's (another helper may have started on
/// the same data folder since).
pub fn forget(data_dir: &Path) {
    if let Ok(Some(helper)) = read(data_dir)
        && helper.pid == std::process::id()
    {
        let _ = std::fs::remove_file(path(data_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_read_back_and_forgotten_only_by_its_own_process() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let me = RunningHelper::this_process(
            "127.0.0.1:7878".parse().unwrap(),
            "http://127.0.0.1:8080",
            false,
        );
        record(dir.path(), &me).unwrap();
        assert_eq!(fsutil::mode(&path(dir.path())).unwrap(), 0o600);
        let back = read(dir.path()).unwrap().unwrap();
        assert_eq!(back, me);
        assert!(back.alive());
        assert_eq!(back.origin(), "http://127.0.0.1:7878");

        let other = RunningHelper {
            pid: me.pid + 1_000_000,
            ..me.clone()
        };
        record(dir.path(), &other).unwrap();
        assert!(!other.alive(), "no such process");
        forget(dir.path());
        assert!(path(dir.path()).exists(), "removed another helper's record");
        record(dir.path(), &me).unwrap();
        forget(dir.path());
        assert!(!path(dir.path()).exists());
    }

    #[test]
    fn a_damaged_record_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "{not json").unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(err.contains("delete it"), "{err}");
    }
}
