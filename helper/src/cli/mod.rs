//! The commands a person runs around `serve`: keep it running (`service`), pair a browser
//! again (`pair`), find out what is wrong (`doctor`).
//!
//! - [`runtime`]: `helper.json`, where a running `serve` says where it listens, so the other
//!   commands can find it from the data folder alone.
//! - [`service`]: `patchbay service install|uninstall|status`, a systemd user unit (Linux) or
//!   a launchd agent (macOS) that runs `serve` at login.
//! - [`pair`]: `patchbay pair`, the running helper's dashboard link.
//! - [`doctor`]: `patchbay doctor`, one line per check with the fix.
//!
//! Each keeps its logic (rendering, evaluating, formatting) in plain functions and does its
//! I/O (processes, files, sockets, HTTP) at the edges.

pub mod doctor;
pub mod pair;
pub mod runtime;
pub mod service;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `0.1.0 (a1b2c3d4e5f6 2026-01-31)`: the version and the commit it was built from
/// (`unknown commit` when built without git, e.g. from a tarball); see `build.rs`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PATCHBAY_COMMIT"),
    ")"
);

/// The absolute path of the running `patchbay`, for configs other programs run it from
/// (a service manager, an MCP client started from a desktop, without the user's PATH).
pub fn own_exe() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where this patchbay binary is: {e}"))?;
    let text = exe.to_string_lossy();
    // Linux names a binary that was replaced or deleted since it started "… (deleted)".
    if text.ends_with(" (deleted)") {
        return Err(format!(
            "this patchbay binary was replaced or deleted while running ({text}); run the \
             command again with the installed one"
        ));
    }
    Ok(exe)
}

/// Whether `exe` runs from a cargo build folder (`…/target/debug/patchbay`), which
/// `cargo clean` or the next build replaces: configs should name an installed binary.
pub fn is_build_output(exe: &std::path::Path) -> bool {
    let parts: Vec<_> = exe.components().map(|c| c.as_os_str()).collect();
    parts
        .windows(2)
        .any(|w| w[0] == "target" && (w[1] == "debug" || w[1] == "release"))
}

/// Where `program` runs from: itself when it names a path, else the first executable of that
/// name in `path_var` (a `PATH` value), as a shell would find it.
pub fn find_program(program: &Path, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 {
        return executable(program).then(|| program.to_owned());
    }
    std::env::split_paths(path_var?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_package_version_and_a_commit() {
        assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        let commit = VERSION
            .split_once('(')
            .and_then(|(_, c)| c.strip_suffix(')'))
            .unwrap();
        assert!(!commit.trim().is_empty(), "{VERSION}");
    }

    #[test]
    fn programs_are_found_as_a_shell_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap(); // not executable: skipped
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(
            find_program("tool".as_ref(), Some(&path)),
            Some(b.join("tool"))
        );
        assert_eq!(find_program("nope".as_ref(), Some(&path)), None);
        assert_eq!(find_program("tool".as_ref(), None), None);
        let absolute = b.join("tool");
        assert_eq!(find_program(&absolute, None), Some(absolute.clone()));
    }

    #[test]
    fn build_folders_are_recognised() {
        assert!(is_build_output(
            "/src/patchbay/target/debug/patchbay".as_ref()
        ));
        assert!(is_build_output(
            "/src/patchbay/target/release/patchbay".as_ref()
        ));
        assert!(!is_build_output("/home/me/.cargo/bin/patchbay".as_ref()));
        assert!(!is_build_output("/opt/target/patchbay".as_ref()));
    }
}
