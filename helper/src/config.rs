//! `patchbay serve` settings: flags, their environment twins, and the checks that make an
//! unsafe setting a start-up error instead of a quiet exposure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::engine::security::Origin;
use crate::engine::server::Limits;

/// Default address: loopback, a port nothing common uses.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// Where `trunk serve` puts the dashboard during development (`cargo xtask dev`).
pub const DEFAULT_DASHBOARD_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Must be a loopback address (127.0.0.0/8 or [::1]): the helper
    /// holds credentials and is never reachable from another machine. Port 0 picks a free port.
    #[arg(long, env = "PATCHBAY_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Folder for the pairing token, rclone.conf and mcp-tokens.json (created 0700).
    /// Default: $XDG_DATA_HOME/patchbay, else ~/.local/share/patchbay.
    #[arg(long, env = "PATCHBAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Dashboard origin allowed to call this helper from a browser (repeatable, or
    /// comma-separated in the env var). The dashboard URL's origin and the helper's own
    /// origin are always allowed.
    #[arg(
        long = "allow-origin",
        env = "PATCHBAY_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,

    /// Where the dashboard is served; the printed pairing link points there.
    /// Ignored when --dashboard-dir is given (the helper then serves it itself).
    #[arg(long, env = "PATCHBAY_DASHBOARD_URL", default_value = DEFAULT_DASHBOARD_URL)]
    pub dashboard_url: String,

    /// Serve a built dashboard (Trunk's dist/ folder) on the helper's own origin. Useful with
    /// Chrome's Local Network Access prompt: a page on the helper's origin needs no permission.
    #[arg(long, env = "PATCHBAY_DASHBOARD_DIR")]
    pub dashboard_dir: Option<PathBuf>,

    /// GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(
        long,
        env = "PATCHBAY_GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    pub github_api_url: String,

    /// Manus API base URL.
    #[arg(
        long,
        env = "PATCHBAY_MANUS_API_URL",
        default_value = "https://api.manus.ai"
    )]
    pub manus_api_url: String,

    /// The Patchbay edge (Cloudflare Worker) that runs the Vercel connector. Its bearer secret
    /// comes from the PATCHBAY_EDGE_TOKEN environment variable only.
    #[arg(long, env = "PATCHBAY_EDGE_URL")]
    pub edge_url: Option<String>,

    /// GitHub host for the gh device flow (GitHub Enterprise Server: its hostname).
    #[arg(long, env = "PATCHBAY_GITHUB_HOST", default_value = "github.com")]
    pub github_host: String,

    /// The gh (GitHub CLI) program.
    #[arg(long, env = "PATCHBAY_GH", default_value = "gh")]
    pub gh: PathBuf,

    /// The rclone program.
    #[arg(long, env = "PATCHBAY_RCLONE", default_value = "rclone")]
    pub rclone: PathBuf,

    /// Microsoft Graph base URL (to find a new OneDrive remote's drive).
    #[arg(
        long,
        env = "PATCHBAY_GRAPH_API_URL",
        default_value = "https://graph.microsoft.com/v1.0"
    )]
    pub graph_api_url: String,

    /// Google Drive API base URL (as whom a new Drive remote is signed in).
    #[arg(
        long,
        env = "PATCHBAY_DRIVE_API_URL",
        default_value = "https://www.googleapis.com/drive/v3"
    )]
    pub drive_api_url: String,

    /// How long a sign-in session lives, in seconds.
    #[arg(
        long,
        env = "PATCHBAY_SESSION_TTL_SECS",
        default_value_t = 600,
        hide = true
    )]
    pub session_ttl_secs: u64,

    /// Where the gh device flow caches the GitHub token for downstream tools.
    /// Default: ~/.xo-cowork/github_token.json.
    #[arg(long, env = "PATCHBAY_GITHUB_TOKEN_FILE")]
    pub github_token_file: Option<PathBuf>,

    /// The most connections served at once; past it new ones are answered 503.
    #[arg(long, env = "PATCHBAY_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections, hide = true)]
    pub max_connections: usize,

    /// Seconds a request head may take to arrive (also how long an idle kept-alive
    /// connection stays open, and the longest pause inside a request body).
    #[arg(long, env = "PATCHBAY_HEADER_TIMEOUT_SECS", default_value_t = Limits::default().header_read_timeout.as_secs_f64(), hide = true)]
    pub header_timeout_secs: f64,

    /// Seconds a client may leave its answer unread before it is dropped.
    #[arg(long, env = "PATCHBAY_WRITE_TIMEOUT_SECS", default_value_t = Limits::default().write_timeout.as_secs_f64(), hide = true)]
    pub write_timeout_secs: f64,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The bound address (after binding, so port 0 is resolved).
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub allowed_origins: Vec<Origin>,
    pub dashboard_url: String,
    pub dashboard_dir: Option<PathBuf>,
    pub github_api_url: String,
    pub manus_api_url: String,
    pub github_token_file: PathBuf,
    pub rclone_bin: PathBuf,
    pub edge_url: Option<String>,
    pub edge_token: Option<patchbay_proto::Secret>,
    pub github_host: String,
    pub gh_bin: PathBuf,
    pub graph_api_url: String,
    pub drive_api_url: String,
    pub session_ttl: std::time::Duration,
    /// How connections are served (timeouts, caps).
    pub limits: Limits,
}

