//! Each check as a plain function: facts in (gathered by [`super::probe`]), a [`Check`] out.
//! Nothing here touches the system, so every outcome is unit-tested.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use patchbay_proto::mcp::{McpServer, TokenState};
use patchbay_proto::{ErrorBody, ErrorCode};

use super::ports::Holder;
use super::report::Check;
use crate::cli::runtime::Answer;
use crate::cli::service::{HelperState, Manager, Unit};
use crate::engine::lease::LOOPBACK_PORT;

/// How far the clock may be from the edge's before sign-ins suffer.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// A program the helper runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolFacts {
    NotFound {
        program: PathBuf,
    },
    /// It is there but `--version` failed.
    Broken {
        path: PathBuf,
        why: String,
    },
    Found {
        path: PathBuf,
        version: String,
    },
}

/// rclone or gh: present, and which version.
pub fn tool(name: &str, env_var: &str, install: &str, facts: &ToolFacts) -> Check {
    match facts {
        ToolFacts::Found { path, version } => {
            Check::ok(name, name, format!("{version} ({})", path.display()))
        }
        ToolFacts::NotFound { program } => Check::fail(
            name,
            name,
            format!("{} is not installed (not found on PATH)", program.display()),
            format!("install it ({install}), or set {env_var} to its path"),
        ),
        ToolFacts::Broken { path, why } => Check::fail(
            name,
            name,
            format!("{} does not run ({why})", path.display()),
            format!("reinstall it ({install}), or set {env_var} to a working one"),
        ),
    }
}

/// A port the helper needs, and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortFacts {
    pub port: u16,
    pub free: bool,
    pub holders: Vec<Holder>,
    /// What the current holder of the :53682 lease wrote about itself.
    pub lease_holder: Option<String>,
}

/// The helper's own port (`--listen`) or the sign-in port 53682.
pub fn port(facts: &PortFacts) -> Check {
    let port = facts.port;
    let sign_in = port == LOOPBACK_PORT;
    let id = format!("port-{port}");
    let label = if sign_in {
        format!("port {port} (sign-ins)")
    } else {
        format!("port {port} (helper)")
    };
    if facts.free {
        let summary = if sign_in {
            "free for Drive, OneDrive and MCP sign-ins"
        } else {
            "free (no helper is listening there)"
        };
        return Check::ok(&id, &label, summary);
    }
    let named: Vec<String> = facts
        .holders
        .iter()
        .map(|h| format!("{} (pid {})", h.name, h.pid))
        .collect();
    if !facts.holders.is_empty() && facts.holders.iter().all(Holder::is_patchbay) {
        let summary = match (&facts.lease_holder, sign_in) {
            (Some(what), true) => format!("in use by a Patchbay sign-in: {what}"),
            (None, true) => format!("in use by a Patchbay sign-in ({})", named.join(", ")),
            (_, false) => format!("in use by the Patchbay helper ({})", named.join(", ")),
        };
        return Check::ok(&id, &label, summary);
    }
    let who = if named.is_empty() {
        "another program (of another user, or not visible from here)".to_owned()
    } else {
        named.join(", ")
    };
    let fix = if sign_in {
        format!(
            "stop {who}: Drive, OneDrive and MCP sign-ins need 127.0.0.1:{port} (find it with \
             `ss -ltnp 'sport = :{port}'`)"
        )
    } else {
        format!(
            "stop {who}, or run the helper on another port: `patchbay serve --listen \
             127.0.0.1:PORT`"
        )
    };
    Check::fail(&id, &label, format!("held by {who}"), fix)
}

/// What a file is supposed to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One token on one line (`pairing-token`).
    Token,
    /// A JSON object.
    JsonObject,
    /// rclone's INI-style config.
    RcloneConf,
    /// `KEY=value` lines, as systemd's `EnvironmentFile=` reads them.
    EnvFile,
}

/// A credential file as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Missing,
    Unreadable(String),
    Present { mode: u32, contents: Vec<u8> },
}

