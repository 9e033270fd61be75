//! `GET /callback`: Vercel sends the person here after the sign-in. The page
//! (`proto::page::result_page`) says what happened and what to do next in fixed sentences,
//! and echoes nothing from the request.

use patchbay_proto::page::{RESULT_PAGE_HEADERS, result_page, result_page_csp};

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
            "Patchbay can now use your Vercel account. Close this tab and go back to the \
             Patchbay dashboard: the Vercel card shows the account when you return.",
        ),
        Page::UsedConnected => (
            "This link was already used",
            "Vercel was connected the first time this link was opened. Close this tab and go \
             back to the Patchbay dashboard.",
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
            "The sign-in was cancelled or refused at Vercel. Close this tab and go back to \
             the Patchbay dashboard; sign in again there if you want to connect.",
        ),
        Page::Failed => (
            "Vercel was not connected",
            "Vercel did not accept the sign-in. Close this tab and go back to the Patchbay \
             dashboard: the Vercel card says why, and you can sign in again there.",
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
    let mut headers: Vec<_> = RESULT_PAGE_HEADERS
        .iter()
        .map(|&(name, value)| (name, value.to_owned()))
        .collect();
    headers.push(("content-security-policy", result_page_csp()));
    EdgeResponse {
        status,
        headers,
        body: result_page(title, text).into_bytes(),
    }
}
