//! The launchd agent (`~/Library/LaunchAgents/dev.patchbay.helper.plist`): how it is written,
//! how it is read back, and the `launchctl` commands that start and stop it.
//!
//! launchd has no environment file: settings the helper reads from its environment go in
//! `connectors.json` (the OAuth clients) or in the flags given to `service install`.

use std::path::{Path, PathBuf};

use super::{MARKER, ServiceSpec, Step, checked};

pub const LABEL: &str = "dev.patchbay.helper";

pub fn plist_path(home: &Path) -> PathBuf {
    home.join("Library/LaunchAgents")
        .join(format!("{LABEL}.plist"))
}

/// Where the helper's log (stderr) goes; stdout, which carries the pairing link, goes nowhere.
pub fn log_path(home: &Path) -> PathBuf {
    home.join("Library/Logs/patchbay.log")
}

/// The agent's property list. Every value is checked (no control characters) and escaped
/// for XML.
pub fn render(spec: &ServiceSpec, home: &Path) -> Result<String, String> {
    let string = |s: &str| checked(s).map(|s| format!("<string>{}</string>", xml_escape(&s)));
    let args = spec
        .argv()
        .iter()
        .map(|a| string(a).map(|s| format!("\t\t{s}\n")))
        .collect::<Result<String, _>>()?;
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- {MARKER} -->
<!-- Written by `patchbay service install` (patchbay {version}).
     `patchbay service uninstall` removes it; `patchbay service install` rewrites it. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	{label}
	<key>ProgramArguments</key>
	<array>
{args}	</array>
	<key>EnvironmentVariables</key>
	<dict>
		<key>PATH</key>
		{path}
	</dict>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ProcessType</key>
	<string>Background</string>
	<key>Umask</key>
	<integer>63</integer>
	<key>StandardOutPath</key>
	<string>/dev/null</string>
	<key>StandardErrorPath</key>
	{log}
</dict>
</plist>
"#,
        version = xml_escape(crate::cli::VERSION),
        label = string(LABEL)?,
        path = string(&spec.path)?,
        log = string(&log_path(home).to_string_lossy())?,
    ))
}

/// XML's five entities; `&` first when escaping and last when unescaping, so no entity is
/// read twice.
const ENTITIES: [(&str, &str); 5] = [
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ("\"", "&quot;"),
    ("'", "&apos;"),
];

fn xml_escape(s: &str) -> String {
    ENTITIES
        .iter()
        .fold(s.to_owned(), |s, (raw, entity)| s.replace(raw, entity))
}

fn xml_unescape(s: &str) -> String {
    ENTITIES
        .iter()
        .rev()
        .fold(s.to_owned(), |s, (raw, entity)| s.replace(entity, raw))
}

/// The command line of an agent this module wrote (`ProgramArguments`), as words.
pub fn program(plist: &str) -> Option<Vec<String>> {
    let (_, rest) = plist.split_once("<key>ProgramArguments</key>")?;
    let (array, _) = rest.split_once("</array>")?;
    Some(
        array
            .split("<string>")
            .skip(1)
            .filter_map(|s| s.split_once("</string>"))
            .map(|(s, _)| xml_unescape(s))
            .collect(),
    )
}

fn domain() -> String {
    // SAFETY: getuid cannot fail and touches no memory.
    format!("gui/{}", unsafe { libc::getuid() })
}

fn service_target() -> String {
    format!("{}/{LABEL}", domain())
}

/// Answers when the user's launchd domain can be reached (not over SSH without a GUI login).
pub fn probe() -> Step {
    Step::new(["launchctl".into(), "print".into(), domain()])
}

/// Loads the agent (unloading an older copy first), which starts it (`RunAtLoad`).
pub fn start_steps(plist: &Path) -> Vec<Step> {
    vec![
        Step::new(["launchctl".into(), "bootout".into(), service_target()]).may_fail(),
        Step::new([
            "launchctl".into(),
            "bootstrap".into(),
            domain(),
            plist.to_string_lossy().into_owned(),
        ]),
    ]
}

pub fn stop_steps() -> Vec<Step> {
    vec![Step::new(["launchctl".into(), "bootout".into(), service_target()]).may_fail()]
}

pub fn state_step() -> Step {
    Step::new(["launchctl".into(), "print".into(), service_target()]).may_fail()
}

/// `launchctl print`'s long answer, in short: loaded or not, and its `state`/`pid` lines.
pub fn summarize(print: Result<String, String>) -> Vec<String> {
    match print {
        Err(_) => vec!["not loaded".into()],
        Ok(text) => std::iter::once("loaded".to_owned())
            .chain(
                text.lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("state = ") || l.starts_with("pid = "))
                    .map(str::to_owned),
            )
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            exe: "/Users/me/.cargo/bin/patchbay".into(),
            data_dir: "/Users/me/Library/Application Support/patchbay".into(),
            serve_args: vec![
                "--dashboard-url".into(),
                "https://x.example/?a=1&b=<2>".into(),
            ],
            path: "/opt/homebrew/bin:/usr/bin:/bin".into(),
        }
    }

    #[test]
    fn the_agent_runs_serve_by_absolute_path_and_reads_back() {
        let home = Path::new("/Users/me");
        let plist = render(&spec(), home).unwrap();
        assert!(plist.contains(MARKER));
        assert!(plist.contains("<string>/Users/me/.cargo/bin/patchbay</string>"));
        assert!(plist.contains("<string>https://x.example/?a=1&amp;b=&lt;2&gt;</string>"));
        assert!(plist.contains("<string>/Users/me/Library/Logs/patchbay.log</string>"));
        assert!(plist.contains("<key>StandardOutPath</key>\n\t<string>/dev/null</string>"));
        assert_eq!(program(&plist).unwrap(), spec().argv());
        // An XML comment may not hold "--"; a plist that breaks that does not load.
        for comment in plist.split("<!--").skip(1) {
            let body = comment.split("-->").next().unwrap();
            assert!(!body.contains("--"), "{body}");
        }
        assert_eq!(
            summarize(Ok(
                "gui/501/dev.patchbay.helper = {\n\tstate = running\n\tpid = 77\n}".into()
            )),
            ["loaded", "state = running", "pid = 77"]
        );
        assert_eq!(
            summarize(Err("Could not find service".into())),
            ["not loaded"]
        );
        assert_eq!(
            plist_path(home),
            Path::new("/Users/me/Library/LaunchAgents/dev.patchbay.helper.plist")
        );
    }
}
