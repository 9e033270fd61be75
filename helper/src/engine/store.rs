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
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e.to_string())
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

    /// The current bytes, `None` when the file does not exist. No lock is needed: writers
    /// replace the file atomically, so a reader sees either the old or the new version.
    pub fn read(&self) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io {
                action: "read",
                path: self.path.clone(),
                source,
            }),
        }
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
        self.remove_stale_temp_files(dir);
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

    /// Temporary files of writers that were killed mid-write. Only a lock holder creates
    /// them, so while we hold the lock any that exist are abandoned.
    fn remove_stale_temp_files(&self, dir: &Path) {
        let Some(name) = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            return;
        };
        let prefix = format!(".{name}.");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if file_name.starts_with(&prefix) && file_name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
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