impl Config {
    /// The one rclone.conf both rclone connectors share.
    pub fn rclone_conf(&self) -> PathBuf {
        self.data_dir.join("rclone.conf")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "refusing to listen on {0}: the helper holds credentials and only listens on loopback. \
         Use 127.0.0.1:PORT (or [::1]:PORT)."
    )]
    NotLoopback(SocketAddr),
    #[error(
        "--allow-origin {0:?} is not an origin; write it as scheme://host[:port], e.g. https://patchbay.example.com"
    )]
    BadOrigin(String),
    #[error("--dashboard-url {0:?} is not an http(s) URL")]
    BadDashboardUrl(String),
    #[error("cannot find a data folder: set --data-dir or PATCHBAY_DATA_DIR (HOME is not set)")]
    NoDataDir,
    #[error(
        "--dashboard-dir {0}: no index.html there; build the dashboard first (cargo xtask build)"
    )]
    NoDashboard(PathBuf),
    #[error("{flag} {value:?} is not an http(s) URL")]
    BadUrl { flag: &'static str, value: String },
    #[error("{flag} must be a number of seconds above 0 (got {value})")]
    BadSeconds { flag: &'static str, value: f64 },
    #[error("--max-connections must be at least 1")]
    NoConnections,
}

impl ServeArgs {
    /// Checks everything that does not need the socket; returns the listen address to bind.
    pub fn validate_listen(&self) -> Result<SocketAddr, ConfigError> {
        if self.listen.ip().is_loopback() {
            Ok(self.listen)
        } else {
            Err(ConfigError::NotLoopback(self.listen))
        }
    }

    /// Builds the final configuration once the socket is bound at `bound`.
    pub fn into_config(self, bound: SocketAddr) -> Result<Config, ConfigError> {
        let data_dir = match self.data_dir {
            Some(d) => d,
            None => default_data_dir().ok_or(ConfigError::NoDataDir)?,
        };
        if let Some(dir) = &self.dashboard_dir
            && !dir.join("index.html").is_file()
        {
            return Err(ConfigError::NoDashboard(dir.clone()));
        }
        let dashboard_url = if self.dashboard_dir.is_some() {
            format!("http://{bound}")
        } else {
            self.dashboard_url.trim_end_matches('/').to_owned()
        };
        let dashboard_origin = Origin::parse(&dashboard_url)
            .ok_or_else(|| ConfigError::BadDashboardUrl(dashboard_url.clone()))?;

        let mut allowed_origins = Origin::own_origins(bound);
        allowed_origins.push(dashboard_origin);
        for o in &self.allow_origins {
            let o = o.trim();
            if o.is_empty() {
                continue;
            }
            allowed_origins.push(Origin::parse(o).ok_or_else(|| ConfigError::BadOrigin(o.into()))?);
        }
        allowed_origins.dedup();

        let github_token_file = match self.github_token_file {
            Some(f) => f,
            None => home_dir()
                .ok_or(ConfigError::NoDataDir)?
                .join(".xo-cowork/github_token.json"),
        };
        Ok(Config {
            listen: bound,
            data_dir,
            allowed_origins,
            dashboard_url,
            dashboard_dir: self.dashboard_dir,
            github_api_url: base_url("--github-api-url", &self.github_api_url)?,
            manus_api_url: base_url("--manus-api-url", &self.manus_api_url)?,
            github_token_file,
            rclone_bin: self.rclone,
            edge_url: self
                .edge_url
                .as_deref()
                .map(|u| base_url("--edge-url", u))
                .transpose()?,
            // Environment only: a flag would show the secret in the process list.
            edge_token: std::env::var("PATCHBAY_EDGE_TOKEN")
                .ok()
                .filter(|t| !t.trim().is_empty())
                .map(|t| patchbay_proto::Secret::new(t.trim())),
            github_host: self.github_host.trim().to_owned(),
            gh_bin: self.gh,
            graph_api_url: base_url("--graph-api-url", &self.graph_api_url)?,
            drive_api_url: base_url("--drive-api-url", &self.drive_api_url)?,
            session_ttl: std::time::Duration::from_secs(self.session_ttl_secs.max(1)),
            limits: Limits {
                max_connections: match self.max_connections {
                    0 => return Err(ConfigError::NoConnections),
                    n => n,
                },
                header_read_timeout: seconds("--header-timeout-secs", self.header_timeout_secs)?,
                write_timeout: seconds("--write-timeout-secs", self.write_timeout_secs)?,
                ..Limits::default()
            },
        })
    }
}

/// A positive, finite number of seconds (at most a day).
fn seconds(flag: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value.min(86_400.0)))
    } else {
        Err(ConfigError::BadSeconds { flag, value })
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The data folder: the one given (`--data-dir` / `PATCHBAY_DATA_DIR`), else the XDG
/// default. Shared by `serve` and `mcp`, so both use the same files.
pub fn resolve_data_dir(given: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    match given {
        Some(d) => Ok(d),
        None => default_data_dir().ok_or(ConfigError::NoDataDir),
    }
}

fn default_data_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Some(Path::new(&xdg).join("patchbay"));
    }
    Some(home_dir()?.join(".local/share/patchbay"))
}

