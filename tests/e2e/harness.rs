//! The real parts, from `testkit::rigs`, with this suite's defaults: the debug helper built
//! from the current sources and logging at debug level (so the secret check on its output
//! sees everything it could ever log).

pub use patchbay_testkit::rigs::chromium::UI_TIMEOUT;
pub use patchbay_testkit::rigs::helper::debug_bin as patchbay_bin;
pub use patchbay_testkit::rigs::{
    Browser, Edge, Helper, HelperBuilder, VercelEdge, browser_http, redirect_of, secret,
};

/// A helper as every test here starts one; add what the test needs, then `.start()`.
pub fn helper() -> HelperBuilder {
    Helper::builder(patchbay_bin()).log("debug")
}

/// A helper that also serves the built dashboard on its own origin.
pub fn dashboard_helper() -> HelperBuilder {
    helper().dashboard().unwrap_or_else(|e| panic!("{e}"))
}

/// Serialises the tests that use 127.0.0.1:53682 (rclone's and MCP's OAuth listener): only
/// one flow in the whole machine can hold it, so tests take turns, across test binaries and
/// checkouts too.
pub fn port_53682() -> patchbay_testkit::process::MachinePort {
    patchbay_testkit::process::machine_port(53682)
}
