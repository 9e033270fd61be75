//! `FilesCache`: a value computed from some files, kept until one of them changes.
//!
//! A file is recognised by its [`Stamp`] (device, inode, size, mtime and ctime to the
//! nanosecond), taken with one `stat` per file; a hit costs those and a mutex. Atomic
//! replaces (temp file + rename, as [`super::fsutil`] writes) always give a new inode;
//! in-place edits change the size or the times.
//!
//! File times are only as fine as the kernel's clock tick (milliseconds on Linux, whole
//! seconds on some filesystems), so a write within the same tick as an earlier read can
//! leave the stamp as it was. As git does with its index ("racy clean"), a value is kept only
//! when every file it was read from was last changed at least [`SETTLE`] before the read;
//! until then each call reads again. So a change is seen at once, however quickly it follows
//! the last one.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a file must have been left alone before a value read from it is kept: more
/// than the coarsest timestamp granularity of a local filesystem (FAT's 2 s).
pub const SETTLE: Duration = Duration::from_secs(3);

/// What `stat` says about a file; equal stamps mean the same content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The later of the file's last content and metadata change.
    fn changed_at(&self) -> SystemTime {
        let at = |(s, ns): (i64, i64)| {
            UNIX_EPOCH + Duration::new(s.max(0) as u64, ns.clamp(0, 999_999_999) as u32)
        };
        at(self.mtime).max(at(self.ctime))
    }
}

/// Each file's stamp, `None` for a file that does not exist.
fn stamps(paths: &[PathBuf]) -> io::Result<Vec<Option<Stamp>>> {
    paths
        .iter()
        .map(|p| match std::fs::metadata(p) {
            Ok(meta) => Ok(Some(Stamp::of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .collect()
}

/// Whether every file was left alone for [`SETTLE`] before `read_at`.
fn settled(stamps: &[Option<Stamp>], read_at: SystemTime) -> bool {
    stamps
        .iter()
        .flatten()
        .all(|s| s.changed_at() + SETTLE <= read_at)
}

/// A value read from `paths`, re-read only when one of them has changed.
pub struct FilesCache<T> {
    paths: Vec<PathBuf>,
    kept: Mutex<Option<(Vec<Option<Stamp>>, T)>>,
}

impl<T: Clone> FilesCache<T> {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            kept: Mutex::new(None),
        }
    }

    /// The kept value if no file changed since it was read; else `read()`'s, kept for next
    /// time once the files have settled. `read` reads the files itself, so its errors reach
    /// the caller unchanged; a file `stat` cannot see (other than a missing one) is never
    /// cached, so `read` meets and reports it.
    pub fn get<E>(&self, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        // Stamps before the read: a change during it makes the next call read again.
        let Ok(now) = stamps(&self.paths) else {
            *self.lock() = None;
            return read();
        };
        if let Some(value) = self.kept_for(&now) {
            return Ok(value);
        }
        let read_at = SystemTime::now();
        let value = read()?;
        *self.lock() = settled(&now, read_at).then(|| (now, value.clone()));
        Ok(value)
    }

    /// The kept value if no file changed since it was read, without reading anything.
    pub fn fresh(&self) -> Option<T> {
        self.kept_for(&stamps(&self.paths).ok()?)
    }

    fn kept_for(&self, now: &[Option<Stamp>]) -> Option<T> {
        match &*self.lock() {
            Some((stamps, value)) if stamps == now => Some(value.clone()),
            _ => None,
        }
    }

    /// Whether a value is kept (for tests).
    pub fn is_kept(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Vec<Option<Stamp>>, T)>> {
        // A panic while holding it cannot leave a half-written value: assignments only.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::fs::{File, FileTimes};

    use super::*;

    /// Sets a file's mtime to `ago` in the past, as if it had been written then.
    fn age(path: &std::path::Path, ago: Duration) {
        let when = SystemTime::now() - ago;
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_times(FileTimes::new().set_modified(when).set_accessed(when))
            .unwrap();
    }

    #[test]
    fn settled_files_are_read_once_and_a_change_is_read_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, missing) = (dir.path().join("a"), dir.path().join("missing"));
        std::fs::write(&a, "one").unwrap();
        let cache = FilesCache::new(vec![a.clone(), missing.clone()]);
        let reads = Cell::new(0);
        let read = || {
            reads.set(reads.get() + 1);
            Ok::<_, io::Error>(std::fs::read_to_string(&a).unwrap())
        };

        // Just written: read every time (its stamp may not change on the next write yet).
        assert_eq!(cache.get(read).unwrap(), "one");
        assert_eq!(cache.get(read).unwrap(), "one");
        assert_eq!(reads.get(), 2);
        assert!(!cache.is_kept());

        // ctime cannot be set back, so a settled file is one whose stamp we compare only: a
        // cache primed by hand with the current stamps stands for "read long ago".
        age(&a, Duration::from_secs(60));
        let now = stamps(&cache.paths).unwrap();
        *cache.lock() = Some((now, "one".to_owned()));
        assert_eq!(cache.get(read).unwrap(), "one");
        assert_eq!(reads.get(), 2, "an unchanged file was read again");

        // Rewritten in place with the same size and the same (old) mtime: ctime and the
        // check still see it.
        std::fs::write(&a, "two").unwrap();
        age(&a, Duration::from_secs(60));
        assert_eq!(cache.get(read).unwrap(), "two");

        // A file that appears counts as a change too.
        let now = stamps(&cache.paths).unwrap();
        *cache.lock() = Some((now, "two".to_owned()));
        std::fs::write(&missing, "").unwrap();
        assert_eq!(cache.get(read).unwrap(), "two");
        assert_eq!(reads.get(), 4);
    }

    #[test]
    fn a_value_is_kept_only_when_its_files_had_settled_before_the_read() {
        let t = SystemTime::now();
        let stamp = |changed: SystemTime| {
            let d = changed.duration_since(UNIX_EPOCH).unwrap();
            let at = (d.as_secs() as i64, d.subsec_nanos() as i64);
            Some(Stamp {
                dev: 1,
                ino: 2,
                len: 3,
                mtime: at,
                ctime: at,
            })
        };
        assert!(settled(&[None], t));
        assert!(settled(&[stamp(t - SETTLE), None], t));
        assert!(!settled(
            &[stamp(t - SETTLE), stamp(t - Duration::from_millis(1))],
            t
        ));
        assert!(
            !settled(&[stamp(t + Duration::from_secs(5))], t),
            "a clock step back"
        );
    }

    #[test]
    fn a_replaced_file_is_a_new_one_even_with_the_same_times_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "one").unwrap();
        let before = Stamp::of(&std::fs::metadata(&a).unwrap());
        let tmp = dir.path().join("a.tmp");
        std::fs::write(&tmp, "two").unwrap();
        std::fs::rename(&tmp, &a).unwrap();
        let after = Stamp::of(&std::fs::metadata(&a).unwrap());
        assert_ne!(before.ino, after.ino);
        assert_ne!(before, after);
    }
}
