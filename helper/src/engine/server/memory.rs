//! What a burst of connections leaves behind: file descriptors and freed heap.
//!
//! glibc keeps memory freed by many threads in per-thread arenas instead of giving it back,
//! so after 2,000 connections close the helper's RSS would stay where the burst left it.
//! Once the open connections fall back to a handful after a burst, [`Trimmer`] asks glibc
//! to return free pages to the kernel (`malloc_trim`, a few milliseconds).

use std::sync::atomic::{AtomicUsize, Ordering};

/// A burst: at least this many connections open at once since the last trim.
const BURST: usize = 64;
/// Quiet again: at most this many still open.
const QUIET: usize = 4;
/// File descriptors kept for everything else (credential files, children's pipes, logs).
const RESERVED_FDS: u64 = 256;

#[derive(Debug, Default)]
pub struct Trimmer {
    open: AtomicUsize,
    peak: AtomicUsize,
}

impl Trimmer {
    pub fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    pub fn closed(&self) {
        let now = self.open.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        if now <= QUIET && self.peak.swap(now, Ordering::Relaxed) >= BURST {
            tokio::task::spawn_blocking(give_back_free_memory);
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_free_memory() {
    // SAFETY: malloc_trim only walks glibc's own heap structures.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_free_memory() {}

/// Raises the soft open-file limit to the hard one (as Go programs do), so the connection
/// cap, not the process's default of 1,024 files, decides when connections are refused.
/// Returns how many connections fit: `max`, or fewer when the limit is lower.
pub fn raise_fd_limit_for(max: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit fill or read the struct we pass, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return max;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    let fit = limit.rlim_cur.saturating_sub(RESERVED_FDS).max(1);
    max.min(usize::try_from(fit).unwrap_or(usize::MAX))
}
