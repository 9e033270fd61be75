//! The helper's one error type. Every failure a handler can return becomes the same JSON
//! body (`patchbay_proto::ErrorBody`) here, and nowhere else.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use patchbay_proto::{ErrorBody, ErrorCode};

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

/// `axum::Json`, but a body that does not fit becomes an [`ApiError`] with the usual JSON
/// body. The message never quotes the body: it may hold a token pasted in the wrong field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::bad_request(explain_rejection(&rejection))),
        }
    }
}

fn explain_rejection(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "Send the body as JSON with the header Content-Type: application/json.".into()
        }
        JsonRejection::JsonSyntaxError(_) => "The request body is not valid JSON.".into(),
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
        _ => "The request body could not be read.".into(),
    }
}
