//! `POST /oauth/token` (authorization code with PKCE, refresh with rotation) and
//! `POST /oauth/revoke` (RFC 7009). Public clients: the client proves itself with the PKCE
//! verifier and its refresh token, never a secret.
//!
//! Rotation follows OAuth 2.1 §4.3.1 (as Cloudflare's workers-oauth-provider and
//! oidc-provider do): every refresh hands out a new refresh token and marks the old one
//! used; presenting a used one again means it was stolen or replayed, so the whole grant
//! dies (every token of it, and its MCP sessions). A code presented twice kills its grant
//! too (RFC 6749 §4.1.2).

use patchbay_proto::Secret;
use patchbay_proto::agents::{ACCESS_TOKEN_SECS, IssuedTokens, REFRESH_TOKEN_SECS, token_key};
use patchbay_proto::oauth::missing_scopes;
use patchbay_proto::pkce::s256_challenge;
use patchbay_proto::secret::{constant_time_eq, random_urlsafe};

use super::db::{self, CodeClaim, Grant, RefreshClaim};
use super::{field, form, oauth_error, resource_url};
use crate::Edge;
use crate::error::ApiError;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::Store;

pub async fn serve<S: Store, U>(req: &EdgeRequest, edge: &Edge<'_, S, U>) -> EdgeResponse {
    if req.method != "POST" {
        return oauth_error(405, "invalid_request", "Use POST with a form body.");
    }
    let form = form(req);
    let result = match field(&form, "grant_type") {
        Some("authorization_code") => exchange_code(edge, &form).await,
        Some("refresh_token") => refresh(req, edge, &form).await,
        _ => Ok(Err(refused(
            "unsupported_grant_type",
            "Use grant_type=authorization_code or refresh_token.",
        ))),
    };
    match result {
        Ok(Ok(tokens)) => EdgeResponse::json(200, &tokens),
        Ok(Err(refusal)) => refusal,
        Err(e) => e.into_response(),
    }
}

fn refused(error: &str, description: &str) -> EdgeResponse {
    oauth_error(400, error, description)
}

type Answer = Result<Result<IssuedTokens, EdgeResponse>, ApiError>;

async fn exchange_code<S: Store, U>(edge: &Edge<'_, S, U>, form: &[(String, String)]) -> Answer {
    let (Some(code), Some(client_id), Some(redirect_uri), Some(verifier)) = (
        field(form, "code"),
        field(form, "client_id"),
        field(form, "redirect_uri"),
        field(form, "code_verifier"),
    ) else {
        return Ok(Err(refused(
            "invalid_request",
            "Send code, client_id, redirect_uri and code_verifier.",
        )));
    };
    let request = match db::claim_code(edge, &token_key(code)).await? {
        CodeClaim::Claimed(r) => r,
        CodeClaim::Reused(grant) => {
            if let Some(g) = grant {
                db::delete_grant(edge, &g).await?;
            }
            return Ok(Err(refused(
                "invalid_grant",
                "This code was already used; its tokens are revoked. Sign in again.",
            )));
        }
        CodeClaim::Invalid => {
            return Ok(Err(refused(
                "invalid_grant",
                "The code is unknown or expired (codes last 60 seconds); sign in again.",
            )));
        }
    };
    let verifier_ok = constant_time_eq(
        s256_challenge(verifier).as_bytes(),
        request.code_challenge.as_bytes(),
    );
    // Exactly the redirect_uri of the authorization request (RFC 6749 §4.1.3).
    if request.client_id != client_id || request.redirect_uri != redirect_uri || !verifier_ok {
        return Ok(Err(refused(
            "invalid_grant",
            "The code was issued to another client, redirect_uri or PKCE verifier; sign in \
             again.",
        )));
    }
    if let Some(resource) = field(form, "resource")
        && resource != request.resource
    {
        return Ok(Err(refused(
            "invalid_target",
            "The resource must be the one the code was issued for (this edge's /mcp).",
        )));
    }
    let grant = Grant {
        id: format!("grt_{}", random_urlsafe(18)),
        client_id: request.client_id,
        scope: request.scope,
        resource: request.resource,
    };
    db::save_grant(edge, &grant, &request.id).await?;
    issue(edge, &grant).await.map(Ok)
}

