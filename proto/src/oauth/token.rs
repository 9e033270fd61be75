//! The token endpoint: the forms that exchange a code (RFC 6749 §4.1.3), refresh (§6) and
//! revoke (RFC 7009 §2.1), the answers (§5.1, §5.2), what a refusal means for the stored
//! credentials, and when to refresh (time is passed in).

use serde::{Deserialize, Serialize};

use super::{optional_secret, secret};
use crate::Secret;
use crate::pkce::PkceVerifier;

/// How a client authenticates at the token endpoint: a public client sends only its id, a
/// confidential one also its secret in the form (`client_secret_post`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a Secret>,
}

impl ClientAuth<'_> {
    pub(super) fn append(&self, form: &mut form_urlencoded::Serializer<'_, String>) {
        form.append_pair("client_id", self.client_id);
        if let Some(secret) = self.client_secret {
            form.append_pair("client_secret", secret.expose());
        }
    }
}

/// The `application/x-www-form-urlencoded` body that exchanges a code (RFC 6749 §4.1.3).
pub fn authorization_code_form(
    client: ClientAuth<'_>,
    code: &str,
    redirect_uri: &str,
    verifier: &PkceVerifier,
) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier.expose());
    client.append(&mut form);
    form.finish()
}

/// The body that refreshes an access token (RFC 6749 §6).
pub fn refresh_token_form(client: ClientAuth<'_>, refresh_token: &Secret) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", refresh_token.expose());
    client.append(&mut form);
    form.finish()
}

/// The body that revokes a token (RFC 7009 §2.1).
pub fn revocation_form(client: ClientAuth<'_>, token: &Secret, hint: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token.expose())
        .append_pair("token_type_hint", hint);
    client.append(&mut form);
    form.finish()
}

/// A successful token response (RFC 6749 §5.1). Tokens are [`Secret`]s.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    #[serde(deserialize_with = "secret")]
    pub access_token: Secret,
    #[serde(default = "bearer")]
    pub token_type: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Absent when the server does not rotate: keep the refresh token you had.
    #[serde(default, deserialize_with = "optional_secret")]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub scope: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

impl TokenResponse {
    /// When the access token expires, in Unix seconds, given the time the response arrived.
    pub fn expires_at(&self, now: u64) -> Option<u64> {
        self.expires_in.map(|s| now.saturating_add(s))
    }
}

/// An error response from the token endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenErrorResponse {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// Refresh this long before the access token expires, so a request never carries a token
/// that dies on the way.
pub const REFRESH_MARGIN_SECS: u64 = 60;

/// Whether a token that expires at `expires_at` (Unix seconds; `None`: never said) must be
/// refreshed at `now`.
pub fn needs_refresh(expires_at: Option<u64>, now: u64, margin: u64) -> bool {
    expires_at.is_some_and(|t| now.saturating_add(margin) >= t)
}

/// What a failed token request means for the stored credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// The grant (refresh token or code) is dead: sign in again (no new registration).
    InvalidGrant,
    /// The client id is unknown to the server: register again, then sign in.
    InvalidClient,
    /// Network trouble, 5xx, rate limits, anything else: keep everything and retry later.
    Transient(String),
}

/// Classifies a token endpoint answer that was not a success.
pub fn classify_token_error(status: u16, body: &[u8]) -> TokenFailure {
    let parsed: Option<TokenErrorResponse> = serde_json::from_slice(body).ok();
    match parsed.as_ref().map(|e| e.error.as_str()) {
        Some("invalid_grant") if status < 500 => TokenFailure::InvalidGrant,
        Some("invalid_client" | "unauthorized_client") if status < 500 => {
            TokenFailure::InvalidClient
        }
        Some(other) => TokenFailure::Transient(format!("HTTP {status}, error {}", short(other))),
        None => TokenFailure::Transient(format!("HTTP {status}")),
    }
}

fn short(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_forms_carry_verifier_and_client_auth() {
        let verifier = PkceVerifier::from_stored("a".repeat(43)).unwrap();
        let secret = Secret::new("shh & more");
        let form = authorization_code_form(
            ClientAuth {
                client_id: "cl_1",
                client_secret: Some(&secret),
            },
            "co de",
            "https://pb/callback",
            &verifier,
        );
        let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert!(pairs.contains(&("grant_type".into(), "authorization_code".into())));
        assert!(pairs.contains(&("code".into(), "co de".into())));
        assert!(pairs.contains(&("code_verifier".into(), "a".repeat(43))));
        assert!(pairs.contains(&("client_secret".into(), "shh & more".into())));

        let form = refresh_token_form(
            ClientAuth {
                client_id: "cl_1",
                client_secret: None,
            },
            &Secret::new("rt_1"),
        );
        assert_eq!(
            form,
            "grant_type=refresh_token&refresh_token=rt_1&client_id=cl_1"
        );
    }

    #[test]
    fn token_response_parses_and_redacts() {
        let r: TokenResponse = serde_json::from_str(
            r#"{"access_token":"at_secret","token_type":"bearer","expires_in":3600,"refresh_token":"rt_secret","id_token":"x"}"#,
        )
        .unwrap();
        assert_eq!(r.access_token.expose(), "at_secret");
        assert_eq!(r.expires_at(1_000), Some(4_600));
        assert!(!format!("{r:?}").contains("secret\""));
        assert!(!format!("{r:?}").contains("at_secret"));
        let r: TokenResponse = serde_json::from_str(r#"{"access_token":"a"}"#).unwrap();
        assert!(r.refresh_token.is_none());
        assert_eq!(r.token_type, "Bearer");
        assert_eq!(r.expires_at(5), None);
    }

    #[test]
    fn expiry_and_token_errors() {
        assert!(!needs_refresh(None, 100, 60));
        assert!(!needs_refresh(Some(1000), 100, 60));
        assert!(needs_refresh(Some(150), 100, 60));
        assert!(needs_refresh(Some(50), 100, 60));
        assert_eq!(
            classify_token_error(400, br#"{"error":"invalid_grant"}"#),
            TokenFailure::InvalidGrant
        );
        assert_eq!(
            classify_token_error(401, br#"{"error":"invalid_client"}"#),
            TokenFailure::InvalidClient
        );
        assert!(matches!(
            classify_token_error(503, b"<html>"),
            TokenFailure::Transient(_)
        ));
        assert!(matches!(
            classify_token_error(500, br#"{"error":"invalid_grant"}"#),
            TokenFailure::Transient(_)
        ));
    }
}
