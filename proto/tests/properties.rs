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
//! `found_bugs` below.

use patchbay_proto::mcp::{check_redirect, normalize_server_url};
use patchbay_proto::oauth::{
    AuthorizationServerMetadata, ClientRegistrationResponse, HttpUrl, ProtectedResourceMetadata,
    TokenErrorResponse, TokenFailure, TokenResponse, check_url, classify_token_error,
    parse_bearer_challenge,
};
use patchbay_proto::rclone::{
    is_valid_remote_name, parse_remotes, remove_section, section_options, upsert_section,
};
use patchbay_proto::redirect::{AuthorizationResponse, parse_pasted_redirect};
use patchbay_proto::text::is_unsafe_in_messages;
use proptest::prelude::*;

/// The cases per property: CI's fixed budget, unless `PROPTEST_CASES` asks for more.
fn budget(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig::with_cases(cases)
}

fn clean(message: &str) -> bool {
    !message.chars().any(is_unsafe_in_messages)
}

/// Text as it comes from outside: any character, with the ones parsers care about often.
fn hostile_text() -> impl Strategy<Value = String> {
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

// ---------------------------------------------------------------------------------------
// The pasted redirect

fn code_shaped() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/=*!$:@-]{4,120}"
}

proptest! {
    #![proptest_config(budget(2000))]

    #[test]
    fn a_paste_never_panics_and_is_a_usable_code_or_a_clean_sentence(input in hostile_text()) {
        match parse_pasted_redirect(&input) {
            Ok(r) => {
                prop_assert!((4..=4096).contains(&r.code.len()));
                prop_assert!(!r.code.chars().any(|c| c.is_whitespace() || c.is_control()));
            }
            Err(e) => {
                let m = e.message();
                prop_assert!(clean(&m), "{m:?}");
                prop_assert!(m.ends_with('.'), "{m:?}");
            }
        }
    }

    #[test]
    fn a_redirect_round_trips_whatever_the_form(
        code in code_shaped(),
        state in "[ -~]{0,40}",
        iss in proptest::option::of("https://[a-z]{1,10}\\.example(/[a-z]{0,8})?"),
        form in 0..4u8,
    ) {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("state", &state).append_pair("code", &code);
        if let Some(iss) = &iss {
            query.append_pair("iss", iss);
        }
        let query = query.finish();
        let pasted = match form {
            0 => format!("http://127.0.0.1:53682/?{query}"),
            1 => format!("  http://localhost:53682/callback?{query}#frag\n"),
            2 => format!("?{query}"),
            _ => query.clone(),
        };
        let r = parse_pasted_redirect(&pasted).unwrap();
        prop_assert_eq!(r.code, code);
        prop_assert_eq!(r.state, Some(state));
        prop_assert_eq!(r.iss, iss);
    }

    #[test]
    fn a_bare_code_is_read_as_itself_encoded_or_not(code in code_shaped()) {
        prop_assert_eq!(parse_pasted_redirect(&code).unwrap().code, code.clone());
        let encoded: String = form_urlencoded::byte_serialize(code.as_bytes()).collect();
        prop_assert_eq!(parse_pasted_redirect(&encoded).unwrap().code, code);
    }
}

// ---------------------------------------------------------------------------------------
// Remote names

proptest! {
    #![proptest_config(budget(2000))]

    #[test]
    fn remote_names_are_exactly_the_contracts(name in prop_oneof![
        "[a-z0-9_-]{0,40}".boxed(),
        hostile_text().boxed(),
    ]) {
        let contract = (1..=32).contains(&name.len())
            && name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        prop_assert_eq!(is_valid_remote_name(&name), contract);
    }
}

// ---------------------------------------------------------------------------------------
// rclone.conf section editing

/// One line of an rclone.conf as people and tools leave them.
fn conf_line(names: Vec<String>) -> impl Strategy<Value = String> {
    let names = prop::sample::select(names);
    prop_oneof![
        3 => names.clone().prop_map(|n| format!("[{n}]")),
        1 => names.prop_map(|n| format!("  [ {n} ]  ")),
        4 => ("[a-z_]{1,10}", "[ -~]{0,30}").prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "[a-z_]{1,10}=[^\n\r]{0,20}",
        1 => "[#;][^\n\r]{0,20}",
        1 => Just(String::new()),
        1 => "[^\n\r]{0,30}",
    ]
}

