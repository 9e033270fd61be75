//! Reading the helper's answers.
//!
//! proto owns every answer's type; the dashboard reads each as a [`Value`] and picks the few
//! fields a card shows, by the names those types serialize to. In the browser a `Value` is
//! what the browser's own `JSON.parse` made, read field by field through `js_sys`: no JSON
//! parser in the wasm (serde_json's deserializer and its `Value` were 8 KiB of the gzipped
//! wasm; one typed deserializer per answer type, before that, was 30 KB for sixteen types).
//! Natively a `Value` is serde_json's, so every reader and every card's `state` function is
//! unit-tested on answers made by serializing proto's own types: a renamed field fails a test
//! instead of a card. The two sides share everything but the primitives in `raw`.

use patchbay_proto::api::{EndReason, FlowStatus};
use patchbay_proto::mcp::TokenState;
use patchbay_proto::tokens::{DevicePoll, DeviceStatus, GithubUser};
pub use raw::Value;

/// The primitives: what a field holds, read from the browser's JSON values.
#[cfg(target_arch = "wasm32")]
mod raw {
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{JsCast, JsValue};

    /// A JSON value as the browser parsed it. Signals need `Send + Sync`; the wasm has one
    /// thread, which `SendWrapper` checks rather than assumes.
    #[derive(Clone)]
    pub struct Value(SendWrapper<JsValue>);

    impl Value {
        fn new(v: JsValue) -> Self {
            Self(SendWrapper::new(v))
        }
    }

    pub fn parse(text: &str) -> Option<Value> {
        js_sys::JSON::parse(text).ok().map(Value::new)
    }

    pub fn null() -> Value {
        Value::new(JsValue::NULL)
    }

    pub fn is_null(v: &Value) -> bool {
        v.0.is_null()
    }

    /// `field` of an object (not of an array, and not a `null` field).
    pub fn get(v: &Value, field: &str) -> Option<Value> {
        if !is_object(v) {
            return None;
        }
        let f = js_sys::Reflect::get(&v.0, &JsValue::from_str(field)).ok()?;
        (!f.is_undefined() && !f.is_null()).then(|| Value::new(f))
    }

    pub fn string(v: &Value) -> Option<String> {
        v.0.as_string()
    }

    pub fn boolean(v: &Value) -> Option<bool> {
        v.0.as_bool()
    }

    /// A whole, non-negative number that a double holds exactly (as serde_json's `as_u64`).
    pub fn whole(v: &Value) -> Option<u64> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        v.0.as_f64()
            .filter(|n| n.fract() == 0.0 && (0.0..=EXACT).contains(n))
            .map(|n| n as u64)
    }

    pub fn list(v: &Value) -> Option<Vec<Value>> {
        let array = v.0.dyn_ref::<js_sys::Array>()?;
        Some(array.iter().map(Value::new).collect())
    }

    pub fn is_list(v: &Value) -> bool {
        js_sys::Array::is_array(&v.0)
    }

    pub fn is_object(v: &Value) -> bool {
        v.0.is_object() && !is_list(v)
    }
}

/// The primitives natively: serde_json's `Value`, which the tests build from proto's types.
#[cfg(not(target_arch = "wasm32"))]
mod raw {
    pub use serde_json::Value;

    pub fn parse(text: &str) -> Option<Value> {
        serde_json::from_str(text).ok()
    }

    pub fn null() -> Value {
        Value::Null
    }

    pub fn is_null(v: &Value) -> bool {
        v.is_null()
    }

    pub fn get(v: &Value, field: &str) -> Option<Value> {
        v.get(field).filter(|f| !f.is_null()).cloned()
    }

    pub fn string(v: &Value) -> Option<String> {
        v.as_str().map(str::to_owned)
    }

    pub fn boolean(v: &Value) -> Option<bool> {
        v.as_bool()
    }

    pub fn whole(v: &Value) -> Option<u64> {
        v.as_u64()
    }

    pub fn list(v: &Value) -> Option<Vec<Value>> {
        v.as_array().cloned()
    }

    pub fn is_list(v: &Value) -> bool {
        v.is_array()
    }

    pub fn is_object(v: &Value) -> bool {
        v.is_object()
    }
}

/// An answer's text (JSON); `None` when it is not JSON.
pub fn parse(text: &str) -> Option<Value> {
    raw::parse(text)
}

/// The answer of a read that was not made (JSON's `null`).
pub fn nothing() -> Value {
    raw::null()
}

/// Whether the answer is JSON's `null` (a read that was not made, or a 204).
pub fn is_nothing(answer: &Value) -> bool {
    raw::is_null(answer)
}

/// The string at `field`, when there is one.
pub fn text(answer: &Value, field: &str) -> Option<String> {
    raw::string(&raw::get(answer, field)?)
}

/// The boolean at `field`; absent reads as `false`.
pub fn flag(answer: &Value, field: &str) -> bool {
    raw::get(answer, field)
        .and_then(|f| raw::boolean(&f))
        .unwrap_or(false)
}

/// The whole number at `field`, when there is one.
pub fn number(answer: &Value, field: &str) -> Option<u64> {
    raw::whole(&raw::get(answer, field)?)
}

