//! `patchbay serve` settings: flags, their environment twins, and the checks that make an
//! unsafe setting a start-up error instead of a quiet exposure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::security::Origin;

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

        Ok(Config {
            listen: bound,
            data_dir,
            allowed_origins,
            dashboard_url,
            dashboard_dir: self.dashboard_dir,
        })
    }
}

fn default_data_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Some(Path::new(&xdg).join("patchbay"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    Some(Path::new(&home).join(".local/share/patchbay"))
}

impl Config {
    /// A configuration for tests: loopback, the given data folder, extra allowed origins.
    pub fn for_tests(listen: SocketAddr, data_dir: PathBuf, extra_origins: &[&str]) -> Config {
        let args = ServeArgs {
            listen,
            data_dir: Some(data_dir),
            allow_origins: extra_origins.iter().map(|s| s.to_string()).collect(),
            dashboard_url: DEFAULT_DASHBOARD_URL.into(),
            dashboard_dir: None,
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
