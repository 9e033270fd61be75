//! Token connectors (GitHub, Manus, Vercel): request and status bodies, and the checks that
//! can be made on a token without asking its issuer.

use serde::{Deserialize, Deserializer, Serialize};

use crate::Secret;

impl<'de> Deserialize<'de> for Secret {
    /// Secrets arrive in request bodies; they are never serialised back out (no `Serialize`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// `POST /api/connectors/{github|manus|vercel}/token`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaveTokenRequest {
    pub token: Secret,
}

/// A GitHub account as Patchbay reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GithubUser {
    pub login: String,
    pub id: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// `POST /api/connectors/github/token` and `…/reconnect` on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GithubSaved {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::error::schema::always_true))]
    pub ok: bool,
    pub user: GithubUser,
}

/// `GET /api/connectors/{github|manus}/status`: the contract's `{connected, user?}`, plus
/// the last four characters of the token and how it was obtained. Never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// `default` on `Option<U>` would otherwise make serde demand `U: Default` to read one.
#[serde(bound(deserialize = "U: Deserialize<'de>"))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenStatus<U> {
    pub connected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<U>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl<U> TokenStatus<U> {
    pub fn disconnected() -> Self {
        Self {
            connected: false,
            user: None,
            token_hint: None,
            source: None,
        }
    }
}

/// The prefixes GitHub gives its tokens (classic PAT, fine-grained PAT, OAuth, user-to-server,
/// server-to-server, refresh).
pub const GITHUB_TOKEN_PREFIXES: [&str; 6] =
    ["ghp_", "github_pat_", "gho_", "ghu_", "ghs_", "ghr_"];

/// Checks that `token` looks like a GitHub token before spending a request on it. The error
/// is a sentence for the user and never quotes the token.
pub fn check_github_token_shape(token: &str) -> Result<(), String> {
    let token = token.trim();
    if token.is_empty() {
        return Err("Paste a GitHub token; the field is empty.".into());
    }
    let Some(prefix) = GITHUB_TOKEN_PREFIXES
        .iter()
        .find(|p| token.starts_with(**p))
    else {
        return Err(
            "This is not a GitHub token: GitHub tokens start with ghp_, github_pat_, gho_, \
             ghu_, ghs_ or ghr_. Create one at https://github.com/settings/tokens."
                .into(),
        );
    };
    let body = &token[prefix.len()..];
    if body.len() < 20 || body.len() > 255 {
        return Err(format!(
            "This {prefix} token has the wrong length; copy it again, whole."
        ));
    }
    if !body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(
            "This token contains characters GitHub tokens never have (spaces, quotes…); \
             copy it again, whole."
                .into(),
        );
    }
    Ok(())
}

/// A Manus API key: any printable, space-free value of plausible length.
pub fn check_manus_key_shape(key: &str) -> Result<(), String> {
    let key = key.trim();
    if key.is_empty() {
        return Err("Paste a Manus API key; the field is empty.".into());
    }
    if key.len() < 8 || key.len() > 512 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "This does not look like a Manus API key (too short, too long, or with spaces); \
             copy it again from Manus → Settings → API."
                .into(),
        );
    }
    Ok(())
}

/// `POST /api/connectors/github/cli/start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceStart {
    pub session_id: String,
    pub user_code: String,
    pub verification_uri: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
}

/// Where a device flow stands: exactly the contract's three words. A flow that can no
/// longer be approved (it failed, was cancelled or ran out of time) is `expired`; why is its
/// `reason`, and `message` says it in a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Pending,
    Approved,
    Expired,
}

/// `POST /api/connectors/github/cli/poll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevicePoll {
    pub status: DeviceStatus,
    /// Why an `expired` flow ended (Patchbay's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::api::EndReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<GithubUser>,
}

/// Body of `poll` and `cancel`. `wait` (seconds) makes `poll` a long-poll.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceSessionRequest {
    pub session_id: String,
    #[serde(default)]
    pub wait: Option<f64>,
}

/// `POST /api/connectors/{github|manus|vercel}/token` as a client sends it. The dashboard's
/// only way to put a secret on the wire; `SaveTokenRequest` is how a server reads it.
#[derive(Debug, Serialize)]
pub struct SaveTokenBody<'a> {
    pub token: &'a str,
}

/// A Vercel account as the edge reports it (status, token save, OAuth exchange), read from
/// Vercel's `GET /v2/user` (older accounts say `uid`). `email` is `null` when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VercelAccount {
    #[serde(alias = "uid")]
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// `GET /api/connectors/vercel/status`: the token connectors' status, plus when an OAuth
/// access token expires (the edge refreshes it before then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VercelStatus {
    #[serde(flatten)]
    pub token: TokenStatus<VercelAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The last OAuth sign-in that did not connect, until the next sign-in, token or
    /// disconnect: it finished on the edge's `/callback`, where the dashboard cannot see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<VercelSignInFailure>,
}

