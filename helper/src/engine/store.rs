//! The credential store: `mcp-tokens.json` (and `~/.xo-cowork/github_token.json`).
//!
//! The file keeps the shape downstream tools already read: one JSON object whose keys are
//! `github`, `vercel`, `vercel_client`, `manus` and one per MCP server. Keys Patchbay does
//! not know are kept as they are.
//!
//! Every change is read-modify-write under an exclusive `flock` on a sibling lock file, so
//! two requests or two helpers never lose each other's entries; the write itself is atomic
//! (see [`super::fsutil`]), so a crash at any instant leaves a file that parses. A file that
//! does not parse, or is not an object, is reported and never overwritten.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use patchbay_proto::Secret;
use serde_json::{Map, Value};

use super::fsutil;
use crate::ApiError;

pub const TOKENS_FILE: &str = "mcp-tokens.json";
const LOCK_FILE: &str = ".mcp-tokens.lock";

/// The contents of a token file: a JSON object.
pub type Entries = Map<String, Value>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path} is not a JSON object ({reason}). Patchbay will not overwrite it: fix it or move \
         it aside, then try again."
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}", io_message(action, path, source))]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_message(action: &str, path: &Path, source: &io::Error) -> String {
    if fsutil::is_disk_full(source) {
        format!(
            "The disk holding {} is full, so Patchbay could not {action} it. Nothing was \
             changed: the file is as it was. Free some space and try again.",
            path.display()
        )
    } else {
        format!("cannot {action} {}: {source}", path.display())
    }
}

impl StoreError {
    /// Whether this failed only because the disk is full (HTTP 507).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io { source, .. } if fsutil::is_disk_full(source))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_disk_full() {
            ApiError::insufficient_storage(e.to_string())
        } else {
            ApiError::internal(e.to_string())
        }
    }
}

/// A private file replaced only atomically, under an exclusive lock shared by every process.
#[derive(Debug, Clone)]
pub struct LockedFile {
    path: PathBuf,
    lock_path: PathBuf,
}

impl LockedFile {
    /// A file at `path`; its lock file sits beside it.
    pub fn at(path: PathBuf) -> Self {
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lock_path = if name == TOKENS_FILE {
            dir.join(LOCK_FILE)
        } else {
            dir.join(format!(".{name}.lock"))
        };
        Self { path, lock_path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current bytes, `None` when the file does not exist; a loosened file is
    /// tightened to 0600 as it is read. No lock is needed: writers replace the file
    /// atomically, so a reader sees either the old or the new version.
    pub fn read(&self) -> Result<Option<Vec<u8>>, StoreError> {
        fsutil::read_private_optional(&self.path).map_err(|source| StoreError::Io {
            action: "read",
            path: self.path.clone(),
            source,
        })
    }

    /// Under the exclusive lock, reads the file, lets `change` decide its new content
    /// (`Ok(None)`: leave it as it is) and writes that atomically.
    pub fn replace<R>(
        &self,
        change: impl FnOnce(Option<&[u8]>) -> Result<(Option<Vec<u8>>, R), StoreError>,
    ) -> Result<R, StoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fsutil::ensure_private_dir(dir).map_err(|source| StoreError::Io {
            action: "create the folder of",
            path: self.path.clone(),
            source,
        })?;
        let _lock = self.lock()?;
        self.remove_stale_temp_files();
        let current = self.read()?;
        let (new, result) = change(current.as_deref())?;
        if let Some(bytes) = new {
            fsutil::write_private_atomic(&self.path, &bytes).map_err(|source| StoreError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(result)
    }

    /// Removes the temporary files of writers that were killed mid-write (they hold whole
    /// credentials), under the lock. Returns how many went.
    pub fn sweep(&self) -> Result<usize, StoreError> {
        let _lock = self.lock()?;
        Ok(self.remove_stale_temp_files())
    }

    /// Temporary files of writers that were killed mid-write. Only a lock holder creates
    /// them, so while we hold the lock any that exist are abandoned.
    fn remove_stale_temp_files(&self) -> usize {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let Some(name) = self.path.file_name().and_then(|n| n.to_str()) else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| e.file_name().to_str().and_then(fsutil::temp_target) == Some(name))
            .filter(|e| std::fs::remove_file(e.path()).is_ok())
            .count()
    }

    /// Deletes the file (under the lock). Missing is fine.
    pub fn remove(&self) -> Result<(), StoreError> {
        if !self.path.exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io {
                action: "delete",
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn lock(&self) -> Result<File, StoreError> {
        let io_err = |source| StoreError::Io {
            action: "lock",
            path: self.lock_path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock_path)
            .map_err(io_err)?;
        // Held until the returned File is dropped (flock(2) semantics).
        file.lock().map_err(io_err)?;
        Ok(file)
    }
}

/// At start-up: removes every temporary file a killed writer left in `dir`, each under the
/// lock of the file it was meant to replace (a live writer in another process keeps its
/// own). Returns how many went.
pub fn sweep_stale_temp_files(dir: &Path) -> Result<usize, StoreError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut targets: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(fsutil::temp_target)
                .map(str::to_owned)
        })
        .collect();
    targets.sort();
    targets.dedup();
    let mut removed = 0;
    for target in targets {
        removed += LockedFile::at(dir.join(target)).sweep()?;
    }
    Ok(removed)
}

/// A JSON-object file of credentials, with locked, atomic updates.
#[derive(Debug, Clone)]
pub struct JsonStore {
    file: LockedFile,
}

impl JsonStore {
    /// A store at `path`; its lock file sits beside it.
    pub fn at(path: PathBuf) -> Self {
        Self {
            file: LockedFile::at(path),
        }
    }

