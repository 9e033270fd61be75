//! `patchbay service install|uninstall|status`: run the helper at login, under the user's
//! own service manager: a systemd user unit on Linux ([`systemd`]), a launchd agent on macOS
//! ([`launchd`]).
//!
//! The unit names the running `patchbay` by its absolute path (a service manager has no
//! shell PATH) and runs `serve --data-dir <the data folder>`; it holds no secret: the pairing
//! token stays in its 0600 file. A unit Patchbay did not write (no [`MARKER`] at its top) is
//! never overwritten or removed. When the manager cannot be reached (no user bus, an SSH
//! session on a Mac), the unit is still written and the commands to start it are printed.

pub mod launchd;
pub mod systemd;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;

use super::runtime::{self, Answer};
use super::{find_program, is_build_output, own_exe};
use crate::config::ServeArgs;
use crate::engine::fsutil;

/// The first lines of every unit Patchbay writes carry this; only such a unit is replaced.
pub const MARKER: &str = "patchbay-managed-service";
/// The systemd unit's environment file, in the data folder: settings that must not be in
/// the unit (PATCHBAY_EDGE_TOKEN, …).
pub const SERVICE_ENV: &str = "service.env";

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub command: ServiceCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Run `patchbay serve` at every login (systemd user unit on Linux, launchd agent on
    /// macOS), and start it now. Options after `--` go to `serve`, e.g.
    /// `patchbay service install -- --allow-origin https://patchbay.example.com`.
    Install(InstallArgs),
    /// Stop the service and remove its unit.
    Uninstall,
    /// Whether the service is installed and runs, and where the helper listens.
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Print the unit that would be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// The data folder the service's helper uses (the same as `patchbay serve`'s).
    /// Default: $XDG_DATA_HOME/patchbay, else ~/.local/share/patchbay.
    #[arg(long, env = "PATCHBAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// `patchbay serve` options for the service (after `--`). No secrets here: the unit is a
    /// plain file; put them in the data folder's service.env.
    #[arg(last = true)]
    pub serve_args: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The data folder, when the unit does not name one.
    #[arg(long, env = "PATCHBAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

pub async fn run(args: ServiceArgs) -> Result<(), String> {
    let manager = Manager::native()?;
    let home = Home::from_env()?;
    match args.command {
        ServiceCommand::Install(a) => install(manager, &home, a),
        ServiceCommand::Uninstall => uninstall(manager, &home),
        ServiceCommand::Status(a) => status(manager, &home, a).await,
    }
}

/// What a unit runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The `patchbay` binary, absolute.
    pub exe: PathBuf,
    /// Absolute.
    pub data_dir: PathBuf,
    pub serve_args: Vec<String>,
    /// `PATH` for the helper's children (rclone, gh): a service manager's own is minimal.
    pub path: String,
}

impl ServiceSpec {
    /// `patchbay serve --data-dir DIR [serve_args]`.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = vec![
            self.exe.to_string_lossy().into_owned(),
            "serve".into(),
            "--data-dir".into(),
            self.data_dir.to_string_lossy().into_owned(),
        ];
        argv.extend(self.serve_args.iter().cloned());
        argv
    }

    pub fn env_file(&self) -> PathBuf {
        self.data_dir.join(SERVICE_ENV)
    }
}

/// `value` unless it holds a control character (a newline would start a new unit line).
pub fn checked(value: &str) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        Err(format!(
            "{value:?} holds a control character, which a service unit cannot carry; use a \
             path or value without one"
        ))
    } else {
        Ok(value.to_owned())
    }
}

/// Whether `unit` was written by Patchbay.
pub fn is_ours(unit: &str) -> bool {
    unit.lines().take(4).any(|l| l.contains(MARKER))
}

/// The user's service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    Launchd,
}

/// Where the user's files are.
#[derive(Debug, Clone)]
pub struct Home {
    pub home: PathBuf,
    pub xdg_config_home: Option<PathBuf>,
}

impl Home {
    pub fn from_env() -> Result<Home, String> {
        let var = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        Ok(Home {
            home: var("HOME").ok_or("HOME is not set (or not absolute); set it and try again")?,
            xdg_config_home: var("XDG_CONFIG_HOME"),
        })
    }
}