fn conf() -> impl Strategy<Value = String> {
    let names: Vec<String> = ["a", "b", "work", "my-drive", "x_1"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    (
        prop::collection::vec(conf_line(names), 0..30),
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(lines, crlf, last_newline)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = lines.join(eol);
            if last_newline && !text.is_empty() {
                text.push_str(eol);
            }
            text
        })
}

fn options() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z_]{1,12}", hostile_text()), 0..6)
}

/// The text split where sections start, as rclone reads it: a line that is `[name]` once
/// trimmed starts one. Returns (section name or `None` for what precedes the first,
/// its bytes), in file order.
fn blocks(conf: &str) -> Vec<(Option<String>, String)> {
    let mut out: Vec<(Option<String>, String)> = vec![(None, String::new())];
    for line in conf.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push((Some(name.trim().to_owned()), String::new()));
        }
        out.last_mut().unwrap().1.push_str(line);
    }
    out
}

fn others(conf: &str, name: &str) -> String {
    blocks(conf)
        .into_iter()
        .filter(|(n, _)| n.as_deref() != Some(name))
        .map(|(_, text)| text)
        .collect()
}

proptest! {
    #![proptest_config(budget(1500))]

    #[test]
    fn removing_a_section_keeps_every_other_byte(
        conf in conf(),
        name in prop::sample::select(vec!["a", "work", "absent"]),
    ) {
        let (out, found) = remove_section(&conf, name);
        prop_assert_eq!(&out, &others(&conf, name));
        prop_assert_eq!(found, blocks(&conf).iter().any(|(n, _)| n.as_deref() == Some(name)));
        prop_assert!(section_options(&out, name).is_empty());
    }

    #[test]
    fn writing_a_section_never_changes_a_byte_of_another(
        conf in conf(),
        name in prop::sample::select(vec!["a", "work", "new-one"]),
        options in options(),
    ) {
        let pairs: Vec<(&str, &str)> =
            options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let Ok::<_, ()>(out) = Ok(upsert_section(&conf, name, &pairs)) else {
            // Refused: only for a value no rclone.conf line can hold.
            prop_assert!(options.iter().any(|(_, v)| v.chars().any(char::is_control)));
            return Ok(());
        };
        let kept = others(&conf, name);
        prop_assert!(out.starts_with(&kept), "another section changed:\n{conf:?}\n→\n{out:?}");
        let added = &out[kept.len()..];
        let section = added.trim_start_matches(['\r', '\n']);
        prop_assert!(section.starts_with(&format!("[{name}]\n")), "{added:?}");
        // The new section is the whole of what was added, and reads back as written.
        let after = blocks(&out);
        prop_assert_eq!(after.iter().filter(|(n, _)| n.as_deref() == Some(name)).count(), 1);
        let expected: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect();
        prop_assert_eq!(section_options(&out, name), expected);
        let others_before: Vec<_> = blocks(&conf).into_iter().filter(|(n, _)| n.as_deref() != Some(name) && n.is_some()).map(|(n, _)| n).collect();
        let others_after: Vec<_> = after.into_iter().filter(|(n, _)| n.as_deref() != Some(name) && n.is_some()).map(|(n, _)| n).collect();
        prop_assert_eq!(others_before, others_after);
    }

    #[test]
    fn reading_any_conf_never_panics(conf in prop_oneof![conf().boxed(), hostile_text().boxed()]) {
        let remotes = parse_remotes(&conf);
        for r in &remotes {
            prop_assert!(!section_options(&conf, &r.name).is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------
// WWW-Authenticate

fn token68() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_-]{0,10}"
}

/// A quoted-string's content: any printable ASCII (quotes and backslashes included).
fn quoted_content() -> impl Strategy<Value = String> {
    "[ -~]{0,40}"
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn other_challenge() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["Basic", "DPoP", "Digest", "Negotiate"]),
        prop::collection::vec((token68(), quoted_content()), 0..3),
    )
        .prop_map(|(scheme, params)| {
            let params: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k}={}", quote(v)))
                .collect();
            format!("{scheme} {}", params.join(", "))
        })
}

