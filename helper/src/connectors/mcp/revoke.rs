//! Signing out: RFC 7009 revocation at the authorization server (the refresh token first, so
//! the grant cannot mint new access tokens, then the access token), and the local entry
//! removed whatever the server said. Shared by `patchbay mcp logout` and the dashboard's
//! remove (`DELETE /api/connectors/mcp/servers/{id}`).

use patchbay_proto::mcp::{McpRemoved, Revocation, revoke_forms};
use patchbay_proto::oauth::ClientAuth;

use super::discovery::fetch_metadata;
use super::login::{Ctx, token_request};
use super::store::{ServerEntry, client_of};
use crate::ApiError;
use crate::engine::store::{blocking, now_unix};

/// Signs out of `url`: `None` when Patchbay has no entry for it.
pub async fn sign_out(ctx: &Ctx, url: &str) -> Result<Option<McpRemoved>, ApiError> {
    let files = ctx.files.clone();
    let (tokens, clients) =
        blocking(move || Ok((files.tokens.read()?, files.clients.read()?))).await?;
    if !tokens.contains_key(url) {
        return Ok(None);
    }
    let entry = ServerEntry::find(&tokens, url);
    let revocation = match &entry {
        Some(e) => revoke(ctx, e, client_of(&clients, &e.issuer)).await,
        // An entry another tool wrote: nothing Patchbay knows how to revoke.
        None => Outcome(Revocation::NothingToRevoke, String::new()),
    };
    let store = ctx.files.tokens.clone();
    let key = url.to_owned();
    blocking(move || store.update(|e| e.remove(&key))).await?;
    let Outcome(revocation, why) = revocation;
    let message = match revocation {
        Revocation::Revoked => format!(
            "Signed out of {url}: the authorization server revoked the sign-in, and its tokens \
             were removed here."
        ),
        Revocation::NotOffered => format!(
            "Signed out of {url} here. Its authorization server offers no revocation, so the \
             access token stays valid there until it expires{}; to end the grant now, revoke \
             Patchbay's access in the server's account settings.",
            entry
                .as_ref()
                .and_then(|e| e.expires_at)
                .map(|t| format!(
                    " (in {} minutes)",
                    t.saturating_sub(now_unix()).div_ceil(60)
                ))
                .unwrap_or_default()
        ),
        Revocation::Failed => format!(
            "Signed out of {url} here, but revoking the sign-in at its authorization server \
             failed ({why}); the tokens were removed here all the same. To end the grant \
             there, revoke Patchbay's access in the server's account settings."
        ),
        Revocation::NothingToRevoke => {
            format!("Signed out of {url}: no token was stored, so there was nothing to revoke.")
        }
    };
    tracing::info!(server = %url, ?revocation, "MCP server signed out");
    Ok(Some(McpRemoved {
        ok: true,
        revocation,
        message,
    }))
}

struct Outcome(Revocation, String);

async fn revoke(
    ctx: &Ctx,
    entry: &ServerEntry,
    record: Option<super::store::ClientRecord>,
) -> Outcome {
    if entry.token.is_none() && entry.refresh_token.is_none() {
        return Outcome(Revocation::NothingToRevoke, String::new());
    }
    let cached = record.as_ref().and_then(|r| r.metadata.clone());
    let metadata = match cached {
        Some(m) => m,
        None => match fetch_metadata(ctx, &entry.issuer).await {
            Ok(m) => m,
            Err(e) => return Outcome(Revocation::Failed, e.message),
        },
    };
    let Some(endpoint) = metadata.revocation_endpoint else {
        return Outcome(Revocation::NotOffered, String::new());
    };
    let secret = record
        .as_ref()
        .filter(|r| r.client_id == entry.client_id)
        .and_then(|r| r.client_secret.clone());
    let client = ClientAuth {
        client_id: &entry.client_id,
        client_secret: secret.as_ref(),
    };
    for form in revoke_forms(client, entry.refresh_token.as_ref(), entry.token.as_ref()) {
        match token_request(ctx, &endpoint, form).send().await {
            // RFC 7009 §2.2: 200 also for a token the server no longer knows.
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                return Outcome(
                    Revocation::Failed,
                    format!("{endpoint} answered {}", r.status()),
                );
            }
            Err(e) => {
                return Outcome(
                    Revocation::Failed,
                    format!("{endpoint}: {}", crate::engine::upstream::no_answer(&e)),
                );
            }
        }
    }
    Outcome(Revocation::Revoked, String::new())
}
