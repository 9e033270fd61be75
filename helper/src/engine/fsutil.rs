//! Private files: 0600 files in 0700 folders, replaced atomically.
//!
//! A credential file is never edited in place. The new content goes to a temporary file in
//! the same folder, is fsynced, renamed over the old one, and the folder is fsynced, so a
//! crash or `kill -9` at any instant leaves either the old file or the new one, never a mix.
//! A writer killed before its rename leaves its temporary file (full credentials) behind;
//! [`temp_target`] recognises one, and the store sweeps them under the file's lock.
//!
//! Every folder the helper creates is 0700, from the first missing one down (never only the
//! last, whatever the umask); folders that already existed above it are not ours to change.
//! Files are tightened to 0600 when read, not only when next written.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The permission bits of `path` (`0o600`).
pub fn mode(path: &Path) -> io::Result<u32> {
    Ok(fs::metadata(path)?.permissions().mode() & 0o777)
}

/// Creates `dir` and every missing folder above it, each 0700, and makes `dir` 0700 if it
/// already existed looser.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && fs::symlink_metadata(p).is_err())
        .collect();
    for folder in missing.into_iter().rev() {
        match DirBuilder::new().mode(0o700).create(folder) {
            Ok(()) => {}
            // Another process (a second `patchbay`) made it a moment ago.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        // The umask only takes bits away, and may take the owner's too.
        fs::set_permissions(folder, fs::Permissions::from_mode(0o700))?;
    }
    if mode(dir)? != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// How long the random part of a temporary file's name is (base64url of 6 bytes).
const TEMP_RANDOM_LEN: usize = 8;

/// The temporary file a writer of `name` uses: `.{name}.{random}.tmp`, in the same folder.
fn temp_name(name: &str) -> String {
    format!(".{name}.{}.tmp", patchbay_proto::secret::random_urlsafe(6))
}

/// The file a temporary file named `file_name` was about to replace, if it is one of ours.
pub fn temp_target(file_name: &str) -> Option<&str> {
    let inner = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (target, random) = inner.rsplit_once('.')?;
    let ours = random.len() == TEMP_RANDOM_LEN
        && random
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (ours && !target.is_empty()).then_some(target)
}

/// Replaces `path` with `contents` atomically; the result is mode 0600. On failure (a full
/// disk included) the old file is untouched and no temporary file is left.
pub fn write_private_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(temp_name(&name.to_string_lossy()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a private file; if someone loosened its mode, tightens it back to 0600 first
/// (on the open file, so what is read is what was tightened).
pub fn read_private(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let loose = file.metadata()?.permissions().mode() & 0o077 != 0;
    if loose {
        match file.set_permissions(fs::Permissions::from_mode(0o600)) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                "credential file was readable by others; set it to 0600"
            ),
            // Not ours to change (another user's file): say so, still read it.
            Err(e) => tracing::warn!(
                path = %path.display(),
                "credential file is readable by others and cannot be tightened: {e}"
            ),
        }
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`read_private`], with a missing file as `None`.
pub fn read_private_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match read_private(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `e` means the disk (or the user's quota) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_0600_in_0700_and_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir).unwrap(), 0o700);
        let f = dir.join("cred.json");
        write_private_atomic(&f, b"one").unwrap();
        write_private_atomic(&f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(mode(&f).unwrap(), 0o600);
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary files left behind");
    }

    /// The umask is process-wide, so this runs in a child process of its own: the test
    /// binary re-runs itself with only this test selected.
    #[test]
    fn every_folder_created_is_0700_whatever_the_umask() {
        if std::env::var_os("PATCHBAY_UMASK_CHILD").is_none() {
            let exe = std::env::current_exe().unwrap();
            let out = std::process::Command::new(exe)
                .args([
                    "--exact",
                    "engine::fsutil::tests::every_folder_created_is_0700_whatever_the_umask",
                    "--nocapture",
                ])
                .env("PATCHBAY_UMASK_CHILD", "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("1 passed"), "the child ran no test: {text}");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o755)).unwrap();
        for umask in [0o000, 0o022, 0o777] {
            // SAFETY: umask(2) only sets the process's file-creation mask.
            let old = unsafe { libc::umask(umask) };
            let top = outside.join(format!("u{umask:o}"));
            let leaf = top.join("x/y/data");
            let made = ensure_private_dir(&leaf);
            unsafe { libc::umask(old) };
            made.unwrap();
            for folder in [&top, &top.join("x"), &top.join("x/y"), &leaf] {
                assert_eq!(mode(folder).unwrap(), 0o700, "{}", folder.display());
            }
        }
        assert_eq!(
            mode(&outside).unwrap(),
            0o755,
            "a folder that was there changed"
        );
    }

    #[test]
    fn loose_permissions_are_tightened_on_read() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("t");
        fs::write(&f, b"x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_private(&f).unwrap(), b"x");
        assert_eq!(mode(&f).unwrap(), 0o600);
        assert_eq!(
            read_private_optional(&tmp.path().join("none")).unwrap(),
            None
        );
    }

    #[test]
    fn temp_files_are_recognised_by_their_name_alone() {
        let name = temp_name("mcp-tokens.json");
        assert_eq!(temp_target(&name), Some("mcp-tokens.json"));
        assert_eq!(
            temp_target(".rclone.conf.AbCd_-12.tmp"),
            Some("rclone.conf")
        );
        for not_ours in [
            "mcp-tokens.json",
            ".mcp-tokens.lock",
            ".x.short.tmp",
            ".x.AbCd_-12.tmp.bak",
            "..AbCd_-12.tmp",
            ".x.AbCd/-12.tmp",
        ] {
            assert_eq!(temp_target(not_ours), None, "{not_ours}");
        }
    }
}