proptest! {
    #![proptest_config(budget(2000))]

    #[test]
    fn any_header_value_parses_or_not_without_panicking(header in hostile_text()) {
        let _ = parse_bearer_challenge(&header);
    }

    #[test]
    fn the_bearer_challenge_is_found_among_others_with_its_values(
        before in prop::collection::vec(other_challenge(), 0..3),
        after in prop::collection::vec(other_challenge(), 0..3),
        metadata in quoted_content(),
        scope in proptest::option::of(quoted_content()),
        error in proptest::option::of("[a-z_]{1,20}"),
        bearer in prop::sample::select(vec!["Bearer", "bearer", "BEARER"]),
        comma in prop::sample::select(vec![", ", ",", " , "]),
    ) {
        let mut params = vec![format!("resource_metadata={}", quote(&metadata))];
        if let Some(s) = &scope {
            params.push(format!("scope={}", quote(s)));
        }
        if let Some(e) = &error {
            params.push(format!("error={e}"));
        }
        let challenge = format!("{bearer} {}", params.join(comma));
        let all: Vec<String> = before.into_iter().chain([challenge]).chain(after).collect();
        let header = all.join(comma);
        let c = parse_bearer_challenge(&header).unwrap();
        prop_assert_eq!(c.resource_metadata, Some(metadata), "{}", header);
        prop_assert_eq!(c.scope, scope);
        prop_assert_eq!(c.error, error);
    }
}

// ---------------------------------------------------------------------------------------
// Server and endpoint URLs, and the redirect's state and iss

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("127.0.0.1".to_owned()),
        Just("localhost".to_owned()),
        Just("[::1]".to_owned()),
        "127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "127\\.[a-z0-9.-]{1,16}",
        "localhost\\.[a-z]{1,10}",
        "[a-z0-9.-]{1,16}\\.127\\.0\\.0\\.1",
        "[a-z0-9.-]{1,20}",
        "\\[[0-9a-f:]{2,12}\\]",
    ]
}

fn url() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["http", "https", "HTTP", "ftp"]),
        host(),
        proptest::option::of(0u16..),
        "(/[a-zA-Z0-9._~%-]{0,8}){0,3}/?",
        proptest::option::of("[a-z=&]{0,10}"),
    )
        .prop_map(|(scheme, host, port, path, query)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("{scheme}://{host}{port}{path}{query}")
        })
}

/// What "this machine" is: a loopback IP address, or the name `localhost`.
fn truly_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

