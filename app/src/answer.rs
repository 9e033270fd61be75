//! Reading the helper's answers.
//!
//! proto owns every answer's type; the dashboard reads each as a `serde_json::Value` and picks
//! the few fields a card shows, by the names those types serialize to. One deserializer (the
//! `Value` one) in the wasm instead of one per answer type: those were 30 KB of the wasm for
//! sixteen types, each card needing two or three of their fields. Every card's `state`
//! function is unit-tested on answers made by serializing proto's own types, so a renamed
//! field fails a test instead of a card.

use patchbay_proto::api::{EndReason, FlowStatus};
use patchbay_proto::mcp::TokenState;
use patchbay_proto::tokens::{DevicePoll, DeviceStatus, GithubUser};
pub use serde_json::Value;

/// The string at `field`, when there is one.
pub fn str<'a>(answer: &'a Value, field: &str) -> Option<&'a str> {
    answer.get(field)?.as_str()
}

/// The string at `field` as an owned `String`, when there is one.
pub fn text(answer: &Value, field: &str) -> Option<String> {
    str(answer, field).map(str::to_owned)
}

/// The boolean at `field`; absent reads as `false`.
pub fn flag(answer: &Value, field: &str) -> bool {
    answer.get(field).and_then(Value::as_bool).unwrap_or(false)
}

/// The whole number at `field`, when there is one.
pub fn number(answer: &Value, field: &str) -> Option<u64> {
    answer.get(field)?.as_u64()
}

/// The list at `field`; absent reads as empty.
pub fn items<'a>(answer: &'a Value, field: &str) -> &'a [Value] {
    answer
        .get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The list of strings at `field` (scopes, settings).
pub fn words(answer: &Value, field: &str) -> Vec<String> {
    items(answer, field)
        .iter()
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect()
}

/// The object at `field`, when it is one (`user`, `setup`, `last_failure`).
pub fn object<'a>(answer: &'a Value, field: &str) -> Option<&'a Value> {
    answer.get(field).filter(|v| v.is_object())
}

/// A session's `status` word.
pub fn flow_status(answer: &Value, field: &str) -> Option<FlowStatus> {
    use FlowStatus::*;
    let word = str(answer, field)?;
    [Pending, AwaitingOauth, Completed, Error]
        .into_iter()
        .find(|s| s.as_str() == word)
}

/// A flow's `reason` word.
pub fn end_reason(answer: &Value, field: &str) -> Option<EndReason> {
    use EndReason::*;
    let word = str(answer, field)?;
    [Failed, Cancelled, Expired]
        .into_iter()
        .find(|r| r.as_str() == word)
}

/// An MCP server's `token_state` word.
pub fn token_state(answer: &Value, field: &str) -> Option<TokenState> {
    use TokenState::*;
    Some(match str(answer, field)? {
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
    let status = match str(answer, "status")? {
        "pending" => Pending,
        "approved" => Approved,
        "expired" => Expired,
        _ => return None,
    };
    Some(DevicePoll {
        status,
        reason: end_reason(answer, "reason"),
        message: text(answer, "message"),
        user: object(answer, "user").and_then(github_user),
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
        assert!(flag(object(&v, "o").unwrap(), "k"));
        assert!(object(&v, "a").is_none());
        assert!(!flag(&v, "missing"));
    }
}