impl Manager {
    pub fn native() -> Result<Manager, String> {
        if cfg!(target_os = "macos") {
            Ok(Manager::Launchd)
        } else if cfg!(target_os = "linux") {
            Ok(Manager::Systemd)
        } else {
            Err(
                "`patchbay service` knows systemd (Linux) and launchd (macOS) only; start \
                 `patchbay serve` with your system's own service manager"
                    .into(),
            )
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd",
            Manager::Launchd => "launchd",
        }
    }

    /// The unit file.
    pub fn file(self, home: &Home) -> PathBuf {
        match self {
            Manager::Systemd => systemd::unit_path(&home.home, home.xdg_config_home.as_deref()),
            Manager::Launchd => launchd::plist_path(&home.home),
        }
    }

    pub fn render(self, spec: &ServiceSpec, home: &Home) -> Result<String, String> {
        match self {
            Manager::Systemd => systemd::render(spec),
            Manager::Launchd => launchd::render(spec, &home.home),
        }
    }

    /// The command line of a unit Patchbay wrote.
    pub fn program(self, unit: &str) -> Option<Vec<String>> {
        match self {
            Manager::Systemd => systemd::program(unit),
            Manager::Launchd => launchd::program(unit),
        }
    }

    fn probe(self) -> Step {
        match self {
            Manager::Systemd => systemd::probe(),
            Manager::Launchd => launchd::probe(),
        }
    }

    /// Whether the manager answers; else why not.
    pub fn reachable(self) -> Result<(), String> {
        self.probe().run().map(drop)
    }

    fn start_steps(self, file: &Path) -> Vec<Step> {
        match self {
            Manager::Systemd => systemd::start_steps(),
            Manager::Launchd => launchd::start_steps(file),
        }
    }

    fn stop_steps(self) -> Vec<Step> {
        match self {
            Manager::Systemd => systemd::stop_steps(),
            Manager::Launchd => launchd::stop_steps(),
        }
    }

    fn forget_steps(self) -> Vec<Step> {
        match self {
            Manager::Systemd => systemd::forget_steps(),
            Manager::Launchd => Vec::new(),
        }
    }

    /// What the manager says about the unit: `active, enabled`, `loaded, state = running`.
    fn state(self) -> Vec<String> {
        match self {
            Manager::Systemd => systemd::state_steps()
                .iter()
                .map(|s| s.run().unwrap_or_else(|said| said))
                .collect(),
            Manager::Launchd => launchd::summarize(launchd::state_step().run()),
        }
    }

    /// Where programs are on a system of this kind, after the folders of the rclone and gh
    /// that are found now.
    fn default_path(self) -> &'static [&'static str] {
        match self {
            Manager::Systemd => &["/usr/local/bin", "/usr/bin", "/bin"],
            Manager::Launchd => &[
                "/opt/homebrew/bin",
                "/usr/local/bin",
                "/usr/bin",
                "/bin",
                "/usr/sbin",
                "/sbin",
            ],
        }
    }
}

/// One command for the service manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub argv: Vec<String>,
    /// Its failure is expected sometimes (stopping what is not running) and is ignored.
    pub may_fail: bool,
}

impl Step {
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Step {
        Step {
            argv: argv.into_iter().map(Into::into).collect(),
            may_fail: false,
        }
    }

    pub fn may_fail(mut self) -> Step {
        self.may_fail = true;
        self
    }

