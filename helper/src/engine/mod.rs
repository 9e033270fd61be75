//! The engine: what every connector uses and none owns.
//!
//! - [`session`]: long-running flows as sessions (id, status, long-poll, TTL and reaper).
//! - [`cached`]: a value read from files, kept until one of them changes.
//! - [`lease`]: the 127.0.0.1:53682 lease, one OAuth listener at a time across processes.
//! - [`child`]: child processes in their own process group, killed with their flow.
//! - [`store`] and [`fsutil`]: credential files, private and replaced atomically under a lock.
//! - [`server`]: how connections are accepted and served (timeouts, caps, refusals).
//! - [`security`]: the front door (Host, Origin, CORS, pairing token) as layers.
//! - [`upstream`]: the HTTP clients, and outside failures turned into sentences.
//! - [`edge`]: the edge's `/api/connectors/*` routes, called with `PATCHBAY_EDGE_TOKEN`.
//! - [`text`]: how messages quote request input (never a control character) and count.
//!
//! Connectors (`crate::connectors`) build on these and supply only what differs.

pub mod cached;
pub mod child;
pub mod edge;
pub mod fsutil;
pub mod lease;
pub mod security;
pub mod server;
pub mod session;
pub mod store;
pub mod text;
pub mod upstream;
