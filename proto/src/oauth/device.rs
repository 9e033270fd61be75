//! The device authorization grant (RFC 8628): the request that yields a user code, the
//! token polls, and what each poll answer means. The client sleeps `interval` seconds
//! between polls and 5 more after each `slow_down` (§3.5).

use serde::Deserialize;

use super::secret;
use super::token::{ClientAuth, TokenErrorResponse, TokenFailure, classify_token_error};
use crate::Secret;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// §3.2: the interval when the server names none.
pub const DEFAULT_INTERVAL_SECS: u64 = 5;
/// §3.5: what each `slow_down` adds to the interval.
pub const SLOW_DOWN_SECS: u64 = 5;

/// The device authorization request body (§3.1); `scope` is omitted when empty.
pub fn device_authorization_form(client: ClientAuth<'_>, scope: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    client.append(&mut form);
    if !scope.is_empty() {
        form.append_pair("scope", scope);
    }
    form.finish()
}

/// One token poll (§3.4).
pub fn device_token_form(client: ClientAuth<'_>, device_code: &Secret) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", DEVICE_CODE_GRANT)
        .append_pair("device_code", device_code.expose());
    client.append(&mut form);
    form.finish()
}

/// The device authorization response (§3.2).
#[derive(Debug, Deserialize)]
pub struct DeviceAuthorizationResponse {
    #[serde(deserialize_with = "secret")]
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default)]
    pub interval: Option<u64>,
}

/// What a token poll that did not succeed means (§3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// The person has not approved yet: poll again after the interval.
    Pending,
    /// Poll again, 5 seconds slower from now on.
    SlowDown,
    /// The person said no.
    Denied,
    /// The code expired before approval: start again.
    Expired,
    /// Anything else (as for other token requests).
    Failed(TokenFailure),
}

pub fn classify_device_poll(status: u16, body: &[u8]) -> DevicePoll {
    let error = serde_json::from_slice::<TokenErrorResponse>(body)
        .ok()
        .filter(|_| status < 500)
        .map(|e| e.error);
    match error.as_deref() {
        Some("authorization_pending") => DevicePoll::Pending,
        Some("slow_down") => DevicePoll::SlowDown,
        Some("access_denied") => DevicePoll::Denied,
        Some("expired_token") => DevicePoll::Expired,
        _ => DevicePoll::Failed(classify_token_error(status, body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_answers() {
        let client = ClientAuth {
            client_id: "c1",
            client_secret: None,
        };
        assert_eq!(
            device_authorization_form(client, "a b"),
            "client_id=c1&scope=a+b"
        );
        assert_eq!(device_authorization_form(client, ""), "client_id=c1");
        let form = device_token_form(client, &Secret::new("dc/1"));
        assert_eq!(
            form,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc%2F1&client_id=c1"
        );
        let r: DeviceAuthorizationResponse = serde_json::from_str(
            r#"{"device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"https://as/device","expires_in":600}"#,
        )
        .unwrap();
        assert_eq!(r.user_code, "ABCD-EFGH");
        assert!(r.interval.is_none());
        assert!(!format!("{r:?}").contains("\"dc\""));
    }

    #[test]
    fn poll_answers_are_classified() {
        let poll = |s, e: &str| classify_device_poll(s, format!(r#"{{"error":"{e}"}}"#).as_bytes());
        assert_eq!(poll(400, "authorization_pending"), DevicePoll::Pending);
        assert_eq!(poll(400, "slow_down"), DevicePoll::SlowDown);
        assert_eq!(poll(400, "access_denied"), DevicePoll::Denied);
        assert_eq!(poll(400, "expired_token"), DevicePoll::Expired);
        assert_eq!(
            poll(400, "invalid_grant"),
            DevicePoll::Failed(TokenFailure::InvalidGrant)
        );
        assert!(matches!(
            poll(503, "slow_down"),
            DevicePoll::Failed(TokenFailure::Transient(_))
        ));
    }
}
