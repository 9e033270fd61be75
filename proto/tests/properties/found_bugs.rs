//! The inputs that found bugs, by name (proptest replays its own copies first).

use super::*;

/// `127.evil.example` passed as loopback: plain http (tokens in the clear) to anyone.
#[test]
fn a_hostname_that_starts_with_127_is_not_loopback() {
    for host in [
        "127.evil.example",
        "127.0.0.1.nip.io",
        "localhost.evil.example",
    ] {
        let u = format!("http://{host}/token");
        assert!(check_url(&u).is_err(), "{u}");
    }
    for ok in [
        "http://127.0.0.1:9/t",
        "http://127.5.6.7/t",
        "http://localhost:1/t",
        "http://[::1]:2/t",
    ] {
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

/// A value with a line break (a Graph drive id, a token) wrote lines of its own into
/// rclone.conf: a new remote, or options of another one.
#[test]
fn a_value_with_a_line_break_is_not_written_into_rclone_conf() {
    let conf = "[keep]\ntype = drive\n";
    for value in ["x\n[evil]\ntype = local", "\r\n!", "a\rb", "tab\there"] {
        let refused = upsert_section(conf, "a", &[("type", "drive"), ("drive_id", value)]);
        assert_eq!(refused.unwrap_err().key, "drive_id", "{value:?}");
    }
    assert!(upsert_section(conf, "a", &[("bad key", "v")]).is_err());
    assert!(upsert_section(conf, "a", &[("[x]", "v")]).is_err());
    let written = upsert_section(conf, "a", &[("type", "drive"), ("token", "{\"a\": 1}")]);
    assert_eq!(
        written.unwrap(),
        "[keep]\ntype = drive\n\n[a]\ntype = drive\ntoken = {\"a\": 1}\n"
    );
}

/// A bare code holding `://` was taken for a URL without a query, so "no code".
#[test]
fn a_bare_code_with_a_scheme_separator_is_a_code() {
    assert_eq!(parse_pasted_redirect("://_").unwrap().code, "://_");
    assert_eq!(
        parse_pasted_redirect("4/0A://b+c").unwrap().code,
        "4/0A://b+c"
    );
    let url = parse_pasted_redirect("HTTP://127.0.0.1:53682/?code=4%2F0Ab&state=s").unwrap();
    assert_eq!(url.code, "4/0Ab");
}

/// `127.256.0.0` is no address at all, yet it passed as loopback.
#[test]
fn a_dotted_name_that_is_not_an_address_is_not_loopback() {
    assert!(check_url("HTTP://127.256.0.0").is_err());
    assert!(check_url("http://127.0.0.1.").is_err());
}
