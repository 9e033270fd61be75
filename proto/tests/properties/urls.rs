//! Server and endpoint URLs, and the redirect's state and iss

use super::*;

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

pub(crate) fn url() -> impl Strategy<Value = String> {
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
