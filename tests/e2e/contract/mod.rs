//! The contract test: a client written only from the seed's Connectors API text
//! (`../shared/seeds/003_*.txt`) and the committed OpenAPI document (`docs/openapi.json`).
//!
//! It uses none of Patchbay's types (no `patchbay_proto`, no `patchbay_helper`, no page
//! object), so it cannot agree with the code by construction: requests are built by hand
//! from `serde_json::Value` (or raw bytes), and every answer is validated against the
//! document's schema for its operation and status before the test reads it. Only process
//! plumbing comes from testkit (the helper binary, wrangler dev, the fakes of outside
//! services).

mod client;
mod flows;
mod malformed;
mod schema;
