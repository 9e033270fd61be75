//! `ApiError`: the edge's one error type. Every failure of an `/api` route becomes the same
//! JSON body (`patchbay_proto::ErrorBody`) in [`ApiError::into_response`].
//!
//! The constructors are the helper's, one per [`ErrorCode`], so a message reads the same
//! way in both crates.

use patchbay_proto::{ErrorBody, ErrorCode};

use crate::http::EdgeResponse;
use crate::store::StoreError;
use crate::upstream::UpstreamError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    /// A sentence that says what to do. Never holds a secret or request input.
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Upstream, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.0.contains("no such table") {
            ApiError::unavailable(
                "The edge's D1 tables are missing: run `npx wrangler d1 migrations apply DB \
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
