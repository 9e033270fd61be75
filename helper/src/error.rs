//! The helper's one error type. Every failure a handler can return becomes the same JSON
//! body (`patchbay_proto::ErrorBody`) here, and nowhere else.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use patchbay_proto::{ErrorBody, ErrorCode};

use crate::engine::text::quote_input;

/// An API failure: a stable code and a sentence for people. The message must never contain
/// a secret; constructors take already-redacted text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    // `new` and one constructor per `ErrorCode`, the same list as the edge's.
    patchbay_proto::api_error_constructors!();

    /// The JSON body: `{"ok": false, "error": "<code>", "message": "…"}`.
    pub fn json_body(&self) -> Vec<u8> {
        serde_json::to_vec(&ErrorBody::new(self.code, self.message.as_str()))
            .expect("an error body always serialises")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = ?self.code, "{}", self.message);
        }
        let content_type = [(header::CONTENT_TYPE, "application/json")];
        let mut response = (status, content_type, self.json_body()).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"patchbay\""),
            );
        }
        response
    }
}

pub use patchbay_proto::error::BODY_LIMIT;

/// `axum::Json`, but a body that does not fit becomes an [`ApiError`] with the usual JSON
/// body, and the Content-Type is not checked: a body that parses as JSON is accepted (the
/// seed's clients send `fetch` bodies without one; the pairing token and the Origin
/// allowlist are what stop cross-site requests). The message never quotes the body: it may
/// hold a token pasted in the wrong field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| match rejection {
                BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                    too_large()
                }
                _ => ApiError::bad_request(
                    "The request body could not be read; send it again in one piece.",
                ),
            })?;
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::bad_request(explain_rejection(&rejection))),
        }
    }
}

/// The 413 for a body over [`BODY_LIMIT`].
pub fn too_large() -> ApiError {
    ApiError::payload_too_large(patchbay_proto::error::body_too_large_message())
}

fn explain_rejection(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::JsonSyntaxError(_) => {
            "The request body is not valid JSON; send a JSON object (see the Connectors API \
             for the route's fields)."
                .into()
        }
        JsonRejection::JsonDataError(e) => {
            // serde's "missing field `x`" and "unknown field `x`" name fields, never values.
            let detail = e.body_text();
            match detail
                .split(": ")
                .find(|part| part.starts_with("missing field") || part.starts_with("unknown field"))
            {
                Some(field) => format!("The request body does not fit this route: {field}."),
                None => "The request body does not fit this route: a field has the wrong type \
                         (see the Connectors API for its shape)."
                    .into(),
            }
        }
        _ => "The request body could not be read as JSON; send a JSON object.".into(),
    }
}

/// Gives the refusals that axum and tower write themselves (405 with an empty body, a path
/// segment that is not UTF-8 as plain text, 404 outside the API, 413 from the body limit) the
/// one JSON shape, so a client never meets an error it cannot parse. JSON answers pass
/// untouched. axum adds a 405's `Allow` header after every layer has run, so the message
/// points at it rather than naming the methods.
pub async fn json_refusals(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    refusal(status, &method, &path).into_response()
}

/// The sentence for a refusal the router wrote without one.
pub fn refusal(status: StatusCode, method: &Method, path: &str) -> ApiError {
    let path = quote_input(path);
    match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(format!(
            "{path} does not take {method}; use a method from the Allow header (the Connectors \
             API lists each route's)."
        )),
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::NOT_FOUND => ApiError::not_found(format!(
            "There is nothing at {path}. See the Connectors API for the routes Patchbay serves."
        )),
        StatusCode::BAD_REQUEST => ApiError::bad_request(format!(
            "The address {path} could not be read: a path segment or query parameter is not \
             UTF-8 once percent-decoded. Percent-encode names as UTF-8."
        )),
        other => ApiError::new(
            ErrorCode::for_status(other.as_u16()),
            format!(
                "The request to {path} was refused ({other}); check it against the Connectors \
                 API and send it again."
            ),
        ),
    }
}
