//! End-to-end tests: every Patchbay part real, only outside services faked.
//!
//! Needs the built dashboard (`dist/`) and Worker (`edge/build/`): `cargo xtask test` builds
//! both first; `cargo xtask build` does it alone.

// Tests hold `harness::port_53682()` (a std MutexGuard) across awaits on purpose: every
// #[tokio::test] owns its runtime, and the guard only makes tests that need 127.0.0.1:53682
// take turns; nothing else ever waits on it inside a runtime.
#![allow(clippy::await_holding_lock)]

mod harness;
mod pages;

mod dashboard;
mod foundation;
mod github_cli;
mod mcp;
mod rclone;
mod tokens;
mod vercel;
mod vercel_helper;
