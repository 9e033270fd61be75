//! Test support for Patchbay.
//!
//! - [`process`]: start real programs (the helper, `wrangler dev`, chromedriver, rclone…) in
//!   their own process group and kill the whole group when the test is done, pass or fail.
//! - Fakes of the outside services (Google, Microsoft, GitHub, Vercel, Manus, MCP servers)
//!   that speak their real protocols live here too, one module each, as the connectors that
//!   need them land.
//!
//! Everything listens on 127.0.0.1 only.

pub mod fake;
pub mod github;
pub mod manus;
pub mod mcp;
pub mod oauth;
pub mod process;
pub mod vercel;

pub use fake::FakeServer;

/// Re-exported for signal handling in xtask and tests.
pub use libc;
