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
    Conflict,
    Upstream,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::Upstream => 502,
            ErrorCode::Unavailable => 503,
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

/// The constructors of a crate's `ApiError`, written once so every crate has the same ones:
/// `new(code, message)` and one per [`ErrorCode`] (`bad_request`, `unauthorized`,
/// `forbidden`, `not_found`, `conflict`, `upstream`, `unavailable`, `internal`). Expand it
/// inside `impl ApiError { … }` of a type with `code: ErrorCode` and `message: String`.
#[macro_export]
macro_rules! api_error_constructors {
    () => {
        pub fn new(code: $crate::ErrorCode, message: impl Into<String>) -> Self {
            Self {
                code,
                message: message.into(),
            }
        }
        $crate::api_error_constructors!(@each
            bad_request BadRequest, unauthorized Unauthorized, forbidden Forbidden,
            not_found NotFound, conflict Conflict, upstream Upstream,
            unavailable Unavailable, internal Internal);
    };
    (@each $($name:ident $code:ident),*) => {
        $(
            #[doc = concat!("An error with code `", stringify!($code), "` and this message.")]
            pub fn $name(message: impl Into<String>) -> Self {
                Self::new($crate::ErrorCode::$code, message)
            }
        )*
    };
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
    fn every_code_has_its_constructor() {
        #[derive(Debug, PartialEq)]
        struct ApiError {
            code: ErrorCode,
            message: String,
        }
        impl ApiError {
            crate::api_error_constructors!();
        }
        let made = [
            (ApiError::bad_request("m"), ErrorCode::BadRequest),
            (ApiError::unauthorized("m"), ErrorCode::Unauthorized),
            (ApiError::forbidden("m"), ErrorCode::Forbidden),
            (ApiError::not_found("m"), ErrorCode::NotFound),
            (ApiError::conflict("m"), ErrorCode::Conflict),
            (ApiError::upstream("m"), ErrorCode::Upstream),
            (ApiError::unavailable("m"), ErrorCode::Unavailable),
            (ApiError::internal("m"), ErrorCode::Internal),
        ];
        for (error, code) in made {
            assert_eq!(error, ApiError::new(code, "m"));
        }
    }
}