/// An API base URL without its trailing slash.
fn base_url(flag: &'static str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/');
    if v.starts_with("http://") || v.starts_with("https://") {
        Ok(v.to_owned())
    } else {
        Err(ConfigError::BadUrl {
            flag,
            value: value.to_owned(),
        })
    }
}

impl Config {
    /// A configuration for tests: loopback, the given data folder, extra allowed origins.
    /// Outside services point at a closed port until a test sets them.
    pub fn for_tests(listen: SocketAddr, data_dir: PathBuf, extra_origins: &[&str]) -> Config {
        let data_dir_for_gh = data_dir.join("xo-cowork/github_token.json");
        let args = ServeArgs {
            listen,
            data_dir: Some(data_dir),
            allow_origins: extra_origins.iter().map(|s| s.to_string()).collect(),
            dashboard_url: DEFAULT_DASHBOARD_URL.into(),
            dashboard_dir: None,
            github_api_url: "http://127.0.0.1:9".into(),
            manus_api_url: "http://127.0.0.1:9".into(),
            github_token_file: Some(data_dir_for_gh),
            rclone: "rclone".into(),
            edge_url: None,
            github_host: "github.com".into(),
            gh: "gh".into(),
            graph_api_url: "http://127.0.0.1:9".into(),
            drive_api_url: "http://127.0.0.1:9".into(),
            session_ttl_secs: 600,
            max_connections: Limits::default().max_connections,
            header_timeout_secs: Limits::default().header_read_timeout.as_secs_f64(),
            write_timeout_secs: Limits::default().write_timeout.as_secs_f64(),
        };
        args.into_config(listen).expect("valid test configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(listen: &str) -> ServeArgs {
        ServeArgs {
            listen: listen.parse().unwrap(),
            data_dir: Some("/tmp/x".into()),
            allow_origins: vec!["https://app.example.com/".into()],
            dashboard_url: DEFAULT_DASHBOARD_URL.into(),
            dashboard_dir: None,
            github_api_url: "https://api.github.com/".into(),
            manus_api_url: "https://api.manus.ai".into(),
            github_token_file: None,
            rclone: "rclone".into(),
            edge_url: None,
            github_host: "github.com".into(),
            gh: "gh".into(),
            graph_api_url: "https://graph.microsoft.com/v1.0".into(),
            drive_api_url: "https://www.googleapis.com/drive/v3".into(),
            session_ttl_secs: 600,
            max_connections: Limits::default().max_connections,
            header_timeout_secs: Limits::default().header_read_timeout.as_secs_f64(),
            write_timeout_secs: Limits::default().write_timeout.as_secs_f64(),
        }
    }

    #[test]
    fn only_loopback_addresses_are_accepted() {
        assert!(args("127.0.0.1:0").validate_listen().is_ok());
        assert!(args("[::1]:7878").validate_listen().is_ok());
        let err = args("0.0.0.0:7878").validate_listen().unwrap_err();
        assert!(
            err.to_string().contains("only listens on loopback"),
            "{err}"
        );
        assert!(args("192.168.1.5:7878").validate_listen().is_err());
    }

    #[test]
    fn allowlist_holds_own_dashboard_and_extra_origins() {
        let c = args("127.0.0.1:7878")
            .into_config("127.0.0.1:7878".parse().unwrap())
            .unwrap();
        let list: Vec<String> = c.allowed_origins.iter().map(|o| o.to_string()).collect();
        for want in [
            "http://127.0.0.1:7878",
            "http://localhost:7878",
            "http://127.0.0.1:8080",
            "https://app.example.com",
        ] {
            assert!(
                list.iter().any(|o| o == want),
                "{want} missing from {list:?}"
            );
        }
    }

    #[test]
    fn a_malformed_extra_origin_is_a_startup_error() {
        let mut a = args("127.0.0.1:7878");
        a.allow_origins = vec!["app.example.com".into()];
        assert!(matches!(
            a.into_config("127.0.0.1:7878".parse().unwrap()),
            Err(ConfigError::BadOrigin(_))
        ));
    }
}
