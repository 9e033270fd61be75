//! End-to-end tests: every Patchbay part real, only outside services faked.
//!
//! Needs the built dashboard (`dist/`) and Worker (`edge/build/`): `cargo xtask test` builds
//! both first; `cargo xtask build` does it alone.

mod harness;
mod pages;

mod agents;
mod contract;
mod dashboard;
mod doctor;
mod foundation;
mod github_cli;
mod mcp;
mod mcp_oidc;
mod mcp_spec;
mod rclone;
mod tokens;
mod vercel;
mod vercel_helper;