    /// `mcp-tokens.json` in the helper's data folder.
    pub fn tokens(data_dir: &Path) -> Self {
        Self::at(data_dir.join(TOKENS_FILE))
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The current entries (empty when the file does not exist).
    pub fn read(&self) -> Result<Entries, StoreError> {
        match self.file.read()? {
            Some(bytes) => parse(self.path(), &bytes),
            None => Ok(Entries::new()),
        }
    }

    /// Applies `change` to the entries under the exclusive lock and writes the result
    /// atomically (only if something changed). Returns what `change` returned.
    pub fn update<R>(&self, change: impl FnOnce(&mut Entries) -> R) -> Result<R, StoreError> {
        self.file.replace(|current| {
            let before = match current {
                Some(bytes) => parse(self.path(), bytes)?,
                None => Entries::new(),
            };
            let mut entries = before.clone();
            let result = change(&mut entries);
            if entries == before {
                return Ok((None, result));
            }
            let mut text = serde_json::to_vec_pretty(&Value::Object(entries))
                .expect("a JSON map always serialises");
            text.push(b'\n');
            Ok((Some(text), result))
        })
    }

    /// Deletes the file (under the lock). Missing is fine.
    pub fn remove(&self) -> Result<(), StoreError> {
        self.file.remove()
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Entries, StoreError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Entries::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(StoreError::Corrupt {
            path: path.to_owned(),
            reason: format!("its top level is {}", json_kind(&other)),
        }),
        Err(e) => Err(StoreError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The credential of an entry: its `token` member (every entry Patchbay writes has one), or
/// the entry itself when a downstream tool wrote a bare string.
pub fn entry_token(entry: &Value) -> Option<Secret> {
    let raw = match entry {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("token")?.as_str()?,
        _ => return None,
    };
    (!raw.is_empty()).then(|| Secret::new(raw))
}

/// The credential stored under `key` in `tokens`, with its whole entry; `None` when there
/// is no entry or it holds no token.
pub async fn stored_credential(
    tokens: &JsonStore,
    key: &'static str,
) -> Result<Option<(Secret, Value)>, ApiError> {
    let tokens = tokens.clone();
    let entries = blocking(move || tokens.read()).await?;
    Ok(entries
        .get(key)
        .and_then(|entry| Some((entry_token(entry)?, entry.clone()))))
}

/// Runs file work (locks, fsync) off the async runtime.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::internal("a credential-file task failed"))?
        .map_err(ApiError::from)
}

/// Seconds since the Unix epoch, for `saved_at` stamps.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_keeps_foreign_keys_and_writes_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JsonStore::tokens(tmp.path());
        std::fs::write(store.path(), r#"{"someone_else": {"x": 1}}"#).unwrap();
        store
            .update(|e| e.insert("manus".into(), json!({"token": "k"})))
            .unwrap();
        let entries = store.read().unwrap();
        assert_eq!(entries["someone_else"], json!({"x": 1}));
        assert_eq!(entries["manus"]["token"], "k");
        assert_eq!(fsutil::mode(store.path()).unwrap(), 0o600);
    }

    #[test]
    fn corrupt_and_foreign_files_are_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JsonStore::tokens(tmp.path());
        for content in ["{oops", "[1,2]", "\"str\""] {
            std::fs::write(store.path(), content).unwrap();
            let err = store
                .update(|e| e.insert("manus".into(), json!("k")))
                .unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{content}");
            assert!(err.to_string().contains("will not overwrite"));
            assert_eq!(std::fs::read_to_string(store.path()).unwrap(), content);
        }
    }

    #[test]
    fn unchanged_entries_are_not_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JsonStore::tokens(tmp.path());
        store.update(|_| ()).unwrap();
        assert!(!store.path().exists());
    }