    /// As a person would type it.
    pub fn shell(&self) -> String {
        self.argv
            .iter()
            .map(|a| shell_word(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs it; its stdout, or what it said when it failed.
    pub fn run(&self) -> Result<String, String> {
        let out = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .output()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => format!("{} is not installed", self.argv[0]),
                _ => format!("cannot run {}: {e}", self.argv[0]),
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        Err(match said.lines().next().filter(|l| !l.is_empty()) {
            Some(first) => first.to_owned(),
            None if !stdout.is_empty() => stdout,
            None => format!("`{}` failed ({})", self.shell(), out.status),
        })
    }

    /// Runs it; a failure is an error unless the step may fail.
    fn run_required(&self) -> Result<(), String> {
        match self.run() {
            Err(why) if !self.may_fail => Err(format!("`{}` failed: {why}", self.shell())),
            _ => Ok(()),
        }
    }
}

/// `word` quoted for a POSIX shell when it needs quoting.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// PATH for the unit: the folders of `found` (the rclone and gh found now), then `defaults`.
pub fn service_path(found: &[PathBuf], defaults: &[&str]) -> String {
    let mut dirs: Vec<String> = Vec::new();
    let found = found
        .iter()
        .filter_map(|p| p.parent())
        .map(|d| d.to_string_lossy().into_owned());
    for dir in found.chain(defaults.iter().map(|d| d.to_string())) {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs.join(":")
}

/// The serve options after `--`, parsed as `serve` will parse them, so a typo fails now
/// rather than at the next login.
fn validate_serve_args(args: &[String]) -> Result<(), String> {
    #[derive(Parser)]
    #[command(name = "patchbay serve")]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }
    if args
        .iter()
        .any(|a| a == "--data-dir" || a.starts_with("--data-dir="))
    {
        return Err(
            "give the data folder before `--`: `patchbay service install --data-dir \
                    DIR`"
                .into(),
        );
    }
    let parsed = Serve::try_parse_from(std::iter::once("serve".to_owned()).chain(args.to_vec()))
        .map_err(|e| format!("the serve options after `--` do not parse: {e}"))?;
    parsed
        .args
        .validate_listen()
        .map(drop)
        .map_err(|e| e.to_string())
}

fn foreign(file: &Path) -> String {
    format!(
        "{} exists and was not written by Patchbay, so it is left as it is. Move it aside (or \
         remove it), then run the command again.",
        file.display()
    )
}

/// The unit file's text, `None` when there is none.
fn read_unit(file: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
    }
}

fn install(manager: Manager, home: &Home, args: InstallArgs) -> Result<(), String> {
    let exe = own_exe()?;
    let data_dir = crate::config::resolve_data_dir(args.data_dir).map_err(|e| e.to_string())?;
    let data_dir = std::path::absolute(&data_dir)
        .map_err(|e| format!("cannot make {} absolute: {e}", data_dir.display()))?;
    validate_serve_args(&args.serve_args)?;
    let current_path: Option<OsString> = std::env::var_os("PATH");
    let found: Vec<PathBuf> = ["rclone", "gh"]
        .iter()
        .filter_map(|p| find_program(p.as_ref(), current_path.as_deref()))
        .collect();
    let spec = ServiceSpec {
        path: service_path(&found, manager.default_path()),
        exe,
        data_dir,
        serve_args: args.serve_args,
    };
    let unit = manager.render(&spec, home)?;
    let file = manager.file(home);
    if args.dry_run {
        eprintln!(
            "Dry run: `patchbay service install` would write this to {} (nothing was written):",
            file.display()
        );
        print!("{unit}");
        return Ok(());
    }
    if let Some(existing) = read_unit(&file)?
        && !is_ours(&existing)
    {
        return Err(foreign(&file));
    }
    let write_err = |e: io::Error| format!("cannot write {}: {e}", file.display());
    std::fs::create_dir_all(file.parent().unwrap_or(Path::new("/"))).map_err(write_err)?;
    fsutil::write_private_atomic(&file, unit.as_bytes()).map_err(write_err)?;
    fsutil::ensure_private_dir(&spec.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", spec.data_dir.display()))?;
    println!("Wrote {}.", file.display());
    println!("It runs: {}", shell_line(&spec.argv()));
    if is_build_output(&spec.exe) {
        println!(
            "Note: {} is a build output, which the next build or `cargo clean` replaces. Install \
             patchbay (`cargo xtask install`) and run `patchbay service install` again with the \
             installed one.",
            spec.exe.display()
        );
    }
    let steps = manager.start_steps(&file);
    match manager.reachable() {
        Ok(()) => {
            for step in &steps {
                step.run_required()?;
            }
            println!(
                "Started with {}: the helper now runs at every login. `patchbay service status` \
                 shows it; `patchbay pair` prints the dashboard link.",
                manager.name()
            );
        }
        Err(why) => {
            println!(
                "{} cannot be reached here ({why}), so nothing was started. To start the helper \
                 now and at every login, run:",
                manager.name()
            );
            for step in &steps {
                println!("  {}", step.shell());
            }
            if manager == Manager::Systemd {
                println!(
                    "To keep it running while you are logged out: loginctl enable-linger \"$USER\""
                );
            }
        }
    }
    Ok(())
}

fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn uninstall(manager: Manager, home: &Home) -> Result<(), String> {
    let file = manager.file(home);
    let Some(existing) = read_unit(&file)? else {
        println!(
            "No Patchbay service is installed ({} does not exist).",
            file.display()
        );
        return Ok(());
    };
    if !is_ours(&existing) {
        return Err(foreign(&file));
    }
    let reachable = manager.reachable();
    if reachable.is_ok() {
        for step in manager.stop_steps() {
            step.run_required()?;
        }
    }
    std::fs::remove_file(&file).map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
    println!("Removed {}.", file.display());
    match reachable {
        Ok(()) => {
            for step in manager.forget_steps() {
                step.run_required()?;
            }
            println!("Stopped; {} will not start it again.", manager.name());
        }
        Err(why) => {
            // `systemctl enable` left a link to the unit; without systemd, remove it here.
            if manager == Manager::Systemd
                && let Some(link) = systemd::wants_link(&file)
                && std::fs::read_link(&link).is_ok_and(|t| t == file)
            {
                let _ = std::fs::remove_file(&link);
            }
            println!(
                "{} cannot be reached here ({why}). If it runs the helper in another session, \
                 stop it there with:",
                manager.name()
            );
            for step in manager.stop_steps() {
                println!("  {}", step.shell());
            }
        }
    }
    Ok(())
}

/// What `service status` found, before it is put in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFacts {
    pub manager: Manager,
    pub file: PathBuf,
    pub unit: Unit,
    /// What the manager says (`active`, `enabled`, …), or why it cannot be asked.
    pub manager_state: Result<Vec<String>, String>,
    pub helper: HelperState,
}

/// The unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    Missing,
    Foreign,
    /// Patchbay's, running this command line (empty when it cannot be read back).
    Ours {
        argv: Vec<String>,
    },
}

impl Unit {
    pub fn read(manager: Manager, file: &Path) -> Result<Unit, String> {
        Ok(match read_unit(file)? {
            None => Unit::Missing,
            Some(text) if !is_ours(&text) => Unit::Foreign,
            Some(text) => Unit::Ours {
                argv: manager.program(&text).unwrap_or_default(),
            },
        })
    }

    /// The `--data-dir` it runs with.
    pub fn data_dir(&self) -> Option<PathBuf> {
        let Unit::Ours { argv } = self else {
            return None;
        };
        let at = argv.iter().position(|a| a == "--data-dir")?;
        argv.get(at + 1).map(PathBuf::from)
    }
}

/// The helper recorded in a data folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperState {
    NotRecorded,
    Stopped {
        pid: u32,
    },
    Running {
        origin: String,
        pid: u32,
        answer: Answer,
    },
}

impl HelperState {
    /// Reads `helper.json` in `data_dir` and asks the helper it names.
    pub async fn find(data_dir: &Path) -> HelperState {
        match runtime::read(data_dir) {
            Ok(Some(h)) if h.alive() => HelperState::Running {
                origin: h.origin(),
                pid: h.pid,
                answer: runtime::ask(&h, None).await,
            },
            Ok(Some(h)) => HelperState::Stopped { pid: h.pid },
            _ => HelperState::NotRecorded,
        }
    }

