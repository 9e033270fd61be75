//! What a client says about itself: the Dynamic Client Registration request (RFC 7591), the
//! little Patchbay keeps of its answer, and the Client ID Metadata Document (CIMD), the same
//! metadata published at the URL that is the client's id.

use serde::{Deserialize, Serialize};

use super::optional_secret;
use crate::Secret;

/// A Dynamic Client Registration request (RFC 7591 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistrationRequest {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// OpenID Connect Registration §2: `native` for loopback clients (the default, `web`,
    /// makes OpenID servers refuse `http://127.0.0.1` redirects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
}

impl ClientRegistrationRequest {
    /// A web client that uses the authorization code grant with refresh tokens.
    pub fn authorization_code(client_name: &str, redirect_uri: &str, scope: &str) -> Self {
        Self {
            client_name: client_name.into(),
            redirect_uris: vec![redirect_uri.into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: "client_secret_post".into(),
            scope: (!scope.is_empty()).then(|| scope.into()),
            application_type: None,
        }
    }
}

/// A Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document): served at
/// the URL that is its `client_id`; the authorization server fetches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadataDocument {
    /// The document's own URL, exactly.
    pub client_id: String,
    pub client_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
}

/// A Dynamic Client Registration response (RFC 7591 §3.2.1): only what Patchbay keeps.
#[derive(Debug, Deserialize)]
pub struct ClientRegistrationResponse {
    pub client_id: String,
    #[serde(default, deserialize_with = "optional_secret")]
    pub client_secret: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_request_is_a_code_flow_client() {
        let r =
            ClientRegistrationRequest::authorization_code("Patchbay", "https://pb/callback", "");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["redirect_uris"][0], "https://pb/callback");
        assert_eq!(v["grant_types"][1], "refresh_token");
        assert!(v.get("scope").is_none());
        let resp: ClientRegistrationResponse =
            serde_json::from_str(r#"{"client_id":"cl_9","client_secret":""}"#).unwrap();
        assert!(resp.client_secret.is_none());
    }
}
