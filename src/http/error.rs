//! The one JSON error shape of the HTTP layer: `{"error":"<code>","message":"<text>"}`.

use crate::signature::Failure;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every way the HTTP layer refuses a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The raw query string is over the platform's own cap.
    #[error("query string is {len} characters; the limit is {max}")]
    QueryTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A method other than GET or HEAD on an endpoint.
    #[error("method not allowed; use GET or HEAD")]
    MethodNotAllowed,
    /// No endpoint at this path.
    #[error("no endpoint at this path")]
    NotFound,
    /// The callback's signature did not verify and `[auth] mode = "enforce"`.
    #[error("callback signature {}", .0.code().trim_start_matches("signature_"))]
    Forbidden(Failure),
}

/// Marks a response as a refusal, with `ApiError::code`, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected(pub &'static str);

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::QueryTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }

    /// A stable machine-readable code, also the `reason` label of rejection metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::QueryTooLong { .. } => "query_too_long",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::Forbidden(failure) => failure.code(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(Rejected(self.code()));
        if matches!(self, ApiError::MethodNotAllowed) {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        response
    }
}
