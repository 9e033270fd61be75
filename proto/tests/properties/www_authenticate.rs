//! WWW-Authenticate

use super::*;

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
