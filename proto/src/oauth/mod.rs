//! OAuth 2.x as a client meets it, without I/O: discovery documents and where to find them
//! (RFC 9728, RFC 8414), the `WWW-Authenticate` challenge, the authorization URL with PKCE,
//! Dynamic Client Registration (RFC 7591), the token endpoint's forms and answers, what a
//! refusal means, and when to refresh. The MCP client (`crate::mcp`, driven by the helper)
//! and the edge's Vercel connector both sign in with these.
//!
//! Forms are built with `form_urlencoded`, never by concatenating strings; every URL an
//! endpoint may have passes [`check_url`].

mod authorize;
mod challenge;
mod device;
mod metadata;
mod registration;
mod scope;
mod token;
mod url;

use serde::{Deserialize, Deserializer};

pub use authorize::AuthorizationRequest;
pub use challenge::{BearerChallenge, parse_bearer_challenge};
pub use device::{
    DEFAULT_INTERVAL_SECS, DEVICE_CODE_GRANT, DeviceAuthorizationResponse, DevicePoll,
    SLOW_DOWN_SECS, classify_device_poll, device_authorization_form, device_token_form,
};
pub use metadata::{
    AuthorizationServerMetadata, MetadataError, MetadataProblem, ProtectedResourceMetadata,
    authorization_server_metadata_urls, protected_resource_metadata_path,
    protected_resource_metadata_urls,
};
pub use registration::{
    ClientMetadataDocument, ClientRegistrationRequest, ClientRegistrationResponse,
};
pub use scope::{OFFLINE_ACCESS, missing_scopes, scope_tokens, scope_union, with_offline_access};
pub use token::{
    ClientAuth, REFRESH_MARGIN_SECS, TokenErrorResponse, TokenFailure, TokenResponse,
    authorization_code_form, classify_token_error, needs_refresh, refresh_token_form,
    revocation_form,
};
pub use url::{HttpUrl, UrlError, check_url};

use crate::Secret;

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

/// An empty string is no secret (some servers send `"client_secret": ""`).
fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .filter(|s| !s.is_empty())
        .map(Secret::new))
}
