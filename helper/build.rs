//! Puts the commit the helper is built from into `PATCHBAY_COMMIT`, for `patchbay --version`.
//!
//! From git when the helper's sources are tracked by the repository around them (a checkout,
//! `cargo install --path helper`); else from a `PATCHBAY_COMMIT` set for the build (a packager
//! building from a tarball); else `unknown`. Only the files that move when this checkout's
//! HEAD moves are watched, so a commit on another branch or worktree rebuilds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PATCHBAY_COMMIT");
    let commit = from_git().or_else(|| {
        std::env::var("PATCHBAY_COMMIT")
            .ok()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
    });
    println!(
        "cargo:rustc-env=PATCHBAY_COMMIT={}",
        commit.as_deref().unwrap_or("unknown commit")
    );
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `<short hash> <commit date>`, when this crate's own sources are in the repository (not
/// when a tarball was unpacked inside some unrelated repository).
fn from_git() -> Option<String> {
    git(&["ls-files", "--error-unmatch", "build.rs"])?;
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    watch(&git_dir.join("HEAD"));
    // Appended to on every commit, checkout and reset of this worktree.
    watch(&git_dir.join("logs/HEAD"));
    if let (Some(head_ref), Some(common)) = (
        git(&["symbolic-ref", "-q", "HEAD"]),
        git(&["rev-parse", "--git-common-dir"]),
    ) {
        let common = Path::new(env!("CARGO_MANIFEST_DIR")).join(common);
        watch(&common.join(head_ref));
    }
    git(&["log", "-1", "--format=%h %cs", "--abbrev=12"])
}

/// Reruns this script when `path` changes; a missing path is not watched (cargo would rerun
/// on every build).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
