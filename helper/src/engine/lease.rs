//! The 127.0.0.1:53682 lease.
//!
//! Google's and Microsoft's rclone clients, and MCP logins, all need a listener on
//! 127.0.0.1:53682, so only one such flow can run at a time, in this helper or in any other
//! `patchbay` process (`patchbay mcp login` runs beside `patchbay serve`). The lease is an
//! exclusive `flock` on a file in the data folder, which the kernel releases when its holder
//! exits, however it exits; the file also says who holds it, for the 409 message.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::ApiError;

pub const LOOPBACK_PORT: u16 = 53682;
const LEASE_FILE: &str = ".loopback-53682.lease";

/// Holding this means this flow may use 127.0.0.1:53682. Dropping it releases the port.
#[derive(Debug)]
pub struct LoopbackLease {
    file: File,
}

/// Someone else holds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseBusy {
    /// What the holder wrote about itself ("Google Drive sign-in for remote “work”").
    pub holder: Option<String>,
}

impl LeaseBusy {
    pub fn message(&self) -> String {
        match &self.holder {
            Some(h) => format!(
                "Another sign-in is using port {LOOPBACK_PORT}: {h}. Finish or cancel it, then \
                 try again."
            ),
            None => format!(
                "Another sign-in is using port {LOOPBACK_PORT}. Finish or cancel it, then try \
                 again."
            ),
        }
    }
}

impl From<LeaseBusy> for ApiError {
    fn from(b: LeaseBusy) -> Self {
        ApiError::conflict(b.message())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("{}", .0.message())]
    Busy(LeaseBusy),
    #[error("cannot use the lease file in {dir}: {source}")]
    Io { dir: String, source: io::Error },
}

impl From<LeaseError> for ApiError {
    fn from(e: LeaseError) -> Self {
        match e {
            LeaseError::Busy(b) => b.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl LoopbackLease {
    /// Takes the lease without waiting; `holder` describes the flow for whoever is refused.
    pub fn try_acquire(data_dir: &Path, holder: &str) -> Result<LoopbackLease, LeaseError> {
        let io_err = |source| LeaseError::Io {
            dir: data_dir.display().to_string(),
            source,
        };
        super::fsutil::ensure_private_dir(data_dir).map_err(io_err)?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(data_dir.join(LEASE_FILE))
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder writes its description just after it takes the lock: a refusal
                // in between would read nothing, so it looks again for a moment.
                let mut holder = None;
                for _ in 0..20 {
                    let mut text = String::new();
                    let _ = file.rewind();
                    let _ = file.read_to_string(&mut text);
                    holder = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
                    if holder.is_some() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                return Err(LeaseError::Busy(LeaseBusy { holder }));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        file.write_all(holder.as_bytes()).map_err(io_err)?;
        Ok(LoopbackLease { file })
    }
}

/// What the current holder wrote about itself, read without taking the lease (`None` when
/// it is free, or its holder was killed before it could clear it and the port is free too).
pub fn holder(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(LEASE_FILE)).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

impl Drop for LoopbackLease {
    fn drop(&mut self) {
        // Clear the description before the kernel drops the lock with the file.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_refusals_name_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let lease =
            LoopbackLease::try_acquire(dir.path(), "Google Drive sign-in for “work”").unwrap();
        let Err(LeaseError::Busy(busy)) = LoopbackLease::try_acquire(dir.path(), "MCP login")
        else {
            panic!("second holder admitted");
        };
        assert_eq!(
            busy.holder.as_deref(),
            Some("Google Drive sign-in for “work”")
        );
        assert!(busy.message().contains("53682"));
        assert_eq!(
            holder(dir.path()).as_deref(),
            Some("Google Drive sign-in for “work”")
        );
        drop(lease);
        assert_eq!(holder(dir.path()), None);
        assert!(LoopbackLease::try_acquire(dir.path(), "MCP login").is_ok());
    }
}