    #[test]
    fn fifty_parallel_writers_from_two_stores_all_land() {
        let tmp = tempfile::tempdir().unwrap();
        let a = JsonStore::tokens(tmp.path());
        let b = JsonStore::tokens(tmp.path());
        std::thread::scope(|s| {
            for i in 0..50 {
                let store = if i % 2 == 0 { &a } else { &b };
                s.spawn(move || {
                    store
                        .update(|e| e.insert(format!("server-{i}"), json!({"token": i})))
                        .unwrap();
                });
            }
        });
        let entries = a.read().unwrap();
        assert_eq!(entries.len(), 50);
    }

    #[test]
    fn a_loosened_store_is_tightened_by_a_read() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = JsonStore::tokens(tmp.path());
        std::fs::write(store.path(), r#"{"manus": {"token": "k"}}"#).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(store.read().unwrap()["manus"]["token"], "k");
        assert_eq!(fsutil::mode(store.path()).unwrap(), 0o600);
    }

    #[test]
    fn stale_temp_files_are_swept_at_start_up_and_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for name in [
            ".mcp-tokens.json.AbCd_-12.tmp",
            ".mcp-tokens.json.ZyXw9876.tmp",
            ".rclone.conf.q1w2e3r4.tmp",
            ".pairing-token.AAAAAAAA.tmp",
        ] {
            std::fs::write(dir.join(name), "{\"github\": {\"token\": \"ghp_full\"}}").unwrap();
        }
        for keep in ["mcp-tokens.json", "notes.tmp", ".other.short.tmp"] {
            std::fs::write(dir.join(keep), "x").unwrap();
        }
        assert_eq!(sweep_stale_temp_files(dir).unwrap(), 4);
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        left.sort();
        assert_eq!(left, [".other.short.tmp", "mcp-tokens.json", "notes.tmp"]);
        assert_eq!(sweep_stale_temp_files(&dir.join("missing")).unwrap(), 0);
    }

    #[test]
    fn a_full_disk_is_a_507_that_says_nothing_changed() {
        let e = StoreError::Io {
            action: "write",
            path: "/data/mcp-tokens.json".into(),
            source: io::Error::from_raw_os_error(libc::ENOSPC),
        };
        assert!(e.is_disk_full());
        let api = ApiError::from(e);
        assert_eq!(api.code, patchbay_proto::ErrorCode::InsufficientStorage);
        assert!(
            api.message
                .contains("disk holding /data/mcp-tokens.json is full")
        );
        assert!(api.message.contains("Nothing was changed"));
        let other = ApiError::from(StoreError::Io {
            action: "write",
            path: "/data/x".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        });
        assert_eq!(other.code, patchbay_proto::ErrorCode::Internal);
    }

    #[test]
    fn entry_token_reads_objects_and_bare_strings() {
        assert!(
            entry_token(&json!({"token": "abc"}))
                .unwrap()
                .matches("abc")
        );
        assert!(entry_token(&json!("abc")).unwrap().matches("abc"));
        assert!(entry_token(&json!({"token": ""})).is_none());
        assert!(entry_token(&json!(null)).is_none());
    }
}
