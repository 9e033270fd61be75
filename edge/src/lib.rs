//! The Patchbay edge Worker.
//!
//! **Architecture invariant:** the `#[event(fetch)]` shim ([`shim`], wasm only) adapts a
//! Worker request into an [`router::EdgeRequest`] and back, and does nothing else. Every
//! decision is in [`router`], which compiles and is tested natively.
//!
//! The router reaches the world through two seams: [`store::Store`] (D1 in the Worker, an
//! in-memory SQLite in tests) and [`upstream::Upstream`] (`worker::Fetch` in the Worker, the
//! fake Vercel from `testkit` in tests).
//!
//! Static files (the built dashboard) never reach this code: `wrangler.toml` sends every path
//! except `/api/*`, `/callback` and `/.well-known/*` to Workers Static Assets.

pub mod config;
pub mod crypto;
pub mod error;
pub mod router;
pub mod store;
pub mod upstream;
pub mod vercel;

#[cfg(target_arch = "wasm32")]
mod shim;
