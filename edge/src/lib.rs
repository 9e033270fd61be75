//! The Patchbay edge Worker.
//!
//! **Architecture invariant:** the `#[event(fetch)]` shim ([`shim`], wasm only) adapts a
//! Worker request into an [`router::EdgeRequest`] and back, and does nothing else. Every
//! decision is in [`router`], which compiles and is tested natively.
//!
//! Static files (the built dashboard) never reach this code: `wrangler.toml` sends every path
//! except `/api/*`, `/callback` and `/.well-known/*` to Workers Static Assets.

pub mod config;
pub mod router;

#[cfg(target_arch = "wasm32")]
mod shim;
