//! `patchbay mcp login --device`: the device authorization grant (RFC 8628). No listener, no
//! port: the person opens a URL anywhere, types (or follows) a code, and Patchbay polls the
//! token endpoint until they approve. For SSH sessions and containers.

use std::time::Duration;

use patchbay_proto::mcp::{device_form, device_poll_form};
use patchbay_proto::oauth::{
    DEFAULT_INTERVAL_SECS, DeviceAuthorizationResponse, DevicePoll, SLOW_DOWN_SECS,
    classify_device_poll,
};
use tokio_util::sync::CancellationToken;

use super::login::{
    self, Ctx, LoginEnd, LoginRequest, save_tokens, token_answer, token_request, unreachable,
    upstream_err,
};
use super::store::ServerEntry;
use crate::ApiError;

/// What the person must do: open `verification_uri` and enter `user_code` (or open the
/// complete URI, which carries the code).
pub struct DeviceCode {
    pub server_url: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
}

/// The device sign-in, start to stored tokens.
pub async fn run(
    ctx: &Ctx,
    req: &LoginRequest,
    show: &mut dyn FnMut(&DeviceCode),
    cancel: &CancellationToken,
) -> Result<ServerEntry, LoginEnd> {
    let resolved = tokio::select! {
        r = login::resolve(ctx, req, true) => r?,
        _ = cancel.cancelled() => return Err(LoginEnd::Cancelled),
    };
    let Some(endpoint) = resolved.metadata.device_authorization_endpoint.clone() else {
        return Err(LoginEnd::Failed(ApiError::bad_request(format!(
            "The authorization server {} offers no device sign-in (RFC 8628). Sign in with \
             `patchbay mcp login {}` instead; on a machine without a browser, open the printed \
             URL elsewhere and paste the address it ends up at into the terminal.",
            resolved.metadata.issuer, resolved.server_url
        ))));
    };
    let resource = resolved.options.resource(&resolved.resource);
    let form = device_form(resolved.client.auth(), &resolved.scope, resource);
    let r = token_request(ctx, &endpoint, form)
        .send()
        .await
        .map_err(|e| unreachable("the device authorization endpoint", &endpoint, &e))?;
    if !r.status().is_success() {
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap_or_default();
        return Err(login::token_refusal(ctx, &resolved, status, &body)
            .await
            .into());
    }
    let code: DeviceAuthorizationResponse = r.json().await.map_err(|_| {
        upstream_err(format!(
            "The device authorization endpoint {endpoint} answered with something that is \
             not a device code (RFC 8628)."
        ))
    })?;
    show(&DeviceCode {
        server_url: resolved.server_url.clone(),
        user_code: code.user_code.clone(),
        verification_uri: code.verification_uri.clone(),
        verification_uri_complete: code.verification_uri_complete.clone(),
        expires_in: code.expires_in,
    });
    let mut interval = code.interval.unwrap_or(DEFAULT_INTERVAL_SECS).max(1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(code.expires_in);
    let token_endpoint = resolved.metadata.token_endpoint.clone();
    loop {
        let wake = tokio::time::Instant::now() + Duration::from_secs(interval);
        if wake > deadline {
            return Err(LoginEnd::TimedOut);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = cancel.cancelled() => return Err(LoginEnd::Cancelled),
        }
        let form = device_poll_form(resolved.client.auth(), &code.device_code, resource);
        let r = token_request(ctx, &token_endpoint, form)
            .send()
            .await
            .map_err(|e| unreachable("the token endpoint", &token_endpoint, &e))?;
        if r.status().is_success() {
            let tokens = token_answer(&token_endpoint, r).await?;
            return Ok(save_tokens(ctx, resolved, tokens).await?);
        }
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap_or_default();
        match classify_device_poll(status, &body) {
            DevicePoll::Pending => {}
            DevicePoll::SlowDown => interval += SLOW_DOWN_SECS,
            DevicePoll::Denied => {
                return Err(LoginEnd::Failed(ApiError::bad_request(
                    "The sign-in was declined at the authorization server. Nothing was saved.",
                )));
            }
            DevicePoll::Expired => return Err(LoginEnd::TimedOut),
            DevicePoll::Failed(_) => {
                return Err(login::token_refusal(ctx, &resolved, status, &body)
                    .await
                    .into());
            }
        }
    }
}