async fn refresh<S: Store, U>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
    form: &[(String, String)],
) -> Answer {
    let (Some(token), Some(client_id)) = (field(form, "refresh_token"), field(form, "client_id"))
    else {
        return Ok(Err(refused(
            "invalid_request",
            "Send refresh_token and client_id.",
        )));
    };
    let dead = || {
        Err(refused(
            "invalid_grant",
            "The refresh token is unknown, expired or revoked; sign in again.",
        ))
    };
    let grant = match db::use_refresh_token(edge, &token_key(token)).await? {
        RefreshClaim::Rotated(g) => g,
        RefreshClaim::Reused(grant_id) => {
            db::delete_grant(edge, &grant_id).await?;
            return Ok(Err(refused(
                "invalid_grant",
                "This refresh token was already used, so it may have been stolen: every token \
                 of this sign-in is now revoked. Sign in again.",
            )));
        }
        RefreshClaim::Invalid => return Ok(dead()),
    };
    if grant.client_id != client_id {
        return Ok(dead());
    }
    if field(form, "resource").is_some_and(|r| r != resource_url(edge.config, req)) {
        return Ok(Err(refused(
            "invalid_target",
            "The resource must be this edge's /mcp.",
        )));
    }
    // A refresh may narrow the scope (RFC 6749 §6), never widen it.
    let scope = match field(form, "scope") {
        Some(asked) if !missing_scopes(&grant.scope, asked).is_empty() => {
            return Ok(Err(refused(
                "invalid_scope",
                "A refresh cannot add scopes; sign in again to ask for more.",
            )));
        }
        Some(asked) => asked.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
        None => grant.scope.clone(),
    };
    issue(edge, &Grant { scope, ..grant }).await.map(Ok)
}

/// A new access and refresh token for `grant`.
async fn issue<S: Store, U>(
    edge: &Edge<'_, S, U>,
    grant: &Grant,
) -> Result<IssuedTokens, ApiError> {
    let access = Secret::new(format!("pba_{}", random_urlsafe(32)));
    let refresh = Secret::new(format!("pbr_{}", random_urlsafe(32)));
    db::save_token(
        edge,
        &token_key(access.expose()),
        &grant.id,
        "access",
        edge.now + ACCESS_TOKEN_SECS,
    )
    .await?;
    db::save_token(
        edge,
        &token_key(refresh.expose()),
        &grant.id,
        "refresh",
        edge.now + REFRESH_TOKEN_SECS,
    )
    .await?;
    Ok(IssuedTokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECS,
        refresh_token: refresh,
        scope: grant.scope.clone(),
    })
}

/// `POST /oauth/revoke` (RFC 7009): a refresh token takes its whole grant with it, an access
/// token only itself. Unknown tokens are answered 200 too (§2.2), so probing learns nothing.
pub async fn revoke<S: Store, U>(req: &EdgeRequest, edge: &Edge<'_, S, U>) -> EdgeResponse {
    if req.method != "POST" {
        return oauth_error(405, "invalid_request", "Use POST with a form body.");
    }
    let form = form(req);
    let Some(token) = field(&form, "token") else {
        return refused("invalid_request", "Send the token to revoke.");
    };
    let key = token_key(token);
    let result = async {
        if let Some((grant, kind)) = db::token_grant(edge, &key, None).await?
            && field(&form, "client_id").is_none_or(|c| c == grant.client_id)
        {
            if kind == "refresh" {
                db::delete_grant(edge, &grant.id).await?;
            } else {
                db::delete_token(edge, &key).await?;
            }
        }
        Ok::<_, ApiError>(())
    };
    match result.await {
        Ok(()) => EdgeResponse::json(200, &serde_json::json!({})),
        Err(e) => e.into_response(),
    }
}
