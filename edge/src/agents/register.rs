//! `POST /oauth/register`: Dynamic Client Registration (RFC 7591) for public clients. Only
//! `https` redirect URIs, or `http` to loopback (RFC 8252); the number of clients nobody has
//! approved yet is bounded, so registrations cannot fill D1.

use patchbay_proto::agents::{
    RegisteredClient, RegistrationInput, check_redirect_uri, parse_scope,
};
use patchbay_proto::secret::random_urlsafe;

use super::db::{self, Client};
use super::oauth_error;
use crate::Edge;
use crate::error::ApiError;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::Store;

/// At most this many registered clients wait for a first approval at once.
pub const MAX_UNAPPROVED: u64 = 100;
/// An unapproved registration is forgotten after a day.
const UNAPPROVED_SECS: u64 = 24 * 3600;
const MAX_BODY: usize = 16 * 1024;
const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2000;
const MAX_NAME_CHARS: usize = 80;

pub async fn serve<S: Store, U>(req: &EdgeRequest, edge: &Edge<'_, S, U>) -> EdgeResponse {
    if req.method != "POST" {
        return ApiError::bad_request("Register with POST and a JSON body (RFC 7591).")
            .into_response();
    }
    register(req, edge)
        .await
        .unwrap_or_else(ApiError::into_response)
}

fn refused(description: &str) -> EdgeResponse {
    oauth_error(400, "invalid_client_metadata", description)
}

async fn register<S: Store, U>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> Result<EdgeResponse, ApiError> {
    if req.body.len() > MAX_BODY {
        return Ok(refused(
            "The registration is larger than 16 KiB; send less.",
        ));
    }
    let Ok(input) = serde_json::from_slice::<RegistrationInput>(&req.body) else {
        return Ok(refused(
            "Send a JSON registration like {\"client_name\": \"…\", \"redirect_uris\": [\"https://…\"]}.",
        ));
    };
    if input.redirect_uris.is_empty() || input.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Ok(oauth_error(
            400,
            "invalid_redirect_uri",
            "Register between 1 and 10 redirect_uris.",
        ));
    }
    for uri in &input.redirect_uris {
        if uri.len() > MAX_URI_LEN || check_redirect_uri(uri).is_err() {
            return Ok(oauth_error(
                400,
                "invalid_redirect_uri",
                "Every redirect URI must be https, or http to this machine (127.0.0.1, [::1] \
                 or localhost), with no fragment.",
            ));
        }
    }
    if let Some(grants) = &input.grant_types
        && grants
            .iter()
            .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return Ok(refused(
            "Only the authorization_code and refresh_token grants are offered.",
        ));
    }
    let scope = match parse_scope(input.scope.as_deref().unwrap_or("")) {
        Ok(scopes) => scopes.join(" "),
        Err(unknown) => {
            return Ok(refused(&format!(
                "Unknown scope {unknown}; ask for connections:read and/or vercel:read."
            )));
        }
    };
    let waiting = db::prune_unapproved(edge, edge.now.saturating_sub(UNAPPROVED_SECS)).await?;
    if waiting >= MAX_UNAPPROVED {
        return Err(ApiError::insufficient_storage(
            "Too many agents are registered and waiting for approval; approve, deny or wait \
             a day for old registrations to expire, then register again.",
        ));
    }
    let client = Client {
        client_id: format!("pbc_{}", random_urlsafe(18)),
        client_name: client_name(input.client_name.as_deref()),
        redirect_uris: input.redirect_uris,
        source: "dcr",
    };
    db::save_client(edge, &client).await?;
    Ok(EdgeResponse::json(
        201,
        &RegisteredClient {
            client_id: client.client_id,
            client_id_issued_at: edge.now,
            client_name: client.client_name,
            redirect_uris: client.redirect_uris,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            // Public clients only: PKCE protects the code, no secret is handed out.
            token_endpoint_auth_method: "none".into(),
            scope,
        },
    ))
}

/// A name fit to show: printable, trimmed, bounded.
pub fn client_name(name: Option<&str>) -> String {
    let clean: String = name
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "Unnamed agent".into()
    } else {
        clean.to_owned()
    }
}
