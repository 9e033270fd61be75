//! What `patchbay` writes to stderr besides its own sentences: the log.
//!
//! Results go to stdout and a failure is one line on stderr (`main`); the log is for whoever
//! asks for it. By default only Patchbay's own lines are logged (the server's events at info,
//! a terminal command's warnings); the libraries' lines (rmcp's "Service initialized as
//! client …", "task cancelled", "delete session success") appear with `-v`, or with a filter in
//! `PATCHBAY_LOG` or `RUST_LOG` (`EnvFilter` syntax), which wins over `-v`. Colour only when
//! stderr is a terminal and `NO_COLOR` is unset, so a file or a pipe never gets escape codes.

use std::io::IsTerminal;

/// Which kind of command is logging: a long-running server or a command a person waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `patchbay serve`: its own events are worth a line each, with the time.
    Server,
    /// `patchbay mcp …`: only the result and Patchbay's sentences, unless asked.
    Command,
}

/// How the log is set up, decided from the command line and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPlan {
    /// An `EnvFilter` directive string.
    pub filter: String,
    /// Escape codes for colour.
    pub ansi: bool,
    /// Timestamps and targets, as a server log has; a quiet command shows level and message.
    pub detailed: bool,
}

/// The crates whose lines are Patchbay's own (the binary's target is `patchbay`, the
/// library's `patchbay_helper`; a directive matches every target it prefixes).
const OWN: &str = "patchbay";

impl LogPlan {
    /// `verbose` counts `-v`; `env` reads a variable; `terminal` says whether stderr is one.
    pub fn new(
        program: Program,
        verbose: u8,
        env: impl Fn(&str) -> Option<String>,
        terminal: bool,
    ) -> LogPlan {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let asked = set("PATCHBAY_LOG").or_else(|| set("RUST_LOG"));
        let filter = asked.clone().unwrap_or_else(|| match (program, verbose) {
            (Program::Server, 0) => format!("off,{OWN}=info"),
            (Program::Command, 0) => format!("off,{OWN}=warn"),
            (_, 1) => format!("info,{OWN}=debug"),
            (_, 2) => "debug".into(),
            _ => "trace".into(),
        });
        LogPlan {
            filter,
            ansi: terminal && set("NO_COLOR").is_none(),
            detailed: program == Program::Server || verbose > 0 || asked.is_some(),
        }
    }

    /// The plan for this process: its real environment and stderr.
    pub fn for_process(program: Program, verbose: u8) -> LogPlan {
        LogPlan::new(
            program,
            verbose,
            |k| std::env::var(k).ok(),
            std::io::stderr().is_terminal(),
        )
    }

    /// Installs the global subscriber (stderr only: stdout carries results, and for
    /// `mcp proxy` the MCP messages themselves).
    pub fn install(&self) {
        let filter = tracing_subscriber::EnvFilter::try_new(&self.filter)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("off,{OWN}=info")));
        let builder = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(self.ansi)
            .with_env_filter(filter);
        if self.detailed {
            builder.init();
        } else {
            builder.without_time().with_target(false).init();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(program: Program, verbose: u8, vars: &[(&str, &str)], terminal: bool) -> LogPlan {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LogPlan::new(
            program,
            verbose,
            |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            terminal,
        )
    }

    #[test]
    fn libraries_are_silent_unless_asked() {
        let quiet = plan(Program::Command, 0, &[], true);
        assert_eq!(quiet.filter, "off,patchbay=warn");
        assert!(!quiet.detailed);
        assert_eq!(
            plan(Program::Server, 0, &[], true).filter,
            "off,patchbay=info"
        );
        assert_eq!(
            plan(Program::Command, 1, &[], true).filter,
            "info,patchbay=debug"
        );
        assert_eq!(plan(Program::Command, 2, &[], true).filter, "debug");
        assert_eq!(plan(Program::Server, 5, &[], true).filter, "trace");
        // A filter in the environment wins over -v; PATCHBAY_LOG over RUST_LOG.
        let rust_log = plan(Program::Command, 1, &[("RUST_LOG", "rmcp=info")], true);
        assert_eq!(rust_log.filter, "rmcp=info");
        assert!(rust_log.detailed);
        assert_eq!(
            plan(
                Program::Command,
                0,
                &[("RUST_LOG", "rmcp=info"), ("PATCHBAY_LOG", "debug")],
                true
            )
            .filter,
            "debug"
        );
        assert_eq!(
            plan(Program::Command, 0, &[("RUST_LOG", " ")], true).filter,
            "off,patchbay=warn"
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(plan(Program::Server, 0, &[], true).ansi);
        assert!(!plan(Program::Server, 0, &[], false).ansi);
        assert!(!plan(Program::Server, 0, &[("NO_COLOR", "1")], true).ansi);
        assert!(plan(Program::Server, 0, &[("NO_COLOR", "")], true).ansi);
    }
}
