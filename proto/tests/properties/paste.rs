//! The pasted redirect

use super::*;

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
