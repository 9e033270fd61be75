//! `GET /oauth/authorize`: the authorization endpoint, and the page a person sees while the
//! request waits for a decision in the dashboard.
//!
//! The contract, so scripts can drive it: the same URL answers 200 with the pending page
//! until a person decides; then 302 to the client's `redirect_uri` with `code`, `state` and
//! `iss` once approved, or with `error=access_denied` once denied. The page re-loads itself
//! with `<meta http-equiv="refresh">`, so it needs no script.
//!
//! A request is keyed by a hash of its parameters: re-loading the URL finds its own row, and
//! any other URL is another request. Nothing the URL carries is shown on the page; the client's
//! name comes from its registration, escaped.
//!
//! Every refusal is a page, never a redirect: a wrong `redirect_uri` must not send anyone
//! anywhere (an open redirect), and a client that omits PKCE or `state` is broken or hostile.

use patchbay_proto::agents::{
    CODE_SECS, PENDING_REQUEST_SECS, parse_scope, redirect_host, redirect_uri_matches,
    scope_description, token_key,
};
use patchbay_proto::pkce::CHALLENGE_METHOD;
use patchbay_proto::secret::random_urlsafe;

use super::db::{self, Request};
use super::{issuer, metadata_document, resource_url};
use crate::Edge;
use crate::error::ApiError;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::page::{escape, html};
use crate::store::Store;
use crate::upstream::Upstream;

/// How often the pending page re-checks.
const RECHECK_SECS: u32 = 3;
const MAX_STATE_LEN: usize = 512;

pub async fn serve<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> EdgeResponse {
    if !matches!(req.method.as_str(), "GET" | "HEAD") {
        return refusal(405, "Open this address in a browser (GET).");
    }
    authorize(req, edge).await.unwrap_or_else(|e| {
        refusal(
            e.code.http_status(),
            &format!("The workspace could not handle this request: {}", e.message),
        )
    })
}

/// The checked parameters of an authorization request.
struct Params {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    code_challenge: String,
    resource: String,
}