/// Whether `contents` is what `format` says; why not, in words that quote nothing of it.
pub fn parses(format: Format, contents: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(contents).map_err(|_| "it is not UTF-8 text".to_owned())?;
    match format {
        Format::Token => match text.trim() {
            "" => Err("it is empty".into()),
            t if t.contains(char::is_whitespace) => Err("it holds more than one word".into()),
            _ => Ok(()),
        },
        Format::JsonObject => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v.is_object() => Ok(()),
            Ok(_) => Err("it is JSON but not an object".into()),
            // serde_json's syntax errors name a line and column, never the text.
            Err(e) => Err(format!("it is not JSON: {e}")),
        },
        Format::RcloneConf => lines_match(text, |l| {
            (l.starts_with('[') && l.ends_with(']')) || l.contains('=')
        }),
        Format::EnvFile => lines_match(text, |l| {
            l.split_once('=').is_some_and(|(k, _)| {
                let k = k.trim();
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        }),
    }
}

fn lines_match(text: &str, ok: impl Fn(&str) -> bool) -> Result<(), String> {
    let bad = text.lines().enumerate().find(|(_, l)| {
        let l = l.trim();
        !(l.is_empty() || l.starts_with('#') || l.starts_with(';') || ok(l))
    });
    match bad {
        Some((n, _)) => Err(format!("line {} is not valid", n + 1)),
        None => Ok(()),
    }
}

/// A credential file: private (0600) and readable as `format`. `hint` is shown when it is
/// missing (who creates it).
pub fn file(label: &str, path: &Path, format: Format, state: &FileState, hint: &str) -> Check {
    let id = format!(
        "file-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().trim_start_matches('.').to_owned())
            .unwrap_or_default()
    );
    let shown = path.display();
    match state {
        FileState::Missing => {
            Check::info(&id, label, format!("{shown} does not exist yet")).with_fix(hint.to_owned())
        }
        FileState::Unreadable(why) => Check::fail(
            &id,
            label,
            format!("cannot read {shown} ({why})"),
            format!("make it yours and private: chown \"$USER\" {shown} && chmod 600 {shown}"),
        ),
        FileState::Present { mode, contents } => {
            let open = mode & 0o077 != 0;
            let chmod = format!("chmod 600 {shown}");
            let (damage, repair) = match parses(format, contents) {
                Ok(()) if !open => {
                    return Check::ok(&id, label, format!("{shown} (mode {mode:04o})"));
                }
                Ok(()) => {
                    return Check::fail(
                        &id,
                        label,
                        format!("{shown} is readable by others (mode {mode:04o})"),
                        chmod,
                    );
                }
                Err(why) if format == Format::Token => (
                    format!("is damaged ({why})"),
                    format!(
                        "delete {shown} and restart the helper: it makes a new token (browsers \
                         pair again with the new link)"
                    ),
                ),
                Err(why) => (
                    format!("does not parse ({why})"),
                    format!(
                        "fix it or move it aside (Patchbay never overwrites a file it cannot \
                         read): mv {shown} {shown}.broken"
                    ),
                ),
            };
            if open {
                Check::fail(
                    &id,
                    label,
                    format!("{shown} is readable by others (mode {mode:04o}) and {damage}"),
                    format!("{chmod}; then {repair}"),
                )
            } else {
                Check::fail(&id, label, format!("{shown} {damage}"), repair)
            }
        }
    }
}

/// The data folder: 0700, so nobody else can even list the credential files.
pub fn folder(path: &Path, mode: Option<u32>) -> Check {
    let shown = path.display();
    match mode {
        None => Check::info(
            "data-folder",
            "data folder",
            format!("{shown} does not exist yet"),
        )
        .with_fix("`patchbay serve` creates it"),
        Some(m) if m & 0o077 != 0 => Check::fail(
            "data-folder",
            "data folder",
            format!("{shown} is open to others (mode {m:04o})"),
            format!("chmod 700 {shown}"),
        ),
        Some(m) => Check::ok(
            "data-folder",
            "data folder",
            format!("{shown} (mode {m:04o})"),
        ),
    }
}

/// An OAuth client for Drive or OneDrive, as the next sign-in would use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFacts {
    /// Where the client id comes from (`PATCHBAY_GDRIVE_CLIENT_ID`, `connectors.json`, …).
    pub id_from: Option<String>,
    pub has_secret: bool,
}

