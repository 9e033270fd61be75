//! Child processes that cannot outlive the test that started them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// For [`kill`]: the signals fault tests send.
pub use libc::{SIGKILL, SIGTERM};

/// A running program in its own process group. Dropping it sends SIGTERM to the group,
/// waits briefly, then SIGKILLs whatever is left, so grandchildren (workerd under wrangler,
/// rclone under the helper) go too.
pub struct Running {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Captured>,
    /// Lines already handed out by [`Running::next_line`].
    cursor: usize,
}

/// One line the program printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Whether it came on stdout (else stderr).
    pub stdout: bool,
    pub text: String,
}

/// What the program printed so far, filled by one reader thread per stream.
#[derive(Default)]
struct Captured {
    lines: Mutex<Vec<Line>>,
    changed: Condvar,
    /// Streams whose reader has not reached the end yet.
    open: AtomicUsize,
}

impl Running {
    /// Starts `cmd` in a new process group, capturing stdout and stderr (see
    /// [`Running::output`]) so a failing test can show what the program said.
    pub fn start(name: &str, cmd: Command) -> Running {
        Self::spawn(name, cmd, Stdio::null()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Running::start`], with a pipe to the program's stdin
    /// ([`Running::write_line`], [`Running::close_stdin`]).
    pub fn start_with_stdin(name: &str, cmd: Command) -> Running {
        Self::try_start_with_stdin(name, cmd).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Running::start_with_stdin`], or why the program could not be started.
    pub fn try_start_with_stdin(name: &str, cmd: Command) -> Result<Running, String> {
        Self::spawn(name, cmd, Stdio::piped())
    }

    fn spawn(name: &str, mut cmd: Command, stdin: Stdio) -> Result<Running, String> {
        cmd.process_group(0)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        let output = Arc::new(Captured::default());
        if let Some(out) = child.stdout.take() {
            collect(out, true, output.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, false, output.clone());
        }
        Ok(Running {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            output,
            cursor: 0,
        })
    }

    /// Starts `cmd` in a new process group with the terminal's stdout and stderr, for
    /// long-running tools a person watches (`cargo xtask dev`).
    pub fn start_inherit(name: &str, mut cmd: Command) -> Running {
        cmd.process_group(0).stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({:?}): {e}", cmd.get_program()));
        Running {
            name: name.to_owned(),
            child,
            stdin: None,
            output: Arc::default(),
            cursor: 0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the program printed so far (stdout and stderr interleaved by line).
    pub fn output(&self) -> String {
        let lines = self.output.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().fold(String::new(), |mut all, line| {
            all.push_str(&line.text);
            all.push('\n');
            all
        })
    }

    /// Every line so far, with the stream it came on.
    pub fn lines(&self) -> Vec<Line> {
        self.output
            .lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until the output contains `needle`; panics with the output after `timeout`.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before printing {needle:?}:\n{out}",
                    self.name
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not print {needle:?} within {timeout:?}:\n{out}",
                    self.name
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first line not handed out before for which `pick` says yes (lines it passes over
    /// are consumed). Fails with the whole output after `timeout`, or once the program has
    /// closed its output.
    pub fn next_line<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&Line) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.output.lines.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while let Some(line) = lines.get(self.cursor) {
                self.cursor += 1;
                if let Some(hit) = pick(line) {
                    return Ok(hit);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ended = self.output.open.load(Ordering::SeqCst) == 0;
            if left.is_zero() || ended {
                drop(lines);
                let why = if ended {
                    "closed its output"
                } else {
                    "printed nothing matching"
                };
                return Err(format!(
                    "{} {why} (waited {timeout:?}):\n{}",
                    self.name,
                    self.output()
                ));
            }
            lines = self
                .output
                .changed
                .wait_timeout(lines, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Writes `line` and a newline to the program's stdin, in one write (so several lines
    /// joined by `\n` arrive together).
    pub fn write_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{}: stdin is not open", self.name))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: write to stdin: {e}", self.name))
    }

    /// Closes the program's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the program to exit, then (briefly) for the rest of its output.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not exit within {timeout:?}:\n{}",
                    self.name,
                    self.output()
                ));
            }
            // Fine-grained: the benchmarks time programs up to their exit.
            thread::sleep(Duration::from_micros(500));
        };
        // The readers end with the pipes; a grandchild may hold them open, so not for long.
        let drained = Instant::now() + Duration::from_millis(500);
        while self.output.open.load(Ordering::SeqCst) > 0 && Instant::now() < drained {
            thread::sleep(Duration::from_millis(5));
        }
        Ok(status)
    }

    /// Whether the program has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Sends `signal` to the whole group and waits up to `grace` for the leader to exit.
    pub fn signal_group(&mut self, signal: i32, grace: Duration) -> bool {
        signal_group(self.child.id(), signal);
        self.exits_within(grace)
    }

    /// Sends `signal` to the leader alone and waits up to `grace` for it to exit.
    pub fn signal(&mut self, signal: i32, grace: Duration) -> bool {
        kill(self.child.id(), signal);
        self.exits_within(grace)
    }

    fn exits_within(&mut self, grace: Duration) -> bool {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.has_exited() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stdin.take();
        if !self.signal_group(libc::SIGTERM, Duration::from_secs(3)) {
            signal_group(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        } else {
            // The leader is gone; make sure no straggler in its group survives it.
            signal_group(self.child.id(), libc::SIGKILL);
        }
    }
}