    pub fn serving(&self) -> bool {
        matches!(
            self,
            HelperState::Running {
                answer: Answer::Serving,
                ..
            }
        )
    }
}

/// The status in lines for a person, and whether the helper runs.
pub fn describe(facts: &ServiceFacts) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let file = facts.file.display();
    let name = facts.manager.name();
    match &facts.unit {
        Unit::Missing => lines.push(format!(
            "Service: not installed ({file} does not exist). `patchbay service install` runs the \
             helper at every login."
        )),
        Unit::Foreign => lines.push(format!(
            "Service: {file} exists but was not written by Patchbay."
        )),
        Unit::Ours { argv } => {
            lines.push(format!("Service: {name} unit {file}"));
            lines.push(format!("Runs: {}", shell_line(argv)));
            if let Some(exe) = argv.first()
                && !Path::new(exe).exists()
            {
                lines.push(format!(
                    "Problem: {exe} no longer exists. Run `patchbay service install` again with \
                     the installed patchbay."
                ));
            }
        }
    }
    if facts.unit != Unit::Missing {
        match &facts.manager_state {
            Ok(state) => lines.push(format!("{name}: {}", state.join(", "))),
            Err(why) => lines.push(format!("{name}: cannot be reached here ({why})")),
        }
    }
    lines.push(match &facts.helper {
        HelperState::NotRecorded => "Helper: not running.".into(),
        HelperState::Stopped { pid } => format!("Helper: not running (pid {pid} has exited)."),
        HelperState::Running {
            origin,
            pid,
            answer: Answer::Serving,
        } => format!("Helper: running at {origin} (pid {pid}); `patchbay pair` prints its link."),
        HelperState::Running { origin, pid, .. } => {
            format!("Helper: pid {pid} runs but does not answer at {origin}; restart it.")
        }
    });
    (lines, facts.helper.serving())
}