/// Google needs a client of one's own (rclone's shared one was retired); OneDrive works with
/// rclone's built-in one.
pub fn oauth_client(kind: crate::connectors::rclone::Kind, facts: &ClientFacts) -> Check {
    use crate::connectors::rclone::Kind;
    let (id, label) = match kind {
        Kind::Gdrive => ("client-gdrive", "Google Drive OAuth client"),
        Kind::Onedrive => ("client-onedrive", "OneDrive OAuth client"),
    };
    let env = match kind {
        Kind::Gdrive => "PATCHBAY_GDRIVE_CLIENT_ID and PATCHBAY_GDRIVE_CLIENT_SECRET",
        Kind::Onedrive => "PATCHBAY_ONEDRIVE_CLIENT_ID and PATCHBAY_ONEDRIVE_CLIENT_SECRET",
    };
    match (&facts.id_from, facts.has_secret, kind) {
        (Some(from), true, _) => Check::ok(id, label, format!("id and secret set (from {from})")),
        (Some(from), false, Kind::Onedrive) => Check::ok(
            id,
            label,
            format!("id set (from {from}), no secret (a public client)"),
        ),
        (Some(from), false, Kind::Gdrive) => Check::fail(
            id,
            label,
            format!("a client id is set (from {from}) but no secret"),
            format!("set both {env} (or \"client_secret\" in connectors.json)"),
        ),
        (None, _, Kind::Gdrive) => Check::info(id, label, "none set; Drive sign-ins need one")
            .with_fix(format!(
                "create an OAuth client (Desktop app) in Google Cloud and set {env}, or put \
                 them in connectors.json"
            )),
        (None, _, Kind::Onedrive) => Check::ok(id, label, "rclone's built-in client"),
    }
}

/// How the configured edge answered `GET /api/connectors/vercel/status` with the bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeFacts {
    NotConfigured,
    Unreachable {
        url: String,
        why: String,
    },
    Answered {
        url: String,
        /// Whether a bearer was sent (PATCHBAY_EDGE_TOKEN set).
        with_token: bool,
        status: u16,
        body: Option<ErrorBody>,
        date: Option<SystemTime>,
    },
}

/// Reachable, bearer accepted, D1 migrated: three lines, each only when the one before it
/// could be told.
pub fn edge(facts: &EdgeFacts) -> Vec<Check> {
    let (url, with_token, status, body) = match facts {
        EdgeFacts::NotConfigured => {
            return vec![
                Check::info(
                    "edge",
                    "edge",
                    "not configured (the Vercel connector needs it)",
                )
                .with_fix(
                    "set PATCHBAY_EDGE_URL and PATCHBAY_EDGE_TOKEN (README: Deploying the \
                         edge)",
                ),
            ];
        }
        EdgeFacts::Unreachable { url, why } => {
            return vec![Check::fail(
                "edge",
                "edge",
                format!("cannot reach {url} ({why})"),
                "check PATCHBAY_EDGE_URL; is the Worker deployed (or `wrangler dev` running)?",
            )];
        }
        EdgeFacts::Answered {
            url,
            with_token,
            status,
            body,
            ..
        } => (url, *with_token, *status, body.as_ref()),
    };
    let said = body.map(|b| one_line(&b.message)).unwrap_or_default();
    let token_fix = "set PATCHBAY_EDGE_TOKEN to the edge's API secret (the value given to \
                     `wrangler secret put PATCHBAY_EDGE_TOKEN`)";
    let mut checks = vec![Check::ok("edge", "edge", format!("{url} answers"))];
    match (status, body.map(|b| b.error)) {
        (200..=299, _) => {
            checks.push(Check::ok("edge-bearer", "edge bearer", "accepted"));
            checks.push(Check::ok(
                "edge-d1",
                "edge D1",
                "migrated (the tables answer)",
            ));
        }
        (401, _) if !with_token => checks.push(Check::fail(
            "edge-bearer",
            "edge bearer",
            "PATCHBAY_EDGE_TOKEN is not set",
            token_fix,
        )),
        (401, _) => checks.push(Check::fail(
            "edge-bearer",
            "edge bearer",
            "the edge refuses PATCHBAY_EDGE_TOKEN",
            token_fix,
        )),
        (503, Some(ErrorCode::Unavailable)) if said.contains("migrations apply") => {
            checks.push(Check::ok("edge-bearer", "edge bearer", "accepted"));
            checks.push(Check::fail(
                "edge-d1",
                "edge D1",
                "the edge's D1 tables are missing",
                "in edge/: npx wrangler d1 migrations apply DB --remote",
            ));
        }
        (503, Some(ErrorCode::Unavailable)) => checks.push(Check::fail(
            "edge-setup",
            "edge setup",
            "the edge is not fully set up",
            said,
        )),
        (status, _) => checks.push(Check::fail(
            "edge-api",
            "edge API",
            format!("answered HTTP {status}, not as a Patchbay edge would"),
            "check that PATCHBAY_EDGE_URL is the Patchbay edge's address",
        )),
    }
    checks
}

