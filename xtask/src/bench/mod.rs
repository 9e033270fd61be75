//! `cargo xtask bench`: builds the helper in release, then runs the bench binary
//! (`bench/`, crate `patchbay-bench`), which measures every area against same-run baselines,
//! writes BENCHMARKS.md and exits non-zero when a budget is missed. The bench lives in its own
//! crate so xtask stays small to compile (no HTTP client, no WebDriver here).

use crate::tools::{Result, build_helper, cmd, run, target_dir, timed};

pub fn bench(args: &[String]) -> Result {
    timed("release build of the helper", || build_helper(true))?;
    let mut build = cmd("cargo");
    build.args(["build", "--quiet", "-p", "patchbay-bench"]);
    run(build)?;
    let target = target_dir();
    let mut bench = cmd(&target.join("debug/patchbay-bench").to_string_lossy());
    bench
        .args(args)
        .env("PATCHBAY_BENCH_HELPER", target.join("release/patchbay"));
    timed("bench", || run(bench))
        .map_err(|e| format!("{e}: a budget was missed or an area failed; see BENCHMARKS.md"))
}
