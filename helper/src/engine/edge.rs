//! Calling the Patchbay edge's `/api/connectors/*` routes with `PATCHBAY_EDGE_TOKEN`, the
//! secret that never reaches a browser: what the Vercel and Agents connectors forward through.

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::{ApiError, AppState};

/// The edge's URL and token, or what to set when this helper does not know the edge.
/// `feature` names what needs it ("Vercel", "The Agents card").
pub fn configured<'s>(
    state: &'s AppState,
    feature: &str,
) -> Result<(&'s str, &'s patchbay_proto::Secret), ApiError> {
    let config = state.config();
    match (&config.edge_url, &config.edge_token) {
        (Some(url), Some(token)) => Ok((url.as_str(), token)),
        _ => Err(ApiError::unavailable(format!(
            "{feature} runs on the Patchbay edge, and this helper does not know it: start the \
             helper with PATCHBAY_EDGE_URL=<your edge's URL> and PATCHBAY_EDGE_TOKEN=<its \
             edge token>."
        ))),
    }
}

/// Sends a request to `/api/connectors/{path}` on the edge; returns its status and JSON body
/// unchanged (a 401 from the edge is this helper's wrong token, said so).
pub async fn call(
    state: &AppState,
    feature: &str,
    method: Method,
    path: &str,
    body: Option<Bytes>,
) -> Result<(StatusCode, Value), ApiError> {
    let (url, token) = configured(state, feature)?;
    let mut request = state
        .http()
        .request(method, format!("{url}/api/connectors/{path}"))
        .bearer_auth(token.expose());
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.map_err(|_| {
        ApiError::upstream(format!(
            "Cannot reach the Patchbay edge at {url}. Is it deployed (or `wrangler dev` running)?"
        ))
    })?;
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if status == StatusCode::UNAUTHORIZED {
        return Err(ApiError::upstream(
            "The Patchbay edge refused this helper's PATCHBAY_EDGE_TOKEN; set it to the edge's \
             token (wrangler secret put PATCHBAY_EDGE_TOKEN).",
        ));
    }
    let body: Value = response.json().await.map_err(|_| {
        ApiError::upstream(format!(
            "The Patchbay edge at {url} answered with something that is not JSON."
        ))
    })?;
    Ok((status, body))
}
