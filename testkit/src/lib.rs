//! Test support for Patchbay.
//!
//! - [`process`]: start real programs (the helper, `wrangler dev`, chromedriver, rclone…) in
//!   their own process group and kill the whole group when the test is done, pass or fail.
//! - Fakes of every outside service Patchbay talks to, one module each, speaking its real
//!   protocol: [`oauth`] (Google and Microsoft as rclone uses them, plus Graph's drive
//!   lookup), [`github`] (REST, GraphQL and the device flow), [`manus`], [`vercel`], [`mcp`]
//!   (an MCP server with its own OAuth 2.1 authorization server). Each says, as
//!   `helper_env()`, how to point a helper at it.
//! - [`rigs`] (feature `rigs`): the real parts an end-to-end test or benchmark starts (the
//!   helper binary, `wrangler dev`, Chromium), shared by `tests/` and `bench/`.
//!
//! Everything listens on 127.0.0.1 only.

pub mod fake;
pub mod github;
pub mod manus;
pub mod mcp;
pub mod oauth;
pub mod process;
#[cfg(feature = "rigs")]
pub mod rigs;
pub mod vercel;

pub use fake::FakeServer;

/// Re-exported for signal handling in xtask and tests.
pub use libc;
