//! The sans-IO core of Patchbay.
//!
//! Everything here is a plain value or a pure function: no sockets, no files, no clocks.
//! The helper (native), the edge (Worker) and the dashboard (browser) all compile it, so the
//! request/response shapes of the Connectors API are defined exactly once.
//!
//! **Architecture invariant:** this crate performs no I/O. Randomness comes from `getrandom`
//! (the only source that works on all three hosts); time, when needed, is passed in.

pub mod agents;
pub mod api;
pub mod error;
pub mod mcp;
pub mod oauth;
pub mod page;
pub mod pairing;
pub mod pkce;
pub mod rclone;
pub mod redirect;
pub mod secret;
pub mod text;
pub mod tokens;

pub use error::{ErrorBody, ErrorCode};
pub use secret::Secret;
