//! The jobs, as sequences of commands.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub const TRUNK_VERSION: &str = "0.21.14";
/// Must equal the `wasm-bindgen` pinned in Cargo.toml (`=0.2.130`).
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
pub const WORKER_BUILD_VERSION: &str = "0.8.7";
const APT_PACKAGES: [(&str, &str); 7] = [
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("rclone", "/usr/bin/rclone"),
    ("gh", "/usr/bin/gh"),
    // `systemd-analyze verify`: systemd's own check of the unit `patchbay service` writes.
    ("systemd", "/usr/bin/systemd-analyze"),
    // The load generator of `cargo xtask bench`.
    ("wrk", "/usr/bin/wrk"),
    // The dashboard's wasm as Cloudflare serves it (brotli), measured by the bench.
    ("brotli", "/usr/bin/brotli"),
];
/// Crates that must never enter proto's dependency tree (it is sans-IO and shared by all).
const FORBIDDEN_IN_PROTO: [&str; 7] = [
    "tokio",
    "axum",
    "leptos",
    "worker",
    "reqwest",
    "hyper",
    "wasm-bindgen-futures",
];

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_owned()
}

/// Cargo's home: `CARGO_HOME`, else `~/.cargo`.
pub(crate) fn cargo_home() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
}

fn cargo_bin() -> PathBuf {
    cargo_home().join("bin")
}

pub(crate) fn node_bin() -> PathBuf {
    root().join("node_modules/.bin")
}

/// PATH with the project's node tools and cargo's bin first, so Trunk finds npm's wasm-opt
/// rather than Debian's broken one, and the pinned wasm-bindgen.
fn tool_path() -> OsString {
    let mut parts = vec![node_bin(), cargo_bin()];
    if let Some(path) = env::var_os("PATH") {
        parts.extend(env::split_paths(&path));
    }
    env::join_paths(parts).expect("PATH entries are valid")
}

pub(crate) fn cmd(program: &str) -> Command {
    let mut c = Command::new(program);
    c.current_dir(root())
        .env("PATH", tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false");
    c
}

/// Set by `cargo xtask dev` without `--verbose`: commands run without echoing themselves,
/// their output is kept and shown only if they fail.
pub(crate) static QUIET: AtomicBool = AtomicBool::new(false);

/// How a command reads in a log line: the program and its arguments, never its environment
/// (which holds PATH, and may hold secrets).
pub(crate) fn shown(c: &Command) -> String {
    let program = Path::new(c.get_program())
        .file_name()
        .unwrap_or(c.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(c.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn run(mut c: Command) -> Result {
    let shown = shown(&c);
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("xtask: $ {shown}");
        let status = c.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("`{shown}` failed ({status})"))
        };
    }
    let out = c.output().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(format!(
        "`{shown}` failed ({}). Its last lines:\n{}",
        out.status,
        last_lines(&said, 30)
    ))
}

/// The end of a program's output, without colour codes, for an error message.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<String> = text.lines().map(strip_ansi).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `line` without ANSI escape sequences (colours, cursor moves): a terminal's business, not
/// ours, and noise in a file.
pub(crate) fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ST (ESC \\).
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = cmd(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let r = f();
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("xtask: {what} took {:.1}s", start.elapsed().as_secs_f64());
    }
    r
}

/// The folder where cargo builds (`CARGO_TARGET_DIR`, else `target/`).
pub(crate) fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub fn setup() -> Result {
    timed("setup", || {
        let targets = output_of("rustup", &["target", "list", "--installed"]).unwrap_or_default();
        if !targets.contains("wasm32-unknown-unknown") {
            let mut c = cmd("rustup");
            c.args(["target", "add", "wasm32-unknown-unknown"]);
            run(c)?;
        }
        cargo_install("trunk", TRUNK_VERSION, &["--locked"])?;
        // Not --locked: its lockfile names a webpki-roots version the registry lacks.
        cargo_install("wasm-bindgen-cli", WASM_BINDGEN_VERSION, &[])?;
        cargo_install("worker-build", WORKER_BUILD_VERSION, &["--locked"])?;
        npm_install()?;
        apt_install()
    })
}

