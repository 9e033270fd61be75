//! The systemd user unit (`~/.config/systemd/user/patchbay.service`): how it is written, how
//! it is read back, and the `systemctl --user` commands that start and stop it.

use std::path::{Path, PathBuf};

use super::{MARKER, ServiceSpec, Step, checked};

pub const UNIT_NAME: &str = "patchbay.service";

/// `$XDG_CONFIG_HOME/systemd/user/patchbay.service`, else under `~/.config`.
pub fn unit_path(home: &Path, xdg_config_home: Option<&Path>) -> PathBuf {
    xdg_config_home
        .map(Path::to_owned)
        .unwrap_or_else(|| home.join(".config"))
        .join("systemd/user")
        .join(UNIT_NAME)
}

/// The unit's text. Every value is checked (no control characters) and escaped for
/// systemd: `%` specifiers and, in the command line, `$` expansion.
pub fn render(spec: &ServiceSpec) -> Result<String, String> {
    let exec = spec
        .argv()
        .iter()
        .map(|a| checked(a).map(|a| exec_word(&a)))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    let path = checked(&spec.path)?.replace('%', "%%");
    let env_file = checked(&spec.env_file().to_string_lossy())?.replace('%', "%%");
    Ok(format!(
        "# {MARKER}
# Written by `patchbay service install` (patchbay {version}).
# `patchbay service uninstall` removes it; `patchbay service install` rewrites it.
[Unit]
Description=Patchbay helper: the loopback API the Patchbay dashboard pairs with

[Service]
Type=exec
ExecStart={exec}
Environment=\"PATH={path}\"
# Settings the helper reads from its environment (PATCHBAY_EDGE_URL, PATCHBAY_EDGE_TOKEN,
# ...): KEY=value lines in this file (mode 0600), never in this unit.
EnvironmentFile=-{env_file}
# The pairing link carries the token: it goes to stdout, which stays out of the journal.
# `patchbay pair` prints it again.
StandardOutput=null
UMask=0077
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
",
        version = crate::cli::VERSION,
    ))
}

/// One word of `ExecStart=`: `$` and `%` escaped, quoted when it holds a space or a quote.
fn exec_word(arg: &str) -> String {
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && !escaped.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if plain {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The command line of a unit this module wrote (`ExecStart=`), as words.
pub fn program(unit: &str) -> Option<Vec<String>> {
    let line = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("ExecStart="))?;
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            break;
        };
        let mut word = String::new();
        if first == '"' {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(chars.next()?),
                    c => word.push(c),
                }
            }
        } else {
            word.push(first);
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word.replace("$$", "$").replace("%%", "%"));
    }
    Some(words)
}

/// Answers when the user's systemd manager can be reached (else this is the "systemd
/// missing" case: a container, a session without a user bus).
pub fn probe() -> Step {
    Step::new(["systemctl", "--user", "show-environment"])
}

/// Picks up the unit and (re)starts it now and at every login.
pub fn start_steps() -> Vec<Step> {
    vec![
        Step::new(["systemctl", "--user", "daemon-reload"]),
        Step::new(["systemctl", "--user", "enable", UNIT_NAME]),
        // `restart`, not `start`: a reinstall must run the new command line.
        Step::new(["systemctl", "--user", "restart", UNIT_NAME]),
    ]
}

/// Stops and disables it (before the unit file goes).
pub fn stop_steps() -> Vec<Step> {
    vec![Step::new(["systemctl", "--user", "disable", "--now", UNIT_NAME]).may_fail()]
}

/// After the unit file is gone.
pub fn forget_steps() -> Vec<Step> {
    vec![Step::new(["systemctl", "--user", "daemon-reload"])]
}

/// `active`/`inactive`/`failed`, and `enabled`/`disabled`.
pub fn state_steps() -> [Step; 2] {
    [
        Step::new(["systemctl", "--user", "is-active", UNIT_NAME]).may_fail(),
        Step::new(["systemctl", "--user", "is-enabled", UNIT_NAME]).may_fail(),
    ]
}

/// The link `systemctl enable` makes; removed by hand when systemd cannot be reached.
pub fn wants_link(unit_path: &Path) -> Option<PathBuf> {
    Some(
        unit_path
            .parent()?
            .join("default.target.wants")
            .join(UNIT_NAME),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            exe: "/opt/my tools/patchbay".into(),
            data_dir: "/home/me/.local/share/patchbay".into(),
            serve_args: vec![
                "--allow-origin".into(),
                "https://pb.example.com".into(),
                "--dashboard-url".into(),
                "https://x.example/?a=100%&b=$HOME".into(),
            ],
            path: "/home/me/bin:/usr/local/bin:/usr/bin:/bin".into(),
        }
    }

    #[test]
    fn the_unit_runs_serve_by_absolute_path_with_the_data_folder() {
        let unit = render(&spec()).unwrap();
        assert!(unit.starts_with(&format!("# {MARKER}\n")), "{unit}");
        let exec = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
        assert_eq!(
            exec,
            "ExecStart=\"/opt/my tools/patchbay\" serve --data-dir /home/me/.local/share/patchbay \
             --allow-origin https://pb.example.com --dashboard-url \
             https://x.example/?a=100%%&b=$$HOME"
        );
        assert!(
            unit.contains("\nEnvironment=\"PATH=/home/me/bin:/usr/local/bin:/usr/bin:/bin\"\n")
        );
        assert!(unit.contains("\nEnvironmentFile=-/home/me/.local/share/patchbay/service.env\n"));
        assert!(unit.contains("\nStandardOutput=null\n"));
        assert!(unit.contains("\nWantedBy=default.target\n"));
        assert!(!unit.to_lowercase().contains("token="), "{unit}");
    }

    #[test]
    fn the_command_line_reads_back_as_it_was_given() {
        let mut s = spec();
        s.serve_args.push("a \"quoted\" \\ word".into());
        let unit = render(&s).unwrap();
        assert_eq!(program(&unit).unwrap(), s.argv());
    }

    #[test]
    fn control_characters_are_refused() {
        let mut s = spec();
        s.data_dir = "/tmp/a\nExecStartPre=/bin/evil".into();
        assert!(render(&s).unwrap_err().contains("control character"));
    }

    #[test]
    fn paths_follow_xdg() {
        assert_eq!(
            unit_path("/home/me".as_ref(), None),
            Path::new("/home/me/.config/systemd/user/patchbay.service")
        );
        assert_eq!(
            unit_path("/home/me".as_ref(), Some("/cfg".as_ref())),
            Path::new("/cfg/systemd/user/patchbay.service")
        );
        assert_eq!(
            wants_link(Path::new("/cfg/systemd/user/patchbay.service")).unwrap(),
            Path::new("/cfg/systemd/user/default.target.wants/patchbay.service")
        );
    }
}
