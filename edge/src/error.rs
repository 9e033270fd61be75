//! `ApiError`: the edge's one error type. Every failure of an `/api` route becomes the same
//! JSON body (`patchbay_proto::ErrorBody`) in [`ApiError::into_response`].
//!
//! Its constructors (`not_found`, `conflict`, … one per [`ErrorCode`]) come from
//! `patchbay_proto::api_error_constructors!`, so they are the same in every crate.

use patchbay_proto::{ErrorBody, ErrorCode};

use crate::http::{EdgeRequest, EdgeResponse};
use crate::store::StoreError;
use crate::upstream::UpstreamError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    /// A sentence that says what to do. Never holds a secret or request input.
    pub message: String,
}

impl ApiError {
    patchbay_proto::api_error_constructors!();

    pub fn into_response(self) -> EdgeResponse {
        let mut r = EdgeResponse::json(
            self.code.http_status(),
            &ErrorBody::new(self.code, self.message),
        );
        if self.code == ErrorCode::Unauthorized {
            r.headers
                .push(("www-authenticate", "Bearer realm=\"patchbay-edge\"".into()));
        }
        r
    }
}

pub use patchbay_proto::error::{BODY_LIMIT, HEADER_LIMIT, URI_LIMIT};

/// The 405 for a route that only takes `allow` (e.g. `"GET, HEAD"`), with its `Allow` header.
pub fn wrong_method(req: &EdgeRequest, allow: &'static str) -> EdgeResponse {
    let mut r = ApiError::method_not_allowed(format!(
        "{} does not take {}; use {allow} (see the Connectors API).",
        req.path, req.method
    ))
    .into_response();
    r.set_header("allow", allow);
    r
}

/// The refusal of a request whose head is over the limits (the helper's server has the same
/// ones): a 414 for the address, a 431 for the headers. Cloudflare's own limits are larger
/// and answer with its page, so below them the Worker gives the one JSON shape.
pub fn head_too_large(req: &EdgeRequest) -> Option<ApiError> {
    let uri = req.path.len() + req.query.len() + 1;
    if uri > URI_LIMIT {
        return Some(ApiError::uri_too_long(
            patchbay_proto::error::uri_too_long_message(URI_LIMIT),
        ));
    }
    (req.header_bytes > HEADER_LIMIT).then(|| {
        ApiError::headers_too_large(patchbay_proto::error::headers_too_large_message(
            HEADER_LIMIT,
        ))
    })
}

/// The 413 for a body over [`BODY_LIMIT`].
pub fn too_large() -> ApiError {
    ApiError::payload_too_large(patchbay_proto::error::body_too_large_message())
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.0.contains("no such table") || e.0.contains("no such column") {
            ApiError::unavailable(
                "The edge's D1 tables are missing or old: run `npx wrangler d1 migrations apply DB \
                 --remote` in edge/ (or `--local` for wrangler dev).",
            )
        } else {
            ApiError::internal(format!(
                "The edge's D1 database failed ({}); check the DB binding in wrangler.toml.",
                e.0
            ))
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        ApiError::upstream(format!(
            "Could not reach Vercel ({}); try again in a moment.",
            e.0
        ))
    }
}
