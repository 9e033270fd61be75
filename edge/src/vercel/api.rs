//! Vercel's HTTP API as the connector uses it: whose a token is (`GET /v2/user`), the token
//! endpoint, Dynamic Client Registration (RFC 7591) and revocation (RFC 7009). Requests go
//! through the [`Upstream`] seam; answers become proto's types, or an [`ApiError`] that says
//! what to do.

use patchbay_proto::Secret;
use patchbay_proto::oauth::{
    ClientRegistrationRequest, ClientRegistrationResponse, TokenFailure, TokenResponse,
    classify_token_error, revocation_form,
};
use patchbay_proto::tokens::VercelAccount;
use serde::Deserialize;

use super::db::OAuthClient;
use crate::Edge;
use crate::error::ApiError;
use crate::upstream::{Upstream, UpstreamRequest};

/// What `GET /v2/user` said about a token.
pub enum Validation {
    Valid(VercelAccount),
    Rejected(u16),
}

pub async fn user<S, U: Upstream>(
    edge: &Edge<'_, S, U>,
    token: &Secret,
) -> Result<Validation, ApiError> {
    let url = format!("{}/v2/user", edge.config.vercel.api_url);
    let res = edge
        .upstream
        .send(UpstreamRequest::get(url).bearer(token.expose()))
        .await?;
    match res.status {
        200..=299 => {
            #[derive(Deserialize)]
            struct Body {
                user: VercelAccount,
            }
            let body: Body = serde_json::from_slice(&res.body).map_err(|_| {
                ApiError::upstream("Vercel's /v2/user answer was not understood; try again later.")
            })?;
            Ok(Validation::Valid(body.user))
        }
        401 | 403 => Ok(Validation::Rejected(res.status)),
        s => Err(ApiError::upstream(format!(
            "Vercel answered HTTP {s} when checking the token; try again in a moment."
        ))),
    }
}

/// Posts a token request. `Err` inside: Vercel did not issue a token, and what that means
/// (the MCP client's classification, `patchbay_proto::oauth`).
pub async fn token<S, U: Upstream>(
    edge: &Edge<'_, S, U>,
    form: String,
) -> Result<Result<TokenResponse, TokenFailure>, ApiError> {
    let res = edge
        .upstream
        .send(UpstreamRequest::post_form(
            edge.config.vercel.token_url.clone(),
            form,
        ))
        .await?;
    if !(200..300).contains(&res.status) {
        return Ok(Err(classify_token_error(res.status, &res.body)));
    }
    serde_json::from_slice(&res.body).map(Ok).map_err(|_| {
        ApiError::upstream("Vercel's token answer was not understood; try again later.")
    })
}

/// The error for a [`TokenFailure::Transient`]: Vercel's trouble, not the grant's.
pub fn token_endpoint_failed(why: &str) -> ApiError {
    ApiError::upstream(format!(
        "Vercel's token endpoint answered {why}; try again in a moment."
    ))
}

/// Registers Patchbay as a confidential web client for `redirect_uri`.
pub async fn register<S, U: Upstream>(
    edge: &Edge<'_, S, U>,
    redirect_uri: &str,
) -> Result<ClientRegistrationResponse, ApiError> {
    let request = ClientRegistrationRequest::authorization_code(
        "Patchbay",
        redirect_uri,
        &edge.config.vercel.scopes,
    );
    let res = edge
        .upstream
        .send(UpstreamRequest::post_json(
            edge.config.vercel.register_url.clone(),
            serde_json::to_vec(&request).unwrap_or_default(),
        ))
        .await?;
    if !(200..300).contains(&res.status) {
        return Err(ApiError::upstream(format!(
            "Vercel refused to register Patchbay as an OAuth client (HTTP {}). Create a client \
             by hand and run `npx wrangler secret put VERCEL_CLIENT_ID` (and \
             VERCEL_CLIENT_SECRET).",
            res.status
        )));
    }
    serde_json::from_slice(&res.body)
        .map_err(|_| ApiError::upstream("Vercel's client registration answer was not understood."))
}

/// Revokes one token; whether Vercel confirmed it.
pub async fn revoke<S, U: Upstream>(
    edge: &Edge<'_, S, U>,
    client: &OAuthClient,
    token: &Secret,
    hint: &str,
) -> bool {
    let mut req = UpstreamRequest::post_form(
        edge.config.vercel.revoke_url.clone(),
        revocation_form(client.auth(), token, hint),
    );
    if let Some(secret) = &client.client_secret {
        req.headers
            .push(("authorization", basic_auth(&client.client_id, secret)));
    }
    matches!(edge.upstream.send(req).await, Ok(r) if (200..300).contains(&r.status))
}

/// `client_secret_basic` (RFC 6749 §2.3.1), which Vercel's revocation endpoint asks for.
fn basic_auth(client_id: &str, secret: &Secret) -> String {
    use base64::Engine as _;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