/// `cargo install` unless `<binary> --version` already reports `version`.
fn cargo_install(krate: &str, version: &str, extra: &[&str]) -> Result {
    let binary = match krate {
        "wasm-bindgen-cli" => "wasm-bindgen",
        other => other,
    };
    let installed = output_of(binary, &["--version"]).unwrap_or_default();
    if installed.contains(version) {
        return Ok(());
    }
    let mut c = cmd("cargo");
    c.args(["install", krate, "--version", version]).args(extra);
    timed(&format!("installing {krate} {version}"), || run(c))
}

fn npm_install() -> Result {
    let root = root();
    let stamp = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    let fresh = match (stamp.metadata(), lock.metadata()) {
        (Ok(s), Ok(l)) => s.modified().ok() >= l.modified().ok(),
        _ => false,
    };
    if fresh && node_bin().join("wrangler").exists() {
        return Ok(());
    }
    let mut c = cmd("npm");
    c.args(["ci", "--no-audit", "--no-fund"]);
    timed("npm ci", || run(c))
}

fn apt_install() -> Result {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = output_of("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    if !is_root {
        return Err(format!(
            "missing system packages: {}. Install them with: sudo apt-get install -y {}",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    let mut update = cmd("apt-get");
    update.args(["update", "-q"]);
    run(update)?;
    let mut install = cmd("apt-get");
    install
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    timed("apt-get install", || run(install))
}

pub fn build() -> Result {
    timed("build", || {
        let mut trunk = cmd("trunk");
        trunk.args(["build", "--release"]);
        run(trunk)?;
        build_worker()
    })
}

/// The `patchbay` binary (debug, or `--release`).
pub fn build_helper(release: bool) -> Result {
    let mut c = cmd("cargo");
    c.args([
        "build",
        "--quiet",
        "-p",
        "patchbay-helper",
        "--bin",
        "patchbay",
    ]);
    if release {
        c.arg("--release");
    }
    run(c)
}

/// The edge Worker, into edge/build/ (worker-build, release).
pub fn build_worker() -> Result {
    let mut worker = cmd("worker-build");
    worker
        .arg("--release")
        .current_dir(root().join("edge"))
        .env("WASM_BINDGEN_BIN", cargo_bin().join("wasm-bindgen"))
        .env("WASM_OPT_BIN", node_bin().join("wasm-opt"))
        .env("ESBUILD_BIN", node_bin().join("esbuild"));
    run(worker)
}

/// `docs/openapi.json` from the code: the test that keeps them equal, told to write it.
pub fn openapi() -> Result {
    let mut c = cmd("cargo");
    c.args([
        "test",
        "--quiet",
        "-p",
        "patchbay-helper",
        "--test",
        "openapi",
    ])
    .arg("the_committed_copy_is_the_generated_document")
    .env("PATCHBAY_WRITE_OPENAPI", "1");
    run(c)?;
    eprintln!("xtask: wrote docs/openapi.json");
    Ok(())
}

pub fn test(cargo_test_args: &[String]) -> Result {
    check_proto_is_portable()?;
    let mut c = cmd("cargo");
    c.args(["test", "--workspace"]).args(cargo_test_args);
    timed("cargo test", || run(c))
}

/// proto must build for wasm32 and must not pull in any runtime or framework.
fn check_proto_is_portable() -> Result {
    let mut build = cmd("cargo");
    build.args([
        "build",
        "--quiet",
        "-p",
        "patchbay-proto",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    run(build)?;
    let tree = cmd("cargo")
        .args([
            "tree",
            "-p",
            "patchbay-proto",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--target",
            "all",
        ])
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    let tree = String::from_utf8_lossy(&tree.stdout);
    let offenders: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| FORBIDDEN_IN_PROTO.contains(name))
        .collect();
    if offenders.is_empty() {
        eprintln!("xtask: proto builds for wasm32 and depends on no runtime or framework");
        Ok(())
    } else {
        Err(format!(
            "proto must stay sans-IO, but depends on: {}",
            offenders.join(", ")
        ))
    }
}

/// Writes `text` to `out` (making its folder) unless the file already holds exactly that:
/// a generated file left alone keeps its mtime, so nothing downstream (Trunk's watcher,
/// cargo) sees a change.
pub fn write_if_changed(out: &Path, text: &str) -> Result {
    if std::fs::read_to_string(out).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::create_dir_all(out.parent().expect("a generated file has a folder"))
        .and_then(|()| std::fs::write(out, text))
        .map_err(|e| format!("write {}: {e}", out.display()))
}