/// The local clock against the edge's `Date` header.
pub fn clock(edge: &EdgeFacts, now: SystemTime) -> Check {
    let date = match edge {
        EdgeFacts::Answered { date, .. } => *date,
        _ => None,
    };
    let Some(date) = date else {
        let why = match edge {
            EdgeFacts::Answered { .. } => "the edge sent no Date header",
            _ => "no edge to compare with",
        };
        return Check::info("clock", "clock", format!("not checked ({why})"));
    };
    let (skew, direction) = match now.duration_since(date) {
        Ok(ahead) => (ahead, "ahead of"),
        Err(e) => (e.duration(), "behind"),
    };
    let secs = skew.as_secs();
    if skew <= MAX_CLOCK_SKEW {
        Check::ok("clock", "clock", format!("within {secs} s of the edge's"))
    } else {
        Check::fail(
            "clock",
            "clock",
            format!("{} {direction} the edge's", duration_words(secs)),
            "turn on time synchronisation (e.g. `timedatectl set-ntp true`): token expiry and \
             OAuth codes depend on the clock",
        )
    }
}

/// One line per MCP server: signed in, and until when.
pub fn mcp(servers: &Result<Vec<McpServer>, String>, now: u64) -> Vec<Check> {
    let servers = match servers {
        Err(why) => {
            return vec![Check::fail(
                "mcp",
                "MCP servers",
                "cannot be read",
                one_line(why),
            )];
        }
        Ok(s) if s.is_empty() => {
            return vec![
                Check::info("mcp", "MCP servers", "none signed in")
                    .with_fix("`patchbay mcp login <url>` signs in to one"),
            ];
        }
        Ok(s) => s,
    };
    servers
        .iter()
        .map(|s| {
            let label = format!("MCP {}", display_url(&s.url));
            let login = format!("patchbay mcp login {}", display_url(&s.url));
            let expiry = s.expires_at.map(|t| relative(t, now));
            match (s.token_state, s.issuer.is_some()) {
                (_, false) => Check::ok(
                    "mcp-server",
                    &label,
                    "an entry another tool wrote (Patchbay cannot refresh it)",
                ),
                (TokenState::Valid, _) => Check::ok(
                    "mcp-server",
                    &label,
                    match expiry {
                        Some(e) => format!("signed in; the token expires {e}"),
                        None => "signed in; the token does not expire".into(),
                    },
                ),
                (TokenState::Expired, _) => Check::ok(
                    "mcp-server",
                    &label,
                    format!(
                        "signed in; the token expired {}, and is refreshed on next use",
                        expiry.unwrap_or_default()
                    ),
                ),
                (TokenState::ReauthorizationRequired, _) => Check::fail(
                    "mcp-server",
                    &label,
                    if s.has_refresh_token {
                        "the server refused the sign-in (refresh token revoked)".to_owned()
                    } else {
                        format!(
                            "the token expired {} and there is no refresh token",
                            expiry.unwrap_or_default()
                        )
                    },
                    login,
                ),
                (TokenState::Missing, _) => {
                    Check::fail("mcp-server", &label, "no token is stored", login)
                }
            }
        })
        .collect()
}

/// The helper recorded in the data folder.
pub fn helper(state: &HelperState) -> Check {
    match state {
        HelperState::Running {
            origin,
            pid,
            answer: Answer::Serving,
        } => Check::ok(
            "helper",
            "helper",
            format!("running at {origin} (pid {pid})"),
        ),
        HelperState::Running { origin, pid, .. } => Check::fail(
            "helper",
            "helper",
            format!("pid {pid} runs but does not answer at {origin}"),
            "restart it (`systemctl --user restart patchbay.service`, or stop it and run \
             `patchbay serve`)",
        ),
        HelperState::NotRecorded | HelperState::Stopped { .. } => {
            Check::info("helper", "helper", "not running").with_fix(
                "`patchbay serve` starts it; `patchbay service install` runs it at every login",
            )
        }
    }
}

