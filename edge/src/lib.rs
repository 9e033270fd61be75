//! The Patchbay edge Worker.
//!
//! **Architecture invariant:** the `#[event(fetch)]` shim ([`shim`], wasm only) adapts a
//! Worker request into an [`http::EdgeRequest`] and back, and does nothing else. Every
//! decision is made by [`router::route`] and the modules it dispatches to, which compile and
//! are tested natively.
//!
//! A request reaches the world through the [`Edge`] it is handed: two seams,
//! [`store::Store`] (D1 in the Worker, an in-memory SQLite in tests) and
//! [`upstream::Upstream`] (`worker::Fetch` in the Worker, the fake Vercel from `testkit` in
//! tests), and the clock, passed in.
//!
//! Static files (the built dashboard) never reach this code: `wrangler.toml` sends every path
//! except `/api/*`, `/callback`, `/mcp`, `/oauth/*` and `/.well-known/*` to Workers Static
//! Assets.

pub mod agents;
pub mod client_metadata;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod mcp;
pub mod page;
pub mod protected_resource;
pub mod router;
pub mod store;
pub mod upstream;
pub mod vercel;

#[cfg(target_arch = "wasm32")]
mod shim;
#[cfg(test)]
mod testing;

use crate::config::{EdgeConfig, EdgeSecrets};
use crate::crypto::Cipher;
use crate::error::ApiError;

/// Everything a request may touch.
pub struct Edge<'a, S, U> {
    pub config: &'a EdgeConfig,
    pub secrets: &'a EdgeSecrets,
    pub store: &'a S,
    pub upstream: &'a U,
    /// Unix seconds.
    pub now: u64,
}

impl<S, U> Edge<'_, S, U> {
    /// The cipher for D1 values, or the `wrangler secret put` to run when the key is
    /// missing or unusable.
    pub fn cipher(&self) -> Result<Cipher, ApiError> {
        let key = self.secrets.encryption_key.as_ref().ok_or_else(|| {
            ApiError::unavailable(
                "The edge has no encryption key yet: run `openssl rand -base64 32 | npx \
                 wrangler secret put PATCHBAY_ENCRYPTION_KEY` in edge/.",
            )
        })?;
        Cipher::from_base64_key(key).map_err(|why| {
            ApiError::unavailable(format!(
                "PATCHBAY_ENCRYPTION_KEY {why}: set it to `openssl rand -base64 32` with `npx \
                 wrangler secret put PATCHBAY_ENCRYPTION_KEY`."
            ))
        })
    }
}
