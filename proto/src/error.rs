//! The one JSON error body every Patchbay API answers with.
//!
//! `{"ok": false, "error": "<code>", "message": "<a sentence that says what to do>"}`.
//! The contract's successes answer `{"ok": true, …}`, so a client can branch on `ok` alone;
//! `error` is a stable machine code; `message` is for people and never holds a secret.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    Upstream,
    Unavailable,
    InsufficientStorage,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UriTooLong => 414,
            ErrorCode::HeadersTooLarge => 431,
            ErrorCode::Upstream => 502,
            ErrorCode::Unavailable => 503,
            ErrorCode::InsufficientStorage => 507,
            ErrorCode::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub ok: bool,
    pub error: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            ok: false,
            error,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_documented_shape() {
        let body = ErrorBody::new(ErrorCode::Conflict, "Port 53682 is in use.");
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ok": false, "error": "conflict", "message": "Port 53682 is in use."})
        );
        assert_eq!(ErrorCode::Conflict.http_status(), 409);
    }

    #[test]
    fn each_code_is_one_client_or_server_error_status() {
        let codes = [
            ErrorCode::BadRequest,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UriTooLong,
            ErrorCode::HeadersTooLarge,
            ErrorCode::Upstream,
            ErrorCode::Unavailable,
            ErrorCode::InsufficientStorage,
            ErrorCode::Internal,
        ];
        let mut statuses: Vec<u16> = codes.iter().map(|c| c.http_status()).collect();
        assert!(statuses.iter().all(|s| (400..600).contains(s)));
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), codes.len(), "two codes share a status");
        let v = serde_json::to_value(ErrorCode::HeadersTooLarge).unwrap();
        assert_eq!(v, "headers_too_large");
    }
}