/// The login service, if any.
pub fn service(manager: Manager, file: &Path, unit: &Unit) -> Check {
    let label = format!("{} service", manager.name());
    let shown = file.display();
    match unit {
        Unit::Missing => Check::info("service", &label, "not installed")
            .with_fix("`patchbay service install` runs the helper at every login"),
        Unit::Foreign => Check::info(
            "service",
            &label,
            format!("{shown} exists but was not written by Patchbay"),
        ),
        Unit::Ours { argv } => match argv.first() {
            Some(exe) if Path::new(exe).exists() => {
                Check::ok("service", &label, format!("{shown} runs {exe}"))
            }
            exe => Check::fail(
                "service",
                &label,
                format!(
                    "{shown} runs {}, which does not exist",
                    exe.map(String::as_str).unwrap_or("nothing")
                ),
                "run `patchbay service install` again with the installed patchbay",
            ),
        },
    }
}

/// The settings `serve` would refuse to start with.
pub fn settings(result: Result<(), String>) -> Check {
    match result {
        Ok(()) => Check::ok("settings", "settings", "`patchbay serve` accepts them"),
        Err(why) => Check::fail(
            "settings",
            "settings",
            "`patchbay serve` would refuse them",
            why,
        ),
    }
}

/// A URL without what may be a secret in it: user info, query and fragment.
pub fn display_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    s.trim().to_owned()
}

/// `in 52 min`, `3 h ago`.
fn relative(at: u64, now: u64) -> String {
    if at >= now {
        format!("in {}", duration_words(at - now))
    } else {
        format!("{} ago", duration_words(now - at))
    }
}

