//! The jobs, as sequences of commands.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use patchbay_testkit::process::{Running, wait_for_port};

pub const TRUNK_VERSION: &str = "0.21.14";
/// Must equal the `wasm-bindgen` pinned in Cargo.toml (`=0.2.130`).
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
pub const WORKER_BUILD_VERSION: &str = "0.8.7";
const APT_PACKAGES: [(&str, &str); 6] = [
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("rclone", "/usr/bin/rclone"),
    ("gh", "/usr/bin/gh"),
    // `systemd-analyze verify`: systemd's own check of the unit `patchbay service` writes.
    ("systemd", "/usr/bin/systemd-analyze"),
    // The load generator of `cargo xtask bench`.
    ("wrk", "/usr/bin/wrk"),
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

fn node_bin() -> PathBuf {
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

pub(crate) fn run(mut c: Command) -> Result {
    let shown = format!("{:?}", c).replace('"', "");
    eprintln!("xtask: $ {shown}");
    let status = c.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
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
    eprintln!("xtask: {what} took {:.1}s", start.elapsed().as_secs_f64());
    r
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
        let mut worker = cmd("worker-build");
        worker
            .arg("--release")
            .current_dir(root().join("edge"))
            .env("WASM_BINDGEN_BIN", cargo_bin().join("wasm-bindgen"))
            .env("WASM_OPT_BIN", node_bin().join("wasm-opt"))
            .env("ESBUILD_BIN", node_bin().join("esbuild"));
        run(worker)
    })
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

pub fn dev() -> Result {
    let helper_port = 7878;
    let edge_port = 8787;
    let dashboard = "http://127.0.0.1:8080";

    let mut build_helper = cmd("cargo");
    build_helper.args(["build", "-p", "patchbay-helper"]);
    run(build_helper)?;

    // The edge's secrets for local runs live in edge/.dev.vars (git-ignored), which
    // `wrangler dev` reads; the D1 schema comes from the same migrations as a deployment.
    let dev_vars = root().join("edge/.dev.vars");
    if !dev_vars.exists() {
        let secrets = format!(
            "PATCHBAY_EDGE_TOKEN={}\nPATCHBAY_ENCRYPTION_KEY={}\n",
            patchbay_proto::secret::random_urlsafe(32),
            patchbay_proto::secret::random_urlsafe(32)
        );
        std::fs::write(&dev_vars, secrets).map_err(|e| format!("write edge/.dev.vars: {e}"))?;
        eprintln!("xtask: wrote edge/.dev.vars with a fresh edge API token and encryption key");
    }
    let mut migrate = cmd(&node_bin().join("wrangler").to_string_lossy());
    migrate
        .current_dir(root().join("edge"))
        .args(["d1", "migrations", "apply", "DB", "--local"]);
    run(migrate)?;

    let mut edge = cmd(&node_bin().join("wrangler").to_string_lossy());
    edge.current_dir(root().join("edge")).args([
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        &edge_port.to_string(),
        "--show-interactive-dev-session=false",
    ]);
    let _edge = Running::start_inherit("wrangler dev", edge);

    // The helper forwards the dashboard's Vercel calls to the edge with the edge's token.
    let edge_token = std::fs::read_to_string(&dev_vars)
        .ok()
        .and_then(|vars| {
            vars.lines()
                .find_map(|l| l.strip_prefix("PATCHBAY_EDGE_TOKEN=").map(str::to_owned))
        })
        .ok_or("edge/.dev.vars has no PATCHBAY_EDGE_TOKEN line")?;
    let mut helper = cmd(&root().join("target/debug/patchbay").to_string_lossy());
    helper
        .env("PATCHBAY_EDGE_URL", format!("http://127.0.0.1:{edge_port}"))
        .env("PATCHBAY_EDGE_TOKEN", edge_token.trim());
    helper.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{helper_port}"),
        "--dashboard-url",
        dashboard,
        "--allow-origin",
        &format!("http://localhost:8080,http://127.0.0.1:{edge_port},http://localhost:{edge_port}"),
    ]);
    let _helper = Running::start_inherit("patchbay serve", helper);

    let mut trunk = cmd("trunk");
    trunk.arg("serve");
    let _trunk = Running::start_inherit("trunk serve", trunk);

    for (what, port) in [
        ("helper", helper_port),
        ("edge", edge_port),
        ("dashboard", 8080),
    ] {
        if !wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(60)) {
            return Err(format!("the {what} did not start on port {port}"));
        }
    }
    eprintln!(
        "\nxtask: Patchbay is running. Open the dashboard link the helper printed above \
         (it starts with {dashboard}/#helper=). Ctrl-C stops everything.\n"
    );
    wait_for_ctrl_c();
    Ok(())
}

fn wait_for_ctrl_c() {
    // SAFETY: sigwait on a blocked SIGINT/SIGTERM set; no handlers, no shared state.
    unsafe {
        let mut set: libc_sigset::sigset_t = std::mem::zeroed();
        libc_sigset::sigemptyset(&mut set);
        libc_sigset::sigaddset(&mut set, libc_sigset::SIGINT);
        libc_sigset::sigaddset(&mut set, libc_sigset::SIGTERM);
        libc_sigset::pthread_sigmask(libc_sigset::SIG_BLOCK, &set, std::ptr::null_mut());
        let mut sig = 0;
        libc_sigset::sigwait(&set, &mut sig);
    }
}

use patchbay_testkit::libc as libc_sigset;