async fn authorize<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> Result<EdgeResponse, ApiError> {
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| super::field(&query, name);
    let Some(client_id) = get("client_id") else {
        return Ok(refusal(400, "The request names no client (client_id)."));
    };
    let client = match metadata_document::client(edge, req, client_id).await? {
        Some(Ok(client)) => Some(client),
        Some(Err(problem)) => return Ok(refusal(400, problem.message())),
        None => db::client(edge, client_id).await?,
    };
    let Some(client) = client else {
        return Ok(refusal(
            400,
            "This app is not registered with the workspace (or its registration expired). \
             Remove the server in the app and add it again.",
        ));
    };
    let Some(redirect_uri) = get("redirect_uri").filter(|p| {
        client
            .redirect_uris
            .iter()
            .any(|r| redirect_uri_matches(r, p))
    }) else {
        return Ok(refusal(
            400,
            "The app asked to be sent back to an address it did not register, so the \
             workspace sends you nowhere. Tell the app's developers.",
        ));
    };
    if get("response_type") != Some("code") {
        return Ok(refusal(400, "The app must ask for response_type=code."));
    }
    let Some(state) = get("state").filter(|s| s.len() <= MAX_STATE_LEN) else {
        return Ok(refusal(
            400,
            "The app sent no state parameter, which protects you against forged sign-ins; \
             the workspace refuses such requests.",
        ));
    };
    let challenge = get("code_challenge").filter(|c| {
        c.len() == 43
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let (Some(code_challenge), Some(CHALLENGE_METHOD)) = (challenge, get("code_challenge_method"))
    else {
        return Ok(refusal(
            400,
            "The app did not use PKCE with S256 (code_challenge and code_challenge_method=S256), \
             which the workspace requires.",
        ));
    };
    let scopes = match parse_scope(get("scope").unwrap_or("")) {
        Ok(s) => s,
        Err(_) => {
            return Ok(refusal(
                400,
                "The app asked for a permission the workspace does not have; it may ask for \
                 connections:read and vercel:read.",
            ));
        }
    };
    let resource = resource_url(edge.config, req);
    if get("resource").is_some_and(|r| r != resource) {
        return Ok(refusal(
            400,
            "The app asked for access to another server than this workspace's /mcp.",
        ));
    }
    let p = Params {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scopes.join(" "),
        state: state.to_owned(),
        code_challenge: code_challenge.to_owned(),
        resource,
    };
    let id = request_id(&p);
    let stored = match db::request(edge, &id).await? {
        Some(r) => r,
        None => {
            let r = Request {
                id: id.clone(),
                client_id: p.client_id.clone(),
                redirect_uri: p.redirect_uri.clone(),
                scope: p.scope.clone(),
                code_challenge: p.code_challenge.clone(),
                resource: p.resource.clone(),
                status: "pending".into(),
                created_at: edge.now,
                grant_id: None,
            };
            db::save_request(edge, &r).await?;
            r
        }
    };
    let back = |pairs: &[(&str, &str)]| {
        let iss = issuer(edge.config, req);
        redirect(&p.redirect_uri, pairs, &p.state, &iss)
    };
    Ok(match stored.status.as_str() {
        "pending" if stored.created_at + PENDING_REQUEST_SECS > edge.now => {
            pending_page(edge, req, &client.client_name, &p)
        }
        "pending" => refusal(
            400,
            "Nobody decided this request within 10 minutes. Connect again from the app.",
        ),
        "approved" => {
            let code = format!("pbo_{}", random_urlsafe(32));
            if db::issue_code(edge, &id, &token_key(&code), edge.now + CODE_SECS).await? {
                back(&[("code", &code)])
            } else {
                completed()
            }
        }
        "denied" => back(&[
            ("error", "access_denied"),
            (
                "error_description",
                "The request was denied in the Patchbay dashboard.",
            ),
        ]),
        _ => completed(),
    })
}

/// The request's key: every parameter that makes it what it is.
fn request_id(p: &Params) -> String {
    let joined = [
        p.client_id.as_str(),
        &p.redirect_uri,
        &p.scope,
        &p.state,
        &p.code_challenge,
        &p.resource,
    ]
    .join("\n");
    format!("req_{}", &token_key(&joined)[..24])
}

/// 302 to the client with the answer's parameters, `state` and `iss` (RFC 9207).
fn redirect(redirect_uri: &str, pairs: &[(&str, &str)], state: &str, iss: &str) -> EdgeResponse {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    query.append_pair("state", state).append_pair("iss", iss);
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    EdgeResponse {
        status: 302,
        headers: vec![
            ("location", format!("{redirect_uri}{sep}{}", query.finish())),
            ("cache-control", "no-store".into()),
            ("referrer-policy", "no-referrer".into()),
        ],
        body: Vec::new(),
    }
}

fn pending_page<S, U>(
    edge: &Edge<'_, S, U>,
    req: &EdgeRequest,
    client_name: &str,
    p: &Params,
) -> EdgeResponse {
    let scopes: String = p
        .scope
        .split(' ')
        .map(|s| {
            format!(
                "<li><code>{}</code>: {}</li>",
                escape(s),
                escape(scope_description(s))
            )
        })
        .collect();
    let body = format!(
        "<p><strong>{name}</strong> asks to use this Patchbay workspace, and will be sent \
         back to <strong>{host}</strong>. It asks to:</p><ul>{scopes}</ul>\
         <p>Approve or deny it on the <strong>Agents</strong> card of the \
         <a href=\"{dashboard}/\">Patchbay dashboard</a>. Only someone with the workspace's \
         own secret can. This page moves on by itself once you have decided.</p>",
        name = escape(client_name),
        host = escape(&redirect_host(&p.redirect_uri)),
        dashboard = escape(&issuer(edge.config, req)),
    );
    html(200, "Approve this agent", &body, Some(RECHECK_SECS))
}

fn completed() -> EdgeResponse {
    refusal(
        400,
        "This request was already completed. If the app is not connected, connect again from \
         the app.",
    )
}

fn refusal(status: u16, text: &str) -> EdgeResponse {
    html(
        status,
        "This request cannot go on",
        &format!("<p>{}</p>", escape(text)),
        None,
    )
}