/// Why a Vercel sign-in did not connect (`reason`), when (`at`, Unix seconds) and what to do
/// (`message`, fixed per reason: nothing of the request is echoed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VercelSignInFailure {
    pub reason: VercelFailureReason,
    pub at: u64,
    pub message: String,
}

impl VercelSignInFailure {
    pub fn new(reason: VercelFailureReason, at: u64) -> Self {
        Self {
            reason,
            at,
            message: reason.message().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum VercelFailureReason {
    /// The person cancelled or refused at Vercel (no code came back).
    Denied,
    /// The approval came back after the sign-in's time was up.
    Expired,
    /// Vercel refused to exchange the code.
    Refused,
    /// Vercel or the edge failed while finishing it.
    Failed,
}

impl VercelFailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Denied, Self::Expired, Self::Refused, Self::Failed]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Denied => {
                "The last Vercel sign-in was cancelled or refused at Vercel. Sign in again \
                 and approve access."
            }
            Self::Expired => {
                "The last Vercel sign-in took too long (it must be finished within 10 \
                 minutes). Sign in again."
            }
            Self::Refused => {
                "Vercel refused the last sign-in when the edge finished it. Sign in again; if \
                 it keeps failing, check the edge's Vercel client settings."
            }
            Self::Failed => {
                "The last Vercel sign-in could not be finished: Vercel or the edge failed. Try \
                 again in a moment."
            }
        }
    }
}

/// `POST /api/connectors/vercel/token`, `…/reconnect` and `…/oauth/exchange` on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VercelSaved {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::error::schema::always_true))]
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<VercelAccount>,
}

/// `GET /api/connectors/vercel/oauth/start`: open `authorize_url` in a new tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthStartResponse {
    pub authorize_url: String,
    pub state: String,
    pub code_verifier_id: String,
}

/// `POST /api/connectors/vercel/oauth/exchange`, when the provider sent the person back to
/// the dashboard (`?code=…&state=…`) instead of the edge's `/callback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthExchangeRequest {
    pub code: String,
    pub state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_shapes() {
        let ok = format!("ghp_{}", "a".repeat(36));
        assert_eq!(check_github_token_shape(&ok), Ok(()));
        assert_eq!(
            check_github_token_shape(&format!("github_pat_{}", "B_1".repeat(27))),
            Ok(())
        );
        for bad in ["", "abc", "ghp_short", "xyz_aaaaaaaaaaaaaaaaaaaaaaaaaaaa"] {
            assert!(check_github_token_shape(bad).is_err(), "{bad}");
        }
        let spaced = format!("ghp_{} x", "a".repeat(30));
        let err = check_github_token_shape(&spaced).unwrap_err();
        assert!(!err.contains("aaaa"), "error quoted the token");
    }

    #[test]
    fn manus_shapes() {
        assert!(check_manus_key_shape("manus_0123456789").is_ok());
        assert!(check_manus_key_shape("short").is_err());
        assert!(check_manus_key_shape("has space in it").is_err());
    }

    #[test]
    fn secrets_deserialise_from_request_bodies() {
        let r: SaveTokenRequest = serde_json::from_str(r#"{"token":"ghp_x"}"#).unwrap();
        assert!(r.token.matches("ghp_x"));
        assert_eq!(
            format!("{r:?}"),
            "SaveTokenRequest { token: Secret([redacted]) }"
        );
    }

    #[test]
    fn vercel_bodies_are_the_contracts() {
        // Seed 003, "4. Vercel", as written there.
        let r: SaveTokenRequest = serde_json::from_str(r#"{ "token": "vercel_..." }"#).unwrap();
        assert!(r.token.matches("vercel_..."));
        assert_eq!(
            serde_json::to_string(&SaveTokenBody {
                token: "vercel_..."
            })
            .unwrap(),
            r#"{"token":"vercel_..."}"#
        );
        let start: OAuthStartResponse = serde_json::from_str(
            r#"{
                "authorize_url": "https://vercel.com/oauth/authorize?...",
                "state":         "...",
                "code_verifier_id": "..."
            }"#,
        )
        .unwrap();
        assert_eq!(start.code_verifier_id, "...");
        let exchange: OAuthExchangeRequest =
            serde_json::from_str(r#"{ "code": "...", "state": "..." }"#).unwrap();
        assert_eq!(
            (exchange.code.as_str(), exchange.state.as_str()),
            ("...", "...")
        );
        // "Same shape as GitHub": `{ connected: bool, user?: {...} }`.
        let status: VercelStatus = serde_json::from_str(r#"{"connected":false}"#).unwrap();
        assert_eq!(
            (status.token, status.expires_at),
            (TokenStatus::disconnected(), None)
        );
        let user: VercelAccount =
            serde_json::from_str(r#"{"uid":"u2","username":"bo","name":"Bo"}"#).unwrap();
        assert_eq!((user.id.as_str(), user.email), ("u2", None));
    }
}