/// Sends `signal` to process `pid` alone (a fault test's SIGKILL of one child).
pub fn kill(pid: u32, signal: i32) {
    // SAFETY: kill(2) signals one process; no memory is involved.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

fn signal_group(pgid: u32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-(pgid as i32), signal);
    }
}

/// One line of /proc/PID/stat, the fields tests look at.
struct ProcStat {
    pid: u32,
    comm: String,
    zombie: bool,
    ppid: u32,
    pgrp: u32,
}

/// Every process on the machine, from /proc.
fn processes() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid pgrp …`; comm may contain spaces and parentheses.
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_owned();
            let mut fields = rest.split_whitespace();
            let zombie = fields.next()? == "Z";
            let ppid = fields.next()?.parse().ok()?;
            let pgrp = fields.next()?.parse().ok()?;
            Some(ProcStat {
                pid,
                comm,
                zombie,
                ppid,
                pgrp,
            })
        })
        .collect()
}

/// The live (not zombie) processes in group `pgid`. Zombies are ignored: they run nothing,
/// and in a container whose init does not reap, they linger after a clean kill.
pub fn group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| !p.zombie && p.pgrp == pgid)
        .map(|p| p.pid)
        .collect()
}

/// Live children of `parent` whose command name (`/proc/PID/comm`) is `name`.
pub fn children_named(parent: u32, name: &str) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| !p.zombie && p.ppid == parent && p.comm == name)
        .map(|p| p.pid)
        .collect()
}

/// Whether any live process is still in group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    !group_members(pgid).is_empty()
}

fn collect(stream: impl Read + Send + 'static, stdout: bool, into: Arc<Captured>) {
    into.open.fetch_add(1, Ordering::SeqCst);
    thread::spawn(move || {
        for text in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut lines) = into.lines.lock() {
                lines.push(Line { stdout, text });
            }
            into.changed.notify_all();
        }
        into.open.fetch_sub(1, Ordering::SeqCst);
        // Taken so a waiter cannot miss the wake-up between its check and its wait.
        drop(into.lines.lock());
        into.changed.notify_all();
    });
}

/// A port that was free a moment ago on 127.0.0.1.
/// `N` different ports free on 127.0.0.1 now: each stays bound until all are found.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("a bound port").port())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// Holds a fixed port (such as 127.0.0.1:53682, the OAuth loopback listener) for one test
/// at a time *on the whole machine*: an exclusive `flock` on a file named after the port in
/// the system temp folder. Test binaries of one run, and of runs in other checkouts, all take
/// turns. Dropping the guard releases it; so does the process dying.
pub struct MachinePort {
    _lock: std::fs::File,
}

/// Blocks until this test may use `port`; see [`MachinePort`].
pub fn machine_port(port: u16) -> MachinePort {
    let path = std::env::temp_dir().join(format!("patchbay-tests-port-{port}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; it blocks until the lock is ours.
    loop {
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::Interrupted,
            "flock {}: {err}",
            path.display()
        );
    }
    MachinePort { _lock: file }
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; whether it held.
pub fn eventually(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(25));
    }
    false
}

/// The workspace root (this crate lives in `<root>/testkit`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit is inside the workspace")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_kills_the_whole_group() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 300 & echo started; wait"]);
        let mut running = Running::start("sh", cmd);
        running.wait_for_output("started", Duration::from_secs(5));
        let pgid = running.pid();
        assert!(group_alive(pgid));
        drop(running);
        // SIGKILL is delivered at once but the kernel takes a moment to tear a process down.
        assert!(
            eventually(Duration::from_secs(2), || !group_alive(pgid)),
            "a process of the group survived"
        );
    }

    #[test]
    fn lines_come_in_order_from_both_streams_and_stdin_reaches_the_program() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo ready >&2; while read l; do echo \"got $l\"; done; echo bye >&2",
        ]);
        let mut running = Running::start_with_stdin("sh", cmd);
        let wait = Duration::from_secs(5);
        let first = running.next_line(wait, |l| Some(l.clone())).unwrap();
        assert_eq!(
            first,
            Line {
                stdout: false,
                text: "ready".into()
            }
        );
        running.write_line("one").unwrap();
        running.write_line("two").unwrap();
        // Lines passed over are consumed: "got one" is not seen again.
        let two = running.next_line(wait, |l| l.text.contains("two").then_some(l.stdout));
        assert_eq!(two, Ok(true));
        running.close_stdin();
        assert!(running.wait_exit(wait).unwrap().success());
        assert_eq!(running.output(), "ready\ngot one\ngot two\nbye\n");
        let after = running.next_line(wait, |l| l.text.contains("one").then_some(()));
        let err = after.unwrap_err();
        assert!(err.contains("closed its output"), "{err}");
        assert!(running.write_line("three").is_err());
    }

    /// `free_port` hands out ports the kernel considers free, never one in use. (Binding the
    /// port afterwards would race with every other test binding ephemeral ports.)
    #[test]
    fn free_ports_found_together_all_differ() {
        for _ in 0..32 {
            let ports: [u16; 4] = free_ports();
            let distinct: std::collections::HashSet<u16> = ports.into_iter().collect();
            assert_eq!(distinct.len(), 4, "{ports:?}");
        }
    }

    #[test]
    fn free_port_never_returns_a_port_in_use() {
        let held: Vec<TcpListener> = (0..8)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let in_use: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        for _ in 0..64 {
            let port = free_port();
            assert_ne!(port, 0);
            assert!(!in_use.contains(&port), "{port} is held by this test");
        }
    }
}
