//! What `patchbay doctor` found, as lines for a person or as JSON (`--json`); both carry the
//! same checks. Nothing here ever holds a secret: checks describe files, never quote them.

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// ✓ Works.
    Ok,
    /// ✗ Broken: `fix` says what to do. Any of these makes `doctor` exit non-zero.
    Fail,
    /// – Not set up (a connector nobody configured): fine unless the person wants it.
    Info,
}

impl Status {
    pub fn symbol(self) -> char {
        match self {
            Status::Ok => '✓',
            Status::Fail => '✗',
            Status::Info => '–',
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable, for scripts: `rclone`, `port-53682`, `file-pairing-token`, `mcp-server`, …
    pub id: String,
    /// What was checked, for people.
    pub label: String,
    pub status: Status,
    /// What was found.
    pub summary: String,
    /// What to do about it (always set for `fail`, sometimes a hint for `info`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(id: &str, label: &str, status: Status, summary: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            label: label.into(),
            status,
            summary: summary.into(),
            fix: None,
        }
    }

    pub fn ok(id: &str, label: &str, summary: impl Into<String>) -> Check {
        Check::new(id, label, Status::Ok, summary)
    }

    pub fn fail(
        id: &str,
        label: &str,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::new(id, label, Status::Fail, summary).with_fix(fix)
    }

    pub fn info(id: &str, label: &str, summary: impl Into<String>) -> Check {
        Check::new(id, label, Status::Info, summary)
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    /// `✓ label: summary`, and `. Fix: …` when there is one; always one line.
    pub fn line(&self) -> String {
        let mut line = format!("{} {}: {}", self.status.symbol(), self.label, self.summary);
        if let Some(fix) = &self.fix {
            let sep = if self.status == Status::Fail {
                "Fix"
            } else {
                "Hint"
            };
            line.push_str(&format!(" — {sep}: {fix}"));
        }
        line.replace(['\n', '\r'], " ")
    }
}

/// Every check, in the order they are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// No check failed.
    pub ok: bool,
    pub version: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Report {
        Report {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            version: crate::cli::VERSION.to_owned(),
            checks,
        }
    }

    pub fn failures(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count()
    }

    pub fn text(&self) -> String {
        let mut text = format!("patchbay {}\n", self.version);
        for check in &self.checks {
            text.push_str(&check.line());
            text.push('\n');
        }
        text
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_check_with_its_fix() {
        let report = Report::new(vec![
            Check::ok("rclone", "rclone", "rclone v1.60.1 (/usr/bin/rclone)"),
            Check::fail(
                "file-pairing-token",
                "pairing token",
                "/d/pairing-token is readable by others (mode 0644)",
                "chmod 600 /d/pairing-token",
            ),
            Check::info("edge", "edge", "not configured").with_fix("set PATCHBAY_EDGE_URL"),
        ]);
        assert!(!report.ok);
        assert_eq!(report.failures(), 1);
        let text = report.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[1], "✓ rclone: rclone v1.60.1 (/usr/bin/rclone)");
        assert_eq!(
            lines[2],
            "✗ pairing token: /d/pairing-token is readable by others (mode 0644) — Fix: chmod \
             600 /d/pairing-token"
        );
        assert_eq!(
            lines[3],
            "– edge: not configured — Hint: set PATCHBAY_EDGE_URL"
        );
    }

    #[test]
    fn the_json_has_the_same_checks() {
        let report = Report::new(vec![Check::ok("gh", "gh", "gh version 2.23.0")]);
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["ok"], true);
        assert_eq!(json["checks"][0]["id"], "gh");
        assert_eq!(json["checks"][0]["status"], "ok");
        assert!(json["checks"][0].get("fix").is_none());
    }

    #[test]
    fn a_line_never_breaks() {
        let c = Check::fail("x", "x", "a\nb", "c\r\nd");
        assert!(!c.line().contains(['\n', '\r']));
    }
}
