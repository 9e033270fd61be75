//! `GET /callback`: Vercel sends the person here after the sign-in. The page says what
//! happened in fixed sentences and echoes nothing from the request.

use super::{CompleteError, FirstOutcome, complete};
use crate::Edge;
use crate::error::wrong_method;
use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::Store;
use crate::upstream::Upstream;

pub const PATH: &str = "/callback";

pub async fn serve<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> EdgeResponse {
    if req.method != "GET" {
        return wrong_method(req, "GET");
    }
    let mut code = None;
    let mut state = None;
    for (k, v) in form_urlencoded::parse(req.query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(state) = state.filter(|s| !s.is_empty()) else {
        return page(400, Page::NoState);
    };
    let Ok(cipher) = edge.cipher() else {
        return page(503, Page::NotConfigured);
    };
    match complete(edge, &cipher, code.as_deref(), &state).await {
        Ok(_) => page(200, Page::Connected),
        Err(CompleteError::Unknown) => page(400, Page::Unknown),
        Err(CompleteError::Expired) => page(400, Page::Expired),
        Err(CompleteError::AlreadyUsed(FirstOutcome::Connected)) => page(200, Page::UsedConnected),
        Err(CompleteError::AlreadyUsed(_)) => page(409, Page::Used),
        Err(CompleteError::Failed(_)) if code.is_none() => page(400, Page::Denied),
        Err(CompleteError::Failed(_)) => page(502, Page::Failed),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Connected,
    UsedConnected,
    Used,
    Unknown,
    Expired,
    Denied,
    Failed,
    NoState,
    NotConfigured,
}

fn page(status: u16, which: Page) -> EdgeResponse {
    let (title, text) = match which {
        Page::Connected => (
            "Vercel is connected",
            "Patchbay can now use your Vercel account. You can close this tab.",
        ),
        Page::UsedConnected => (
            "This link was already used",
            "Vercel was connected the first time this link was opened. You can close this tab.",
        ),
        Page::Used => (
            "This link was already used",
            "This sign-in link was already used and did not connect Vercel. Start the Vercel \
             sign-in again from the Patchbay dashboard.",
        ),
        Page::Unknown => (
            "Unknown sign-in",
            "Patchbay did not start this sign-in. Start the Vercel sign-in from the Patchbay \
             dashboard.",
        ),
        Page::Expired => (
            "This sign-in expired",
            "Sign-ins must be finished within a few minutes. Start the Vercel sign-in again \
             from the Patchbay dashboard.",
        ),
        Page::Denied => (
            "Vercel was not connected",
            "The sign-in was cancelled or refused at Vercel. Start it again from the Patchbay \
             dashboard if you want to connect.",
        ),
        Page::Failed => (
            "Vercel was not connected",
            "Vercel did not accept the sign-in. Start the Vercel sign-in again from the \
             Patchbay dashboard.",
        ),
        Page::NoState => (
            "Nothing to do here",
            "This address is where Vercel sends you back after signing in. Start the Vercel \
             sign-in from the Patchbay dashboard.",
        ),
        Page::NotConfigured => (
            "The edge is not set up",
            "The Patchbay edge has no encryption key. Its operator must run `wrangler secret \
             put PATCHBAY_ENCRYPTION_KEY`.",
        ),
    };
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · Patchbay</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}</style>\
         </head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    EdgeResponse {
        status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'".into(),
            ),
            ("referrer-policy", "no-referrer".into()),
            ("x-content-type-options", "nosniff".into()),
        ],
        body: body.into_bytes(),
    }
}
