//! `cargo xtask <job>`: every routine job of the project, the same on every machine.
//!
//! - `setup`: install what is missing (wasm target, trunk, wasm-bindgen-cli, worker-build,
//!   node tools, chromium, chromedriver, rclone, gh). Pinned versions; skipped when present.
//! - `build`: the dashboard (Trunk, release) and the Worker (worker-build, release).
//! - `dev`: setup, the Worker and the helper, then the helper, `wrangler dev` and `trunk
//!   serve` together (`dev.rs`).
//! - `logos`: the providers' logos as an SVG sprite for the dashboard (Trunk's pre-build hook).
//! - `docs`: README.md as the dashboard's `docs.html`, with section anchors (a pre-build hook too).
//! - `test`: setup + build, then every test (unit, API, wasm checks, end-to-end).
//! - `bench`: setup + build, then the benchmarks (`bench/`), which write BENCHMARKS.md.
//! - `install`: the helper binary (`patchbay`) onto PATH, with `cargo install`.
//! - `openapi`: rewrite `docs/openapi.json` from the code (the test that compares them).

mod bench;
mod dev;
mod docs;
mod install;
mod logos;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let job = args.first().map(String::as_str).unwrap_or("help");
    let result = match job {
        "setup" => tools::setup(),
        "build" => tools::setup().and_then(|()| tools::build()),
        "dev" => match &args[1..] {
            [] => dev::dev(false),
            [v] if v == "--verbose" || v == "-v" => dev::dev(true),
            other => Err(format!("dev takes only --verbose, not {other:?}\n\n{HELP}")),
        },
        "logos" => logos::logos(),
        "docs" => docs::docs(),
        "test" => tools::setup()
            .and_then(|()| tools::build())
            .and_then(|()| tools::test(&args[1..])),
        "bench" => tools::setup()
            .and_then(|()| tools::build())
            .and_then(|()| bench::bench(&args[1..])),
        "install" => install::install(&args[1..]),
        "openapi" => tools::openapi(),
        "help" | "--help" | "-h" => {
            print!("{}", HELP);
            Ok(())
        }
        other => Err(format!("unknown job {other:?}\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

const HELP: &str = "\
usage: cargo xtask <job>

  setup   install missing tools (pinned versions; fast when already installed)
  build   build the dashboard (dist/) and the Worker (edge/build/)
  dev     run Patchbay locally: helper on 127.0.0.1:7878, edge (wrangler dev, local D1)
          on 127.0.0.1:8787, dashboard (trunk serve, dev build in target/dev-dashboard)
          on 127.0.0.1:8080; ends with the pairing link. `--verbose` shows every command
          and everything the parts print
  test    run every test: unit, API, wasm build checks and end-to-end (real rclone,
          gh, workerd and headless Chromium); extra arguments go to `cargo test`
  bench   measure the helper, the flows, MCP, the dashboard and the edge against
          same-run baselines; writes BENCHMARKS.md, fails when a budget is missed
          (`--only helper,rclone,mcp,dashboard,edge` runs some areas)
  openapi rewrite docs/openapi.json from the code (helper/tests/openapi.rs keeps them
          equal)
  logos   write the providers' logos (from node_modules) as the dashboard's SVG sprite;
          Trunk runs it before every build
  docs    write README.md as the dashboard's docs.html (the setup notes' links go to
          its sections); Trunk runs it before every build
  install install the helper (`patchbay`) with `cargo install --locked --path helper`
          into cargo's bin folder (`--root DIR` for another; `--debug` for a quick build)
          and say where it went
";
