//! `cargo xtask install` into a temporary root, in a temporary HOME, then the installed
//! `patchbay --version`: the package version and the commit the checkout is at.
//!
//! `--debug`, in the workspace's target folder: CI has compiled that build already (the e2e
//! rigs build the same `patchbay`), so the install costs a relink, not a compile.

use std::path::{Path, PathBuf};
use std::process::Command;

fn real_home(var: &str, under_home: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(under_home))
}

fn git(args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn install_puts_a_patchbay_that_names_its_commit_into_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, root) = (tmp.path().join("home"), tmp.path().join("root"));
    std::fs::create_dir(&home).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["install", "--debug", "--root"])
        .arg(&root)
        .env("HOME", &home)
        // The toolchain and the registry stay where they are; only HOME is new.
        .env("CARGO_HOME", real_home("CARGO_HOME", ".cargo"))
        .env("RUSTUP_HOME", real_home("RUSTUP_HOME", ".rustup"))
        .env_remove("CARGO_INSTALL_ROOT")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");

    let bin = root.join("bin/patchbay");
    assert!(
        stdout.contains(&format!(" at {}\n", bin.display())),
        "it did not say where: {all}"
    );
    assert!(stdout.contains("is not on your PATH"), "{all}");

    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert!(version.status.success());
    let version = String::from_utf8_lossy(&version.stdout);
    let commit = git(&["log", "-1", "--format=%h", "--abbrev=12"]);
    assert!(
        version.starts_with(&format!(
            "patchbay {} ({commit} ",
            env!("CARGO_PKG_VERSION")
        )),
        "{version:?} does not name commit {commit}"
    );
    assert!(stdout.contains(version.trim()), "{all}");
    assert!(
        std::fs::read_dir(&home).unwrap().next().is_none(),
        "the install wrote into HOME"
    );
}
