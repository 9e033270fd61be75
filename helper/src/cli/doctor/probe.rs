//! The I/O half of `doctor`: runs the programs, looks at ports and files, asks the edge and
//! reads the MCP entries; returns facts for [`super::checks`]. It only reads: a doctor that
//! tightened a mode or recreated a file would hide what it was asked to find.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use patchbay_proto::mcp::McpServer;
use patchbay_proto::{ErrorBody, Secret};

use super::checks::{ClientFacts, EdgeFacts, FileState, PortFacts, ToolFacts, display_url};
use super::ports;
use crate::cli::find_program;
use crate::connectors::mcp::{self, login::Ctx, store::McpFiles};
use crate::connectors::rclone::Kind;
use crate::connectors::rclone::settings::{ProviderSettings, SETTINGS_FILE};
use crate::engine::{lease, upstream};

const TOOL_TIMEOUT: Duration = Duration::from_secs(10);
const EDGE_TIMEOUT: Duration = Duration::from_secs(10);

/// `program --version`'s first line, from where PATH finds it.
pub async fn tool(program: &Path) -> ToolFacts {
    let Some(path) = find_program(program, std::env::var_os("PATH").as_deref()) else {
        return ToolFacts::NotFound {
            program: program.to_owned(),
        };
    };
    let run = tokio::process::Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let broken = |why: String| ToolFacts::Broken {
        path: path.clone(),
        why,
    };
    match tokio::time::timeout(TOOL_TIMEOUT, run).await {
        Err(_) => broken(format!(
            "`--version` took over {} s",
            TOOL_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => broken(e.to_string()),
        Ok(Ok(out)) if !out.status.success() => {
            broken(format!("`--version` failed: {}", out.status))
        }
        Ok(Ok(out)) => match String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
        {
            Some(line) => ToolFacts::Found {
                version: line.chars().take(120).collect(),
                path,
            },
            None => broken("`--version` printed nothing".into()),
        },
    }
}

/// Whether 127.0.0.1:`port` is free, and who holds it if not.
pub fn port(port: u16, data_dir: &Path) -> PortFacts {
    let free = ports::is_free(port);
    PortFacts {
        port,
        free,
        holders: if free {
            Vec::new()
        } else {
            ports::holders(port)
        },
        lease_holder: (port == lease::LOOPBACK_PORT)
            .then(|| lease::holder(data_dir))
            .flatten(),
    }
}

/// The file's mode and bytes (read, never changed).
pub fn file(path: &Path) -> FileState {
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return FileState::Missing,
        Err(e) => return FileState::Unreadable(e.kind().to_string()),
    };
    match std::fs::read(path) {
        Ok(contents) => FileState::Present {
            mode: metadata.permissions().mode() & 0o777,
            contents,
        },
        Err(e) => FileState::Unreadable(e.kind().to_string()),
    }
}

/// The folder's mode, `None` when it does not exist.
pub fn folder_mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// The OAuth client the next sign-in of `kind` would use, and where its id comes from.
pub fn client(kind: Kind, data_dir: &Path) -> ClientFacts {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let settings = ProviderSettings::load(kind, data_dir, env);
    let (id, secret) = settings.effective_client(kind, env);
    let rclone_var = format!("{}CLIENT_ID", kind.env_prefix());
    let patchbay_var = match kind {
        Kind::Gdrive => "PATCHBAY_GDRIVE_CLIENT_ID",
        Kind::Onedrive => "PATCHBAY_ONEDRIVE_CLIENT_ID",
    };
    let id_from = id.map(|_| {
        if env(&rclone_var).is_some() {
            rclone_var
        } else if env(patchbay_var).is_some() {
            patchbay_var.to_owned()
        } else {
            SETTINGS_FILE.to_owned()
        }
    });
    ClientFacts {
        id_from,
        has_secret: secret.is_some(),
    }
}

/// Asks the edge for the Vercel status with the bearer: that route needs the bearer and
/// reads D1, so one request tells all three.
pub async fn edge(url: Option<&str>, token: Option<&Secret>) -> EdgeFacts {
    let Some(url) = url else {
        return EdgeFacts::NotConfigured;
    };
    let shown = display_url(url);
    let mut request = upstream::client()
        .get(format!("{url}/api/connectors/vercel/status"))
        .timeout(EDGE_TIMEOUT);
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    let response = match request.send().await {
        Ok(r) => r,
        // Not reqwest's message: it quotes the whole URL.
        Err(e) => {
            let why = if e.is_timeout() {
                "no answer within 10 s"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "no HTTP answer"
            };
            return EdgeFacts::Unreachable {
                url: shown,
                why: why.into(),
            };
        }
    };
    let status = response.status().as_u16();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok());
    let body = response.json::<ErrorBody>().await.ok();
    EdgeFacts::Answered {
        url: shown,
        with_token: token.is_some(),
        status,
        body,
        date,
    }
}

/// The MCP servers in `mcp-tokens.json`, as `patchbay mcp list` shows them (no tokens).
pub async fn mcp_servers(data_dir: &Path) -> Result<Vec<McpServer>, String> {
    let ctx = Ctx::new(upstream::client(), McpFiles::new(data_dir));
    mcp::list_servers(&ctx).await.map_err(|e| e.message)
}
