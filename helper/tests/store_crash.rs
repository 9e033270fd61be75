//! Crash safety: a writer killed with SIGKILL at random instants, hundreds of times, never
//! leaves a torn mcp-tokens.json nor loses an entry whose write had returned.
//!
//! The writer is this test binary itself, re-run with `--ignored --exact store_writer_child`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use patchbay_helper::engine::store::JsonStore;
use serde_json::json;

const DIR_ENV: &str = "PATCHBAY_CRASH_TEST_DIR";
const START_ENV: &str = "PATCHBAY_CRASH_TEST_START";
const ROUNDS: u64 = 300;

/// Not a test on its own: the writer process the crash test starts and kills.
#[test]
#[ignore = "run by sigkill_at_any_instant_never_tears_the_file"]
fn store_writer_child() {
    let dir = std::env::var(DIR_ENV).expect("started by the crash test");
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let store = JsonStore::tokens(Path::new(&dir));
    let mut out = std::io::stdout().lock();
    // Start-up (seconds on a loaded machine) is not what the kill should land in.
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    for i in start..start + 40 {
        let began = std::time::Instant::now();
        store
            .update(|e| {
                e.insert(
                    format!("server-{i}"),
                    json!({"token": format!("tok-{i}"), "pad": "x".repeat(700)}),
                )
            })
            .unwrap();
        // Printed only after update() returned: whatever the parent reads here is committed.
        // The duration lets the parent aim its kills at the writes, however slow the disk.
        writeln!(out, "committed {i} {}", began.elapsed().as_micros()).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn sigkill_at_any_instant_never_tears_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = JsonStore::tokens(dir.path());
    let mut committed = BTreeSet::new();
    let mut next = 0u64;
    // How long one write takes here (fsync on a busy disk can take far longer than 1 ms).
    let mut write_micros = (0u64, 0u64); // (sum, count)
    // A small deterministic generator, so a failure can be replayed.
    let mut seed = 0x2545F4914F6CDD1Du64;
    for round in 0..ROUNDS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "store_writer_child", "--nocapture"])
            .arg("--test-threads=1")
            .env(DIR_ENV, dir.path())
            .env(START_ENV, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // Past libtest's own lines ("running 1 test", "test store_writer_child ... ready").
        let mut line = String::new();
        while !line.trim_end().ends_with("ready") {
            line.clear();
            let read = stdout.read_line(&mut line).unwrap();
            assert!(read > 0, "round {round}: the writer did not start");
        }
        // Kill somewhere between "before the first write" and "in the middle of the run": in
        // the first few writes, whatever a write costs on this machine.
        let window = match write_micros.0.checked_div(write_micros.1) {
            Some(mean_write) => (4 * mean_write).max(12_000),
            // No write seen yet: they may be slower than the window; widen it until one lands.
            None => 12_000 << round.min(6),
        };
        std::thread::sleep(Duration::from_micros(seed % window));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("committed ") {
                let (i, micros) = rest.split_once(' ').unwrap();
                let i: u64 = i.parse().unwrap();
                write_micros.0 += micros.parse::<u64>().unwrap();
                write_micros.1 += 1;
                committed.insert(i);
                next = next.max(i + 1);
            }
        }
        next += 1; // skip the index that may have been half-written

        let entries = store
            .read()
            .unwrap_or_else(|e| panic!("round {round}: the file does not parse: {e}"));
        for i in &committed {
            let entry = entries
                .get(&format!("server-{i}"))
                .unwrap_or_else(|| panic!("round {round}: committed entry {i} lost"));
            assert_eq!(entry["token"], format!("tok-{i}"));
        }
    }
    assert!(
        committed.len() > ROUNDS as usize / 4,
        "too few writes completed ({}) for the test to mean anything",
        committed.len()
    );
    // The next writer sweeps the temp files killed writers left behind.
    store
        .update(|e| e.insert("final".into(), json!(1)))
        .unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