fn duration_words(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::doctor::report::Status;
    use crate::connectors::rclone::Kind;

    fn holder(pid: u32, name: &str) -> Holder {
        Holder {
            pid,
            name: name.into(),
        }
    }

    #[test]
    fn tools_say_their_version_or_how_to_get_them() {
        let rclone = |facts| {
            tool(
                "rclone",
                "PATCHBAY_RCLONE",
                "apt-get install rclone",
                &facts,
            )
        };
        let c = rclone(ToolFacts::Found {
            path: "/usr/bin/rclone".into(),
            version: "rclone v1.60.1-DEV".into(),
        });
        assert_eq!(c.status, Status::Ok);
        assert_eq!(c.summary, "rclone v1.60.1-DEV (/usr/bin/rclone)");
        let c = rclone(ToolFacts::NotFound {
            program: "rclone".into(),
        });
        assert_eq!(c.status, Status::Fail);
        assert!(c.fix.unwrap().contains("PATCHBAY_RCLONE"));
    }

    #[test]
    fn ports_name_their_holder_and_patchbay_may_hold_them() {
        let facts = |free, holders, lease: Option<&str>| PortFacts {
            port: LOOPBACK_PORT,
            free,
            holders,
            lease_holder: lease.map(str::to_owned),
        };
        assert_eq!(port(&facts(true, vec![], None)).status, Status::Ok);
        let c = port(&facts(false, vec![holder(42, "python3")], None));
        assert_eq!(c.status, Status::Fail);
        assert!(c.summary.contains("python3 (pid 42)"), "{c:?}");
        assert!(c.fix.unwrap().contains("stop python3 (pid 42)"));
        let c = port(&facts(
            false,
            vec![holder(7, "patchbay")],
            Some("MCP login for https://x/mcp"),
        ));
        assert_eq!(c.status, Status::Ok);
        assert!(c.summary.contains("MCP login"), "{c:?}");
        let c = port(&facts(false, vec![], None));
        assert_eq!(c.status, Status::Fail);
        assert!(c.summary.contains("another program"), "{c:?}");

        let helper_port = PortFacts {
            port: 7878,
            free: false,
            holders: vec![holder(9, "patchbay")],
            lease_holder: None,
        };
        let c = port(&helper_port);
        assert_eq!((c.status, c.id.as_str()), (Status::Ok, "port-7878"));
        let c = port(&PortFacts {
            holders: vec![holder(9, "nginx")],
            ..helper_port
        });
        assert!(c.fix.unwrap().contains("--listen"));
    }

    #[test]
    fn files_must_be_private_and_parse() {
        let p = Path::new("/d/mcp-tokens.json");
        let present = |mode, contents: &str| FileState::Present {
            mode,
            contents: contents.as_bytes().to_vec(),
        };
        let ok = file("tokens", p, Format::JsonObject, &present(0o600, "{}"), "");
        assert_eq!(
            (ok.status, ok.id.as_str()),
            (Status::Ok, "file-mcp-tokens.json")
        );
        let open = file("tokens", p, Format::JsonObject, &present(0o644, "{}"), "");
        assert_eq!(open.status, Status::Fail);
        assert_eq!(open.fix.as_deref(), Some("chmod 600 /d/mcp-tokens.json"));
        let broken = file(
            "tokens",
            p,
            Format::JsonObject,
            &present(0o600, "{\"token\": \"s3cr3t-value"),
            "",
        );
        assert_eq!(broken.status, Status::Fail);
        assert!(broken.fix.as_deref().unwrap().contains("move it aside"));
        assert!(!broken.line().contains("s3cr3t"), "{}", broken.line());
        let missing = file(
            "tokens",
            p,
            Format::JsonObject,
            &FileState::Missing,
            "later",
        );
        assert_eq!(missing.status, Status::Info);
    }

    #[test]
    fn formats_are_checked_without_quoting_the_contents() {
        assert!(parses(Format::Token, b"abc\n").is_ok());
        assert!(parses(Format::Token, b"  \n").is_err());
        assert!(parses(Format::JsonObject, b"[1]").is_err());
        assert!(parses(Format::RcloneConf, b"[work]\ntype = drive\n# note\n").is_ok());
        assert_eq!(
            parses(Format::RcloneConf, b"[work]\ngarbage\n").unwrap_err(),
            "line 2 is not valid"
        );
        assert!(parses(Format::EnvFile, b"# c\nPATCHBAY_EDGE_TOKEN=x\n\nA_B=\n").is_ok());
        assert!(parses(Format::EnvFile, b"export A=b\n").is_err());
        assert!(parses(Format::Token, &[0xff, 0xfe]).is_err());
    }

    #[test]
    fn the_folder_must_be_0700() {
        assert_eq!(folder("/d".as_ref(), Some(0o700)).status, Status::Ok);
        let c = folder("/d".as_ref(), Some(0o755));
        assert_eq!(c.fix.as_deref(), Some("chmod 700 /d"));
        assert_eq!(folder("/d".as_ref(), None).status, Status::Info);
    }

    #[test]
    fn google_needs_a_client_of_its_own_and_onedrive_does_not() {
        let none = ClientFacts {
            id_from: None,
            has_secret: false,
        };
        assert_eq!(oauth_client(Kind::Gdrive, &none).status, Status::Info);
        assert_eq!(oauth_client(Kind::Onedrive, &none).status, Status::Ok);
        let half = ClientFacts {
            id_from: Some("PATCHBAY_GDRIVE_CLIENT_ID".into()),
            has_secret: false,
        };
        assert_eq!(oauth_client(Kind::Gdrive, &half).status, Status::Fail);
        assert_eq!(oauth_client(Kind::Onedrive, &half).status, Status::Ok);
        let full = ClientFacts {
            has_secret: true,
            ..half
        };
        let c = oauth_client(Kind::Gdrive, &full);
        assert_eq!(c.status, Status::Ok);
        assert!(c.summary.contains("PATCHBAY_GDRIVE_CLIENT_ID"));
    }

    fn answered(status: u16, body: Option<(ErrorCode, &str)>, with_token: bool) -> EdgeFacts {
        EdgeFacts::Answered {
            url: "https://edge.example".into(),
            with_token,
            status,
            body: body.map(|(code, m)| ErrorBody::new(code, m)),
            date: None,
        }
    }

    fn statuses(checks: &[Check]) -> Vec<(&str, Status)> {
        checks.iter().map(|c| (c.id.as_str(), c.status)).collect()
    }

    #[test]
    fn the_edge_is_reachable_accepts_the_bearer_and_has_its_tables() {
        assert_eq!(
            statuses(&edge(&answered(200, None, true))),
            [
                ("edge", Status::Ok),
                ("edge-bearer", Status::Ok),
                ("edge-d1", Status::Ok)
            ]
        );
        let refused = edge(&answered(
            401,
            Some((ErrorCode::Unauthorized, "Send the edge API secret")),
            true,
        ));
        assert_eq!(
            statuses(&refused),
            [("edge", Status::Ok), ("edge-bearer", Status::Fail)]
        );
        let unset = edge(&answered(401, None, false));
        assert!(unset[1].summary.contains("not set"), "{unset:?}");
        let unmigrated = edge(&answered(
            503,
            Some((
                ErrorCode::Unavailable,
                "The edge's D1 tables are missing: run `npx wrangler d1 migrations apply DB \
                 --remote`",
            )),
            true,
        ));
        assert_eq!(
            statuses(&unmigrated),
            [
                ("edge", Status::Ok),
                ("edge-bearer", Status::Ok),
                ("edge-d1", Status::Fail)
            ]
        );
        assert!(
            unmigrated[2]
                .fix
                .as_deref()
                .unwrap()
                .contains("migrations apply")
        );
        let no_secret = edge(&answered(
            503,
            Some((ErrorCode::Unavailable, "run `npx wrangler secret put X`")),
            true,
        ));
        assert_eq!(
            no_secret[1].fix.as_deref(),
            Some("run `npx wrangler secret put X`")
        );
        let elsewhere = edge(&answered(404, None, true));
        assert_eq!(elsewhere[1].id, "edge-api");
        let down = edge(&EdgeFacts::Unreachable {
            url: "https://edge.example".into(),
            why: "connection refused".into(),
        });
        assert_eq!(statuses(&down), [("edge", Status::Fail)]);
        assert_eq!(
            statuses(&edge(&EdgeFacts::NotConfigured)),
            [("edge", Status::Info)]
        );
    }

    #[test]
    fn the_clock_is_compared_with_the_edges() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |offset: i64| EdgeFacts::Answered {
            url: "u".into(),
            with_token: true,
            status: 200,
            body: None,
            date: Some(
                SystemTime::UNIX_EPOCH + Duration::from_secs((1_800_000_000 + offset) as u64),
            ),
        };
        assert_eq!(clock(&at(-2), now).status, Status::Ok);
        let c = clock(&at(-600), now);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.summary, "10 min ahead of the edge's");
        assert_eq!(clock(&at(300), now).summary, "5 min behind the edge's");
        assert_eq!(clock(&EdgeFacts::NotConfigured, now).status, Status::Info);
    }

    fn server(state: TokenState, expires_at: Option<u64>, refresh: bool) -> McpServer {
        McpServer {
            id: "mcp-x".into(),
            url: "https://user:pw@mcp.example/mcp?key=k".into(),
            issuer: Some("https://auth.example".into()),
            scope: None,
            token_state: state,
            expires_at,
            has_refresh_token: refresh,
        }
    }

    #[test]
    fn mcp_servers_say_whether_they_are_signed_in_and_until_when() {
        let now = 1_000_000;
        let checks = mcp(
            &Ok(vec![
                server(TokenState::Valid, Some(now + 3120), true),
                server(TokenState::Expired, Some(now - 180), true),
                server(TokenState::ReauthorizationRequired, Some(now - 10), false),
            ]),
            now,
        );
        assert_eq!(checks[0].status, Status::Ok);
        assert_eq!(checks[0].summary, "signed in; the token expires in 52 min");
        assert_eq!(checks[0].label, "MCP https://mcp.example/mcp");
        assert!(
            checks[1].summary.contains("expired 3 min ago"),
            "{:?}",
            checks[1]
        );
        assert_eq!(checks[2].status, Status::Fail);
        assert_eq!(
            checks[2].fix.as_deref(),
            Some("patchbay mcp login https://mcp.example/mcp")
        );
        assert_eq!(mcp(&Ok(vec![]), now)[0].status, Status::Info);
        assert_eq!(mcp(&Err("broken".into()), now)[0].status, Status::Fail);
    }

    #[test]
    fn urls_lose_what_may_be_secret() {
        assert_eq!(
            display_url("https://u:p@host:8443/path?token=x#f"),
            "https://host:8443/path"
        );
        assert_eq!(
            display_url("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787"
        );
    }
}
