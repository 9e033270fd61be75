//! Property tests of every parser in proto that reads outside input: what a person pastes,
//! remote names, rclone.conf, `WWW-Authenticate`, server and endpoint URLs, the redirect's
//! `state`/`iss`, and the OAuth/metadata JSON.
//!
//! Three properties hold everywhere: no input panics; every message is free of control
//! characters (`patchbay_proto::text::is_unsafe_in_messages`); a value that parses is one
//! the rest of Patchbay can use as it is. Plus each parser's own (round trips, editing one
//! rclone.conf section never touches another's bytes).
//!
//! The budget is fixed (`cases` below) so CI time is known; `PROPTEST_CASES=100000` runs a
//! deeper search locally. Inputs that found bugs are kept twice: proptest's own
//! `properties.proptest-regressions` (replayed first on every run) and a named case in
//! `found_bugs`.

pub(crate) use patchbay_proto::mcp::{check_redirect, normalize_server_url};
pub(crate) use patchbay_proto::oauth::{
    AuthorizationServerMetadata, ClientRegistrationResponse, HttpUrl, ProtectedResourceMetadata,
    TokenErrorResponse, TokenFailure, TokenResponse, check_url, classify_token_error,
    parse_bearer_challenge,
};
pub(crate) use patchbay_proto::rclone::{
    is_valid_remote_name, parse_remotes, remove_section, section_options, upsert_section,
};
pub(crate) use patchbay_proto::redirect::{AuthorizationResponse, parse_pasted_redirect};
pub(crate) use patchbay_proto::text::is_unsafe_in_messages;
pub(crate) use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// The cases per property: CI's fixed budget, unless `PROPTEST_CASES` asks for more.
pub(crate) fn budget(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Beside each module's file (`paste.proptest-regressions`, …), committed.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

pub(crate) fn clean(message: &str) -> bool {
    !message.chars().any(is_unsafe_in_messages)
}

/// Text as it comes from outside: any character, with the ones parsers care about often.
pub(crate) fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        3 => prop::sample::select(vec![
            "code=", "state=", "iss=", "error=", "error_description=", "&", "?", "#", "%",
            "%2F", "%zz", "+", "=", "://", "http://127.0.0.1:53682/", "localhost", "[", "]",
            "\r\n", "\n", "\u{1b}[2J", "\u{202e}", "\u{0}", " ", "\"", "\\", ",", ";",
        ])
        .prop_map(str::to_owned),
        2 => "[a-zA-Z0-9/+=._~-]{1,12}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

mod found_bugs;
mod oauth_json;
mod paste;
mod rclone_conf;
mod remote_names;
mod urls;
mod www_authenticate;
