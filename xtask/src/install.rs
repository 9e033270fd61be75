//! `cargo xtask install [--root DIR] [--debug]`: the helper binary onto the user's PATH.
//!
//! The same as `cargo install --locked --path helper`, built in the workspace's own target
//! folder (so what a test or `cargo xtask dev` already compiled is not compiled again), and
//! it says where the binary went and whether that folder is on PATH.

use std::env;
use std::path::{Path, PathBuf};

use crate::tools::{Result, cargo_home, cmd, root, run, timed};

pub fn install(args: &[String]) -> Result {
    let mut install_root = None;
    let mut debug = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => {
                let dir = args.next().ok_or("--root needs a folder")?;
                install_root = Some(PathBuf::from(dir));
            }
            "--debug" => debug = true,
            other => {
                return Err(format!(
                    "install: unknown option {other:?} (it takes --root DIR and --debug)"
                ));
            }
        }
    }
    // Named explicitly, so this job knows where the binary lands: cargo's own default.
    let install_root = install_root
        .or_else(|| env::var_os("CARGO_INSTALL_ROOT").map(PathBuf::from))
        .unwrap_or_else(cargo_home);
    let install_root = std::path::absolute(&install_root)
        .map_err(|e| format!("{}: {e}", install_root.display()))?;

    let mut c = cmd("cargo");
    c.args(["install", "--locked", "--path", "helper", "--root"])
        .arg(&install_root);
    if debug {
        c.arg("--debug");
    }
    if env::var_os("CARGO_TARGET_DIR").is_none() {
        c.env("CARGO_TARGET_DIR", root().join("target"));
    }
    timed("cargo install", || run(c))?;

    let bin = install_root.join("bin/patchbay");
    let version = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .ok_or_else(|| format!("{} does not run after the install", bin.display()))?;
    println!("Installed {version} at {}", bin.display());
    let bin_dir = install_root.join("bin");
    if !on_path(&bin_dir) {
        println!(
            "{} is not on your PATH: add it (e.g. `export PATH=\"{}:$PATH\"` in ~/.profile).",
            bin_dir.display(),
            bin_dir.display()
        );
    }
    println!(
        "Next: `patchbay service install` runs the helper at every login; `patchbay doctor` \
         checks the set-up."
    );
    Ok(())
}

fn on_path(dir: &Path) -> bool {
    env::var_os("PATH").is_some_and(|p| env::split_paths(&p).any(|d| d == dir))
}
