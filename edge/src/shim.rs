//! The Worker entry point: adapt, call the router, adapt back. No logic lives here.

use worker::{Context, Env, Request, Response, Result, event};

use crate::config::EdgeConfig;
use crate::router::{self, EdgeRequest};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = EdgeConfig::from_vars(|name| env.var(name).ok().map(|v| v.to_string()));
    let url = req.url()?;
    let edge_request = EdgeRequest {
        method: req.method().to_string(),
        origin: url.origin().ascii_serialization(),
        path: url.path().to_owned(),
    };
    let out = router::route(&edge_request, &config);
    let mut response = Response::from_bytes(out.body)?.with_status(out.status);
    for (name, value) in &out.headers {
        response.headers_mut().set(name, value)?;
    }
    Ok(response)
}
