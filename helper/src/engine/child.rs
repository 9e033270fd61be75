//! Child processes (rclone, gh) that never outlive their flow.
//!
//! Each runs in its own process group, so killing the group also kills whatever it spawned
//! (a browser opener, a credential helper). Dropping the handle kills the group; on Linux the
//! kernel also kills the child if the helper itself dies (parent-death signal).

use std::process::Stdio;

use tokio::process::{Child, Command};

/// A spawned program and its process group.
pub struct GroupChild {
    pub child: Child,
    pgid: Option<i32>,
}

impl GroupChild {
    /// Spawns `cmd` in a new process group with piped stdout/stderr and no stdin.
    pub fn spawn(mut cmd: Command) -> std::io::Result<GroupChild> {
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; it only sets a flag on the new process.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        let pgid = child.id().map(|id| id as i32);
        Ok(GroupChild { child, pgid })
    }

    /// The process group id (= the child's pid).
    pub fn pgid(&self) -> Option<i32> {
        self.pgid
    }

    /// Kills the whole group (SIGKILL) and reaps the child.
    pub async fn kill_group(&mut self) {
        self.signal_group();
        let _ = self.child.wait().await;
    }

    fn signal_group(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: kill(2) on a process group we created; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.signal_group();
    }
}
