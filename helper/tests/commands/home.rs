//! A temporary HOME and the real `patchbay` run in it with nothing of the test's own
//! environment: no PATCHBAY_* variable, no session bus, a PATH of the system's folders.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use patchbay_testkit::process::{Running, eventually};

/// Where Debian's rclone, gh and systemctl are.
pub const SYSTEM_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The binary under test, by the absolute path it reports as its own.
pub fn patchbay_exe() -> PathBuf {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_patchbay")).unwrap()
}

pub struct TempHome {
    root: tempfile::TempDir,
    path: String,
    env: Vec<(String, String)>,
}

/// How a command ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Both streams, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl TempHome {
    pub fn new() -> TempHome {
        let root = tempfile::tempdir().unwrap();
        for dir in ["home", "run"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
            std::fs::set_permissions(
                root.path().join(dir),
                std::fs::Permissions::from_mode(0o700),
            )
            .unwrap();
        }
        TempHome {
            root,
            path: SYSTEM_PATH.into(),
            env: Vec::new(),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// `XDG_RUNTIME_DIR`: empty, so `systemctl --user` finds no bus there.
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.path().join("run")
    }

    /// The default data folder under this HOME.
    pub fn data_dir(&self) -> PathBuf {
        self.home().join(".local/share/patchbay")
    }

    pub fn unit_file(&self) -> PathBuf {
        self.home().join(".config/systemd/user/patchbay.service")
    }

    /// A folder of its own for programs a test puts on PATH.
    pub fn bin_dir(&self) -> PathBuf {
        let dir = self.root.path().join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Replaces PATH.
    pub fn set_path(&mut self, path: &str) {
        self.path = path.into();
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// One more environment variable for every command.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    /// `patchbay <args>` in this HOME.
    pub fn patchbay<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut cmd = Command::new(patchbay_exe());
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", &self.path)
            // A runtime folder without a bus socket: `systemctl --user` finds no manager.
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `patchbay <args>` to its end.
    pub fn run<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Outcome {
        outcome(self.patchbay(args))
    }

    /// `patchbay serve` on a free port with this HOME's data folder; returns it once it has
    /// printed its pairing link, and the link.
    pub fn serve(&self, extra: &[&str]) -> (Running, String) {
        let mut cmd = self.patchbay(["serve", "--listen", "127.0.0.1:0"]);
        cmd.args(extra);
        let mut helper = Running::start("patchbay serve", cmd);
        let link = helper
            .next_line(Duration::from_secs(30), |l| {
                l.text
                    .contains("#helper=")
                    .then(|| l.text.trim().to_owned())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        // Serving (its signal handlers are installed once it serves): a SIGTERM from a test
        // now stops it the way a service manager does.
        let address = link
            .split_once("helper=http%3A%2F%2F")
            .and_then(|(_, rest)| rest.split('&').next())
            .map(|a| a.replace("%3A", ":"))
            .unwrap();
        assert!(
            eventually(Duration::from_secs(10), || health_answers(&address)),
            "the helper at {address} does not answer"
        );
        (helper, link)
    }
}

/// `GET /api/health` answers 200.
fn health_answers(address: &str) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let request =
        format!("GET /api/health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

pub fn outcome(mut cmd: Command) -> Outcome {
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An executable shell script at `path`.
pub fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