async fn status(manager: Manager, home: &Home, args: StatusArgs) -> Result<(), String> {
    let file = manager.file(home);
    let unit = Unit::read(manager, &file)?;
    let data_dir = match unit.data_dir() {
        Some(d) => d,
        None => crate::config::resolve_data_dir(args.data_dir).map_err(|e| e.to_string())?,
    };
    let manager_state = manager.reachable().map(|()| manager.state());
    let facts = ServiceFacts {
        manager,
        file,
        unit,
        manager_state,
        helper: HelperState::find(&data_dir).await,
    };
    let (lines, serving) = describe(&facts);
    for line in lines {
        println!("{line}");
    }
    if serving {
        Ok(())
    } else {
        Err(match facts.unit {
            Unit::Ours { .. } => format!(
                "the helper is not running; start it with {}",
                start_hint(manager)
            ),
            _ => "the helper is not running; start it with `patchbay serve`, or at every login \
                  with `patchbay service install`"
                .into(),
        })
    }
}

fn start_hint(manager: Manager) -> &'static str {
    match manager {
        Manager::Systemd => "`systemctl --user start patchbay.service`",
        Manager::Launchd => "`patchbay service install` (it loads the agent again)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_puts_the_tools_found_first_once() {
        let found = [
            PathBuf::from("/home/me/bin/rclone"),
            PathBuf::from("/usr/bin/gh"),
        ];
        assert_eq!(
            service_path(&found, Manager::Systemd.default_path()),
            "/home/me/bin:/usr/bin:/usr/local/bin:/bin"
        );
    }

    #[test]
    fn serve_options_are_checked_before_anything_is_written() {
        assert!(validate_serve_args(&[]).is_ok());
        assert!(
            validate_serve_args(&["--allow-origin".into(), "https://a.example".into()]).is_ok()
        );
        let err = validate_serve_args(&["--no-such-flag".into()]).unwrap_err();
        assert!(err.contains("do not parse"), "{err}");
        let err = validate_serve_args(&["--listen".into(), "0.0.0.0:7878".into()]).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let err = validate_serve_args(&["--data-dir=/x".into()]).unwrap_err();
        assert!(err.contains("before `--`"), "{err}");
    }

    #[test]
    fn only_units_with_the_marker_are_ours() {
        assert!(is_ours(&format!("# {MARKER}\n[Unit]\n")));
        assert!(!is_ours("[Unit]\nDescription=someone else's\n"));
    }

    #[test]
    fn commands_are_shown_as_a_shell_reads_them() {
        assert_eq!(
            Step::new(["systemctl", "--user", "enable", "patchbay.service"]).shell(),
            "systemctl --user enable patchbay.service"
        );
        assert_eq!(shell_word("/a b/it's"), "'/a b/it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn the_status_says_what_runs_and_where() {
        let facts = ServiceFacts {
            manager: Manager::Systemd,
            file: "/h/.config/systemd/user/patchbay.service".into(),
            unit: Unit::Ours {
                argv: vec![
                    "/nonexistent/patchbay".into(),
                    "serve".into(),
                    "--data-dir".into(),
                    "/h/data".into(),
                ],
            },
            manager_state: Err("Failed to connect to bus".into()),
            helper: HelperState::Running {
                origin: "http://127.0.0.1:7878".into(),
                pid: 42,
                answer: Answer::Serving,
            },
        };
        assert_eq!(facts.unit.data_dir(), Some(PathBuf::from("/h/data")));
        let (lines, serving) = describe(&facts);
        let text = lines.join("\n");
        assert!(serving);
        assert!(
            text.contains("Runs: /nonexistent/patchbay serve --data-dir /h/data"),
            "{text}"
        );
        assert!(text.contains("no longer exists"), "{text}");
        assert!(text.contains("systemd: cannot be reached here (Failed to connect to bus)"));
        assert!(
            text.contains("running at http://127.0.0.1:7878 (pid 42)"),
            "{text}"
        );

        let stopped = ServiceFacts {
            unit: Unit::Missing,
            helper: HelperState::Stopped { pid: 42 },
            ..facts
        };
        let (lines, serving) = describe(&stopped);
        assert!(!serving);
        assert!(lines[0].contains("not installed"), "{lines:?}");
        assert!(lines.last().unwrap().contains("has exited"), "{lines:?}");
    }
}
