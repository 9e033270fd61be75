//! The OAuth and metadata JSON

use super::*;
use crate::urls::url;

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
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
        "code_challenge_methods_supported",
        "scopes_supported",
        "resource",
        "authorization_servers",
        "access_token",
        "refresh_token",
        "expires_in",
        "scope",
        "token_type",
        "error",
        "error_description",
        "client_id",
        "client_secret",
        "authorization_response_iss_parameter_supported",
        "bearer_methods_supported",
    ]);
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..10).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(budget(1500))]

    #[test]
    fn metadata_documents_parse_check_and_explain_cleanly(doc in json(), expected in url()) {
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Ok(m) = serde_json::from_slice::<AuthorizationServerMetadata>(&bytes)
            && let Err(problem) = m.check(&expected)
        {
            let message = problem.message();
            prop_assert!(clean(&message), "{message:?}");
        }
        if let Ok(m) = serde_json::from_slice::<ProtectedResourceMetadata>(&bytes) {
            let _ = m.validate();
        }
        let _ = serde_json::from_slice::<ClientRegistrationResponse>(&bytes);
        let _ = serde_json::from_slice::<TokenErrorResponse>(&bytes);
        if let Ok(t) = serde_json::from_slice::<TokenResponse>(&bytes) {
            let _ = t.expires_at(u64::MAX);
            // Secrets never show in Debug (a log line), whatever they hold.
            prop_assert_eq!(format!("{:?}", t.access_token), "Secret([redacted])");
            if let Some(refresh) = &t.refresh_token {
                prop_assert_eq!(format!("{refresh:?}"), "Secret([redacted])");
            }
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
