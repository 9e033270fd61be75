//! The one JSON error body every Patchbay API answers with.
//!
//! `{"ok": false, "error": "<code>", "message": "<a sentence that says what to do>"}`.
//! The contract's successes answer `{"ok": true, …}`, so a client can branch on `ok` alone;
//! `error` is a stable machine code; `message` is for people and never holds a secret.

use serde::{Deserialize, Serialize};

/// The most a request body may hold, in the helper and the edge alike: every body of the API
/// is a few hundred bytes (a name, a token, a pasted address).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The longest address (path and query) the helper's server and the edge read: every
/// route's data is in its body, so a longer one is a mistake or an attack.
pub const URI_LIMIT: usize = 8 * 1024;

/// The most the helper's server and the edge read of a request's headers (names and values).
pub const HEADER_LIMIT: usize = 16 * 1024;

/// The message of the 414 for an address over `limit` bytes.
pub fn uri_too_long_message(limit: usize) -> String {
    format!(
        "The request's address is longer than the {} KiB this API reads. Send the data in a \
         JSON body instead of the query string.",
        limit / 1024
    )
}

/// The message of the 431 for headers over `limit` bytes.
pub fn headers_too_large_message(limit: usize) -> String {
    format!(
        "The request's headers are larger than the {} KiB this API reads. Send fewer or \
         smaller headers (large cookies are the usual cause: clear them).",
        limit / 1024
    )
}

/// The message of the 413 for a body over [`BODY_LIMIT`].
pub fn body_too_large_message() -> String {
    format!(
        "The request body is larger than the {} KiB this API accepts; send only the fields \
         the route takes.",
        BODY_LIMIT / 1024
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    /// The code for an HTTP status a router or a runtime chose without one (a 405, a 413):
    /// the code whose status it is, else `bad_request` for a 4xx and `internal` for a 5xx.
    pub fn for_status(status: u16) -> ErrorCode {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.http_status() == status)
            .unwrap_or(if status >= 500 {
                ErrorCode::Internal
            } else {
                ErrorCode::BadRequest
            })
    }

    pub const ALL: [ErrorCode; 13] = [
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::always_false))]
    pub ok: bool,
    pub error: ErrorCode,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub message: String,
}

/// Schemas the derive cannot say: `ok` is one value, so a strict client may branch on it
/// alone (the contract test validates every answer against them).
#[cfg(feature = "openapi")]
pub(crate) mod schema {
    use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

    pub fn always_false() -> Object {
        only(false)
    }

    pub fn always_true() -> Object {
        only(true)
    }

    fn only(value: bool) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([value]))
            .build()
    }
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
/// `new(code, message)` and one per [`ErrorCode`], named after it in snake case
/// (`bad_request`, `not_found`, `conflict`, `insufficient_storage`, …). Expand it
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
            not_found NotFound, method_not_allowed MethodNotAllowed, conflict Conflict,
            payload_too_large PayloadTooLarge, uri_too_long UriTooLong,
            headers_too_large HeadersTooLarge, upstream Upstream, unavailable Unavailable,
            insufficient_storage InsufficientStorage, internal Internal);
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
    fn a_bare_status_finds_its_code() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::for_status(code.http_status()), code);
        }
        assert_eq!(ErrorCode::for_status(418), ErrorCode::BadRequest);
        assert_eq!(ErrorCode::for_status(504), ErrorCode::Internal);
    }

    #[test]
    fn every_code_has_its_constructor_and_its_own_status() {
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
            (
                ApiError::method_not_allowed("m"),
                ErrorCode::MethodNotAllowed,
            ),
            (ApiError::conflict("m"), ErrorCode::Conflict),
            (ApiError::payload_too_large("m"), ErrorCode::PayloadTooLarge),
            (ApiError::uri_too_long("m"), ErrorCode::UriTooLong),
            (ApiError::headers_too_large("m"), ErrorCode::HeadersTooLarge),
            (ApiError::upstream("m"), ErrorCode::Upstream),
            (ApiError::unavailable("m"), ErrorCode::Unavailable),
            (
                ApiError::insufficient_storage("m"),
                ErrorCode::InsufficientStorage,
            ),
            (ApiError::internal("m"), ErrorCode::Internal),
        ];
        for (error, code) in &made {
            assert_eq!(error, &ApiError::new(*code, "m"));
        }
        let mut statuses: Vec<u16> = made.iter().map(|(_, c)| c.http_status()).collect();
        assert!(statuses.iter().all(|s| (400..600).contains(s)));
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), made.len(), "two codes share a status");
        let v = serde_json::to_value(ErrorCode::HeadersTooLarge).unwrap();
        assert_eq!(v, "headers_too_large");
    }
}
