//! Results as tables: one section per area, one row per measurement, and BENCHMARKS.md.

use std::fmt::Write as _;
use std::time::Duration;

/// A budget: the value must stay on the right side of the limit.
#[derive(Debug, Clone)]
pub struct Budget {
    pub text: String,
    pub pass: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Row {
    pub metric: String,
    pub value: String,
    pub baseline: String,
    pub ratio: String,
    pub budget: Option<Budget>,
}

impl Row {
    pub fn new(metric: impl Into<String>, value: impl Into<String>) -> Row {
        Row {
            metric: metric.into(),
            value: value.into(),
            ..Row::default()
        }
    }

    /// A row that could not be measured, and why.
    pub fn not_measured(metric: impl Into<String>, why: impl Into<String>) -> Row {
        Row::new(metric, format!("not measured ({})", why.into()))
    }

    /// The same-run baseline or alternative, and `value / baseline`.
    pub fn vs(mut self, baseline: impl Into<String>, ratio: f64) -> Row {
        self.baseline = baseline.into();
        self.ratio = if ratio.is_finite() {
            format!("{ratio:.2}×")
        } else {
            "—".into()
        };
        self
    }

    pub fn baseline(mut self, baseline: impl Into<String>) -> Row {
        self.baseline = baseline.into();
        self
    }

    pub fn budget(mut self, text: impl Into<String>, pass: bool) -> Row {
        self.budget = Some(Budget {
            text: text.into(),
            pass,
        });
        self
    }
}

#[derive(Debug, Default)]
pub struct Section {
    pub title: String,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Section {
    pub fn new(title: &str) -> Section {
        Section {
            title: title.into(),
            ..Section::default()
        }
    }

    pub fn row(&mut self, row: Row) {
        eprintln!(
            "bench: {} — {}: {}{}{}",
            self.title,
            row.metric,
            row.value,
            if row.baseline.is_empty() {
                String::new()
            } else {
                format!(" (vs {} → {})", row.baseline, row.ratio)
            },
            match &row.budget {
                Some(b) => format!(" [budget {}: {}]", b.text, pass_text(b.pass)),
                None => String::new(),
            }
        );
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Records a failure of the whole area as a row, so the report says what went wrong.
    pub fn failed(&mut self, what: &str, error: &str) {
        let first = error.lines().next().unwrap_or(error);
        self.row(Row::not_measured(what, format!("error: {first}")));
        eprintln!("bench: {what} failed:\n{error}");
    }
}

fn pass_text(pass: bool) -> &'static str {
    if pass { "pass" } else { "**FAIL**" }
}

pub struct Machine {
    pub lines: Vec<(String, String)>,
}

/// BENCHMARKS.md from the sections.
pub fn markdown(machine: &Machine, sections: &[Section], elapsed: Duration) -> String {
    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(
        "Written by `cargo xtask bench` (the command to reproduce it). Everything runs on \
         loopback against the fakes in `testkit/`; the real rclone, Chromium, workerd and \
         (where it installs) mcp-remote take part. The machine is shared and small, so \
         absolute numbers are noisy: each row names a baseline or alternative **measured in \
         the same run**, and the ratio (value ÷ baseline) is the number to compare across \
         runs. A missed budget makes `cargo xtask bench` exit non-zero; it never fails the \
         tests.\n\n",
    );
    md.push_str(
        "## Budgets\n\n| budget | value | ratio to its same-run baseline | result |\n\
         |---|---|---|---|\n",
    );
    for s in sections {
        for r in &s.rows {
            if let Some(b) = &r.budget {
                let _ = writeln!(
                    md,
                    "| {} — {} {} | {} | {} | {} |",
                    s.title,
                    r.metric,
                    b.text,
                    r.value,
                    r.ratio,
                    pass_text(b.pass)
                );
            }
        }
    }
    md.push('\n');
    for s in sections {
        let _ = writeln!(md, "## {}\n", s.title);
        if !s.rows.is_empty() {
            md.push_str(
                "| measurement | value | baseline / alternative (same run) | ratio | budget |\n",
            );
            md.push_str("|---|---|---|---|---|\n");
        }
        for r in &s.rows {
            let budget = match &r.budget {
                Some(b) => format!("{} {}", b.text, pass_text(b.pass)),
                None => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                r.metric, r.value, r.baseline, r.ratio, budget
            );
        }
        if !s.rows.is_empty() {
            md.push('\n');
        }
        for n in &s.notes {
            let _ = writeln!(md, "- {n}");
        }
        if !s.notes.is_empty() {
            md.push('\n');
        }
    }
    md.push_str("## Machine and versions\n\n| | |\n|---|---|\n");
    for (k, v) in &machine.lines {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(
        md,
        "| whole bench | {:.0} s |\n\nReproduce: `cargo xtask bench` (builds the helper in \
         release, the dashboard and the Worker first; `cargo xtask bench --only \
         helper,rclone,mcp,dashboard,edge` runs some areas).",
        elapsed.as_secs_f64()
    );
    md
}

pub fn all_pass(sections: &[Section]) -> Vec<String> {
    sections
        .iter()
        .flat_map(|s| {
            s.rows.iter().filter_map(move |r| {
                r.budget.as_ref().filter(|b| !b.pass).map(|b| {
                    format!(
                        "{} — {}: {} (budget {})",
                        s.title, r.metric, r.value, b.text
                    )
                })
            })
        })
        .collect()
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

pub fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[v.len() / 2]
}

pub fn mean(v: &[Duration]) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.iter().sum::<Duration>() / v.len() as u32
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
