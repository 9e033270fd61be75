//! `patchbay-bench`: run by `cargo xtask bench` after the release helper, the dashboard and
//! the Worker are built. Measures each area against a baseline or alternative in the same
//! run, writes BENCHMARKS.md, and exits non-zero when a budget is missed.
//!
//! Areas (one module each): `helper`, `hostile` (stalled and slowloris clients), `rclone`
//! (with session propagation), `mcp` (with the refresh storm), `dashboard`, `edge`, `soak`
//! (1,000 Drive flows and 1,000 MCP calls: file descriptors and RSS stay flat).
//! `--only a,b` runs some of them.

mod dashboard;
mod edge;
mod helper;
mod hostile;
mod mcp;
mod rclone;
mod report;
mod soak;
mod util;

use std::process::ExitCode;
use std::time::Instant;

use patchbay_testkit::process::workspace_root;
use report::{Machine, Section};

const AREAS: [&str; 7] = [
    "helper",
    "hostile",
    "rclone",
    "mcp",
    "dashboard",
    "edge",
    "soak",
];

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only: Vec<String> = match args.iter().position(|a| a == "--only") {
        Some(i) => args
            .get(i + 1)
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        None => AREAS.iter().map(|a| (*a).to_owned()).collect(),
    };
    if let Some(bad) = only.iter().find(|a| !AREAS.contains(&a.as_str())) {
        eprintln!("bench: unknown area {bad:?}; areas: {}", AREAS.join(", "));
        return ExitCode::FAILURE;
    }
    let on = |a: &str| only.iter().any(|o| o == a);
    if !util::helper_bin().exists() {
        eprintln!(
            "bench: {} is missing: run `cargo xtask bench`, which builds it",
            util::helper_bin().display()
        );
        return ExitCode::FAILURE;
    }
    let started = Instant::now();

    let mut helper = Section::new("Helper");
    let mut hostile = Section::new("Hostile clients");
    let mut rclone = Section::new("rclone flows");
    let mut propagation = Section::new("Session propagation");
    let mut mcp = Section::new("MCP");
    let mut refresh = Section::new("Refresh");
    let mut dashboard = Section::new("Dashboard");
    let mut edge = Section::new("Edge");
    let mut soak = Section::new("Soak");

    if on("helper") {
        let h = &mut helper;
        tokio::task::block_in_place(|| helper::start_and_idle(h));
    }
    if on("hostile") {
        let h = &mut hostile;
        tokio::task::block_in_place(|| hostile::run(h));
    }
    if on("helper") || on("rclone") {
        match rclone::Rig::start() {
            Ok(rig) => {
                let session = if on("rclone") {
                    rclone::run(&rig, &mut rclone, &mut propagation).await
                } else {
                    None
                };
                if on("helper") {
                    let h = &mut helper;
                    tokio::task::block_in_place(|| {
                        helper::load(&rig.helper, session.as_deref(), h)
                    });
                }
            }
            Err(e) => helper.failed("helper with the fake OAuth provider", &e),
        }
    }
    if on("mcp") {
        let (m, r) = (&mut mcp, &mut refresh);
        tokio::task::block_in_place(|| mcp::run(m, r));
    }
    if on("dashboard") {
        dashboard::size(&mut dashboard);
        dashboard::render(&mut dashboard).await;
    }
    if on("edge") {
        let e = &mut edge;
        tokio::task::block_in_place(|| {
            edge::size(e);
            edge::dev(e);
        });
    }

    if on("soak") {
        soak::drive_flows(&mut soak).await;
        let s = &mut soak;
        tokio::task::block_in_place(|| soak::mcp_calls(s));
    }

    let mut run_notes = Section::new("Notes on this run");
    for r in util::retried() {
        run_notes.note(format!(
            "A failed attempt was retried (the port 53682 and the 2 cores are shared with \
             other work on this machine): {r}"
        ));
    }
    let sections: Vec<Section> = [
        helper,
        hostile,
        propagation,
        rclone,
        mcp,
        refresh,
        dashboard,
        edge,
        soak,
        run_notes,
    ]
    .into_iter()
    .filter(|s| !s.rows.is_empty() || !s.notes.is_empty())
    .collect();
    let md = report::markdown(&machine(), &sections, started.elapsed());
    let path = workspace_root().join("BENCHMARKS.md");
    if let Err(e) = std::fs::write(&path, md) {
        eprintln!("bench: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "bench: wrote {} in {:.0} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    let missed = report::all_pass(&sections);
    if missed.is_empty() {
        eprintln!("bench: every budget holds");
        ExitCode::SUCCESS
    } else {
        eprintln!("bench: budgets missed:");
        for m in &missed {
            eprintln!("  - {m}");
        }
        ExitCode::FAILURE
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "?".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let v = util::version_of;
    let wrangler = patchbay_testkit::rigs::wrangler::wrangler_bin();
    let root = workspace_root().to_string_lossy().into_owned();
    let commit = v("git", &["-C", &root, "rev-parse", "--short", "HEAD"]);
    let dirty = std::process::Command::new("git")
        .args(["-C", &root, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let lines = vec![
        ("date (UTC)", v("date", &["-u", "+%Y-%m-%d %H:%M"])),
        (
            "source",
            if dirty {
                format!("commit {commit} plus uncommitted changes in the working tree")
            } else {
                format!("commit {commit}")
            },
        ),
        ("CPU", cpu),
        ("nproc", nproc),
        ("memory", mem),
        ("load average at the end (1/5/15 min)", load),
        ("kernel", v("uname", &["-sr"])),
        ("rustc", v("rustc", &["-V"])),
        ("rclone", v("rclone", &["version"])),
        ("gh", v("gh", &["--version"])),
        ("wrangler", v(&wrangler.to_string_lossy(), &["--version"])),
        ("chromium", v("chromium", &["--version"])),
        ("node", v("node", &["--version"])),
        ("wrk", v("wrk", &["-v"])),
        (
            "patchbay",
            v(&util::helper_bin().to_string_lossy(), &["--version"]) + " (release build)",
        ),
    ];
    Machine {
        lines: lines.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}