/// Whether `field` holds a list (the overview's `connectors`).
pub fn has_list(answer: &Value, field: &str) -> bool {
    raw::get(answer, field).is_some_and(|f| raw::is_list(&f))
}

/// The list at `field`; absent reads as empty.
pub fn items(answer: &Value, field: &str) -> Vec<Value> {
    raw::get(answer, field)
        .and_then(|f| raw::list(&f))
        .unwrap_or_default()
}

/// The list of strings at `field` (scopes, settings).
pub fn words(answer: &Value, field: &str) -> Vec<String> {
    items(answer, field)
        .iter()
        .filter_map(raw::string)
        .collect()
}

/// The object at `field`, when it is one (`user`, `setup`, `last_failure`).
pub fn object(answer: &Value, field: &str) -> Option<Value> {
    raw::get(answer, field).filter(raw::is_object)
}

/// A session's `status` word.
pub fn flow_status(answer: &Value, field: &str) -> Option<FlowStatus> {
    use FlowStatus::*;
    let word = text(answer, field)?;
    [Pending, AwaitingOauth, Completed, Error]
        .into_iter()
        .find(|s| s.as_str() == word)
}

/// A flow's `reason` word.
pub fn end_reason(answer: &Value, field: &str) -> Option<EndReason> {
    use EndReason::*;
    let word = text(answer, field)?;
    [Failed, Cancelled, Expired]
        .into_iter()
        .find(|r| r.as_str() == word)
}

/// An MCP server's `token_state` word.
pub fn token_state(answer: &Value, field: &str) -> Option<TokenState> {
    use TokenState::*;
    Some(match text(answer, field)?.as_str() {
        "valid" => Valid,
        "expired" => Expired,
        "reauthorization_required" => ReauthorizationRequired,
        "missing" => Missing,
        _ => return None,
    })
}

/// `POST /api/connectors/github/cli/poll`'s answer; `None` when it is not one.
pub fn device_poll(answer: &Value) -> Option<DevicePoll> {
    use DeviceStatus::*;
    let status = match text(answer, "status")?.as_str() {
        "pending" => Pending,
        "approved" => Approved,
        "expired" => Expired,
        _ => return None,
    };
    Some(DevicePoll {
        status,
        reason: end_reason(answer, "reason"),
        message: text(answer, "message"),
        user: object(answer, "user").as_ref().and_then(github_user),
    })
}

/// A `GithubUser` (a status's or a poll's `user`).
pub fn github_user(user: &Value) -> Option<GithubUser> {
    Some(GithubUser {
        login: text(user, "login")?,
        id: number(user, "id").unwrap_or_default(),
        scopes: words(user, "scopes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(v: impl serde::Serialize) -> Value {
        serde_json::json!({ "w": v })
    }

    #[test]
    fn every_word_proto_writes_reads_back() {
        use FlowStatus::*;
        for s in [Pending, AwaitingOauth, Completed, Error] {
            assert_eq!(flow_status(&wire(s), "w"), Some(s));
        }
        for r in [EndReason::Failed, EndReason::Cancelled, EndReason::Expired] {
            assert_eq!(end_reason(&wire(r), "w"), Some(r));
        }
        use TokenState::*;
        for t in [Valid, Expired, ReauthorizationRequired, Missing] {
            assert_eq!(token_state(&wire(t), "w"), Some(t));
        }
        assert_eq!(token_state(&wire("valid-ish"), "w"), None);
    }

    #[test]
    fn a_device_poll_reads_as_proto_wrote_it() {
        for poll in [
            DevicePoll {
                status: DeviceStatus::Approved,
                reason: None,
                message: None,
                user: Some(GithubUser {
                    login: "octocat".into(),
                    id: 1,
                    scopes: vec!["repo".into()],
                }),
            },
            DevicePoll {
                status: DeviceStatus::Expired,
                reason: Some(EndReason::Failed),
                message: Some("GitHub said no.".into()),
                user: None,
            },
            DevicePoll {
                status: DeviceStatus::Pending,
                reason: None,
                message: None,
                user: None,
            },
        ] {
            let answer = serde_json::to_value(&poll).unwrap();
            assert_eq!(device_poll(&answer), Some(poll));
        }
        assert_eq!(device_poll(&serde_json::json!({"status": "maybe"})), None);
    }

    #[test]
    fn absent_fields_read_as_nothing() {
        let v = serde_json::json!({"a": "x", "n": 3, "l": ["p", 1, "q"], "o": {"k": true}});
        assert_eq!(text(&v, "a").as_deref(), Some("x"));
        assert_eq!(text(&v, "n"), None);
        assert_eq!(number(&v, "n"), Some(3));
        assert_eq!(words(&v, "l"), ["p", "q"]);
        assert!(items(&v, "missing").is_empty());
        assert!(flag(&object(&v, "o").unwrap(), "k"));
        assert!(has_list(&v, "l") && !has_list(&v, "o"));
        assert_eq!(text(&serde_json::json!({"a": null}), "a"), None);
        assert_eq!(parse("{\"a\": 1}").map(|v| number(&v, "a")), Some(Some(1)));
        assert!(parse("{\"a\": ").is_none());
        assert!(object(&v, "a").is_none());
        assert!(!flag(&v, "missing"));
    }
}