proptest! {
    #![proptest_config(budget(3000))]

    #[test]
    fn plain_http_is_only_ever_allowed_to_this_machine(u in prop_oneof![url().boxed(), hostile_text().boxed()]) {
        if let Ok(parsed) = check_url(&u) {
            prop_assert!(
                parsed.is_https() || truly_loopback(parsed.host()),
                "plain http allowed to {:?} ({u})", parsed.host()
            );
            prop_assert!(!u.chars().any(|c| c.is_control() || c.is_whitespace()));
        }
        if let Some(parsed) = HttpUrl::parse(&u) {
            let _ = (parsed.origin(), parsed.is_loopback());
        }
    }

    #[test]
    fn normalising_a_server_url_is_idempotent(u in url()) {
        if let Ok(once) = normalize_server_url(&u) {
            prop_assert_eq!(normalize_server_url(&once), Ok(once.clone()));
        }
    }

    #[test]
    fn a_redirect_passes_only_with_its_own_state_and_issuer(
        state in proptest::option::of("[a-zA-Z0-9_-]{0,12}"),
        expected in "[a-zA-Z0-9_-]{0,12}",
        iss in proptest::option::of(prop_oneof![Just("https://as.example".to_owned()), url().boxed()]),
        advertised in prop::bool::ANY,
    ) {
        let response = AuthorizationResponse {
            code: "code".into(),
            state: state.clone(),
            iss: iss.clone(),
        };
        let issuer = "https://as.example";
        let ok = check_redirect(&response, &expected, issuer, advertised).is_ok();
        let state_ok = state.as_deref() == Some(expected.as_str());
        let iss_ok = match &iss {
            Some(i) => i.trim_end_matches('/') == issuer,
            None => !advertised,
        };
        prop_assert_eq!(ok, state_ok && iss_ok);
        if let Err(problem) = check_redirect(&response, &expected, issuer, advertised) {
            prop_assert!(clean(&problem.message()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The OAuth and metadata JSON

/// JSON values with the members these documents have, of any type, with hostile strings.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile_text().prop_map(Value::String),
        url().prop_map(Value::String),
        Just(Value::String("S256".into())),
    ];
    let keys = prop::sample::select(vec![
        "issuer", "authorization_endpoint", "token_endpoint", "registration_endpoint",
        "code_challenge_methods_supported", "scopes_supported", "resource",
        "authorization_servers", "access_token", "refresh_token", "expires_in", "scope",
        "token_type", "error", "error_description", "client_id", "client_secret",
        "authorization_response_iss_parameter_supported", "bearer_methods_supported",
    ]);
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..10)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(budget(1500))]

    #[test]
    fn metadata_documents_parse_check_and_explain_cleanly(doc in json(), expected in url()) {
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Ok(m) = serde_json::from_slice::<AuthorizationServerMetadata>(&bytes) {
            if let Err(problem) = m.check(&expected) {
                let message = problem.message();
                prop_assert!(clean(&message), "{message:?}");
            }
        }
        if let Ok(m) = serde_json::from_slice::<ProtectedResourceMetadata>(&bytes) {
            let _ = m.validate();
        }
        let _ = serde_json::from_slice::<ClientRegistrationResponse>(&bytes);
        let _ = serde_json::from_slice::<TokenErrorResponse>(&bytes);
        if let Ok(t) = serde_json::from_slice::<TokenResponse>(&bytes) {
            let _ = t.expires_at(u64::MAX);
            prop_assert!(!format!("{t:?}").contains(t.access_token.expose()) || t.access_token.expose().len() < 2);
        }
    }

    #[test]
    fn a_refused_token_request_is_classified_with_a_clean_reason(
        status in 0u16..1000,
        body in prop_oneof![
            json().prop_map(|v| serde_json::to_vec(&v).unwrap()).boxed(),
            hostile_text().prop_map(String::into_bytes).boxed(),
            prop::collection::vec(any::<u8>(), 0..64).boxed(),
        ],
    ) {
        if let TokenFailure::Transient(why) = classify_token_error(status, &body) {
            prop_assert!(clean(&why), "{why:?}");
            prop_assert!(why.chars().count() < 100, "{why:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The inputs that found bugs, by name (proptest replays its own copies first).

mod found_bugs {
    use super::*;

    /// `127.evil.example` passed as loopback: plain http (tokens in the clear) to anyone.
    #[test]
    fn a_hostname_that_starts_with_127_is_not_loopback() {
        for host in ["127.evil.example", "127.0.0.1.nip.io", "localhost.evil.example"] {
            let u = format!("http://{host}/token");
            assert!(check_url(&u).is_err(), "{u}");
        }
        for ok in ["http://127.0.0.1:9/t", "http://127.5.6.7/t", "http://localhost:1/t", "http://[::1]:2/t"] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
    }

    /// An issuer or endpoint with an escape sequence reached the terminal through the
    /// refusal's message.
    #[test]
    fn metadata_values_are_quoted_in_messages() {
        let m: AuthorizationServerMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://as.example\u{1b}[2J\r\nforged",
            "authorization_endpoint": "https://as.example/a",
            "token_endpoint": "https://as.example/t",
            "code_challenge_methods_supported": ["S256"],
        }))
        .unwrap();
        let message = m.check("https://as.example").unwrap_err().message();
        assert!(clean(&message), "{message:?}");
    }
}
