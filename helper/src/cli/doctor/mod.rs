//! `patchbay doctor`: everything that must be right for the helper to work, one line each
//! with ✓/✗ and the fix; `--json` gives the same as data. It exits non-zero when a check
//! fails, and never prints a secret: files are described (mode, whether they parse), not
//! quoted, and URLs lose their user info and query.
//!
//! It checks the settings `patchbay serve` would run with (the same flags and environment):
//! - [`probe`] gathers facts (runs programs, binds ports, reads files, asks the edge);
//! - [`checks`] turns each fact into a [`report::Check`], as plain functions;
//! - [`report`] formats them; [`ports`] reads who holds a port from `/proc`.

pub mod checks;
pub mod ports;
pub mod probe;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use checks::Format;
use report::{Check, Report};

use crate::cli::service::{HelperState, Home, Manager, SERVICE_ENV, Unit};
use crate::config::{Config, ServeArgs, resolve_data_dir};
use crate::connectors::mcp::store::CLIENTS_FILE;
use crate::connectors::overview::RCLONE_CONF;
use crate::connectors::rclone::Kind;
use crate::connectors::rclone::settings::SETTINGS_FILE;
use crate::engine::lease::LOOPBACK_PORT;
use crate::engine::store::{TOKENS_FILE, now_unix};
use crate::engine::text::plural;
use crate::pairing::TOKEN_FILE;

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON (`{"ok", "version", "checks": [{"id", "label", "status",
    /// "summary", "fix"}]}`) instead of lines.
    #[arg(long)]
    pub json: bool,

    /// The settings to check: the same flags (and environment) as `patchbay serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

pub async fn run(args: DoctorArgs) -> Result<(), String> {
    let json = args.json;
    let report = examine(args.serve).await;
    if json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    match report.failures() {
        0 => Ok(()),
        n => Err(format!(
            "{} found; each ✗ line says how to fix it",
            plural(n as u64, "problem")
        )),
    }
}

/// Every check, in the order a person reads them: settings and the helper, the files, the
/// programs and ports, the outside parts.
pub async fn examine(args: ServeArgs) -> Report {
    let raw_data_dir = args.data_dir.clone();
    let (settings, config) = match args
        .validate_listen()
        .and_then(|listen| args.into_config(listen))
    {
        Ok(config) => (checks::settings(Ok(())), Some(config)),
        Err(e) => (checks::settings(Err(e.to_string())), None),
    };
    let data_dir = match (&config, resolve_data_dir(raw_data_dir)) {
        (Some(c), _) => c.data_dir.clone(),
        (None, Ok(d)) => d,
        // Without a data folder only the settings line can be told.
        (None, Err(_)) => return Report::new(vec![settings]),
    };
    let mut out = vec![settings];
    out.push(checks::helper(&HelperState::find(&data_dir).await));
    if let (Ok(manager), Ok(home)) = (Manager::native(), Home::from_env()) {
        let file = manager.file(&home);
        if let Ok(unit) = Unit::read(manager, &file) {
            out.push(checks::service(manager, &file, &unit));
        }
    }
    out.extend(files(&data_dir, config.as_ref()));
    if let Some(config) = &config {
        out.extend(programs_and_ports(config).await);
        out.push(checks::oauth_client(
            Kind::Gdrive,
            &probe::client(Kind::Gdrive, &data_dir),
        ));
        out.push(checks::oauth_client(
            Kind::Onedrive,
            &probe::client(Kind::Onedrive, &data_dir),
        ));
        let edge = probe::edge(config.edge_url.as_deref(), config.edge_token.as_ref()).await;
        out.extend(checks::edge(&edge));
        out.push(checks::clock(&edge, SystemTime::now()));
    }
    out.extend(checks::mcp(
        &probe::mcp_servers(&data_dir).await,
        now_unix(),
    ));
    Report::new(out)
}

/// The data folder and every credential file in it (and the gh token file beside it).
fn files(data_dir: &Path, config: Option<&Config>) -> Vec<Check> {
    let mut files: Vec<(&str, PathBuf, Format, &str)> = vec![
        (
            "pairing token",
            data_dir.join(TOKEN_FILE),
            Format::Token,
            "`patchbay serve` creates it",
        ),
        (
            "credentials",
            data_dir.join(TOKENS_FILE),
            Format::JsonObject,
            "the first sign-in creates it",
        ),
        (
            "MCP registrations",
            data_dir.join(CLIENTS_FILE),
            Format::JsonObject,
            "the first MCP sign-in creates it",
        ),
        (
            "rclone remotes",
            data_dir.join(RCLONE_CONF),
            Format::RcloneConf,
            "the first Drive or OneDrive sign-in creates it",
        ),
        (
            "OAuth client settings",
            data_dir.join(SETTINGS_FILE),
            Format::JsonObject,
            "optional: the Drive/OneDrive OAuth clients (README: Connectors and their settings)",
        ),
    ];
    if Manager::native() == Ok(Manager::Systemd) {
        files.push((
            "service settings",
            data_dir.join(SERVICE_ENV),
            Format::EnvFile,
            "optional: KEY=value settings for the systemd service (README: Run at login)",
        ));
    }
    if let Some(c) = config {
        files.push((
            "GitHub token file",
            c.github_token_file.clone(),
            Format::JsonObject,
            "the GitHub device sign-in creates it",
        ));
    }
    std::iter::once(checks::folder(data_dir, probe::folder_mode(data_dir)))
        .chain(files.iter().map(|(label, path, format, hint)| {
            checks::file(label, path, *format, &probe::file(path), hint)
        }))
        .collect()
}

/// rclone and gh, the helper's port and the sign-in port.
async fn programs_and_ports(config: &Config) -> Vec<Check> {
    let rclone = probe::tool(&config.rclone_bin).await;
    let gh = probe::tool(&config.gh_bin).await;
    let mut out = vec![
        checks::tool(
            "rclone",
            "PATCHBAY_RCLONE",
            "sudo apt-get install rclone, or https://rclone.org/install/",
            &rclone,
        ),
        checks::tool(
            "gh",
            "PATCHBAY_GH",
            "sudo apt-get install gh, or https://cli.github.com",
            &gh,
        ),
    ];
    let helper_port = config.listen.port();
    for port in [helper_port, LOOPBACK_PORT] {
        if port != 0 {
            out.push(checks::port(&probe::port(port, &config.data_dir)));
        }
    }
    out
}
