//! panva's `oidc-provider` (npm), an authorization server Patchbay did not write, with a
//! minimal MCP endpoint in front (`testkit/js/oidc-mcp.mjs`), under the machine's Node.
//! Installed by `cargo xtask setup` from `package.json`.

use std::process::Command;
use std::time::Duration;

use super::{Spawned, built, or_panic, ready};
use crate::process::{Running, free_port, workspace_root};

/// The running provider; stopped (process group killed) on drop.
pub struct OidcProvider {
    pub port: u16,
    process: Running,
}

impl OidcProvider {
    pub fn start() -> OidcProvider {
        or_panic(Self::try_start())
    }

    pub fn try_start() -> Result<OidcProvider, String> {
        built("node_modules/oidc-provider/package.json")
            .map_err(|_| "oidc-provider is not installed: run `cargo xtask setup`".to_owned())?;
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg(workspace_root().join("testkit/js/oidc-mcp.mjs"))
            .arg(port.to_string())
            .current_dir(workspace_root());
        ready(Ok(OidcProvider {
            port,
            process: Running::start("oidc-provider", cmd),
        }))
    }

    /// `http://127.0.0.1:PORT`: the issuer.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The MCP endpoint in front of it.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.issuer())
    }

    pub fn output(&self) -> String {
        self.process.output()
    }
}

impl Spawned for OidcProvider {
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        self.process
            .next_line(timeout, |l| l.text.starts_with("listening ").then_some(()))
    }
}
