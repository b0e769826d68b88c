//! The one JSON error shape of the HTTP layer: `{"error":"<code>","message":"<text>"}`.

use crate::auth::signature::Failure;
use crate::overrides::{FieldProblem, WriteError};
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
    /// An admin call without the right bearer token.
    #[error("this endpoint needs the header Authorization: Bearer <token>")]
    Unauthorized,
    /// A method the override endpoint does not serve.
    #[error("method not allowed; use GET, PUT or DELETE")]
    OverrideMethodNotAllowed,
    /// An override request that does not validate; every problem names its field.
    #[error("{}", describe(.0))]
    InvalidOverride(Vec<FieldProblem>),
    /// A request body over the endpoint's limit (`max` bytes).
    #[error("the body is over {max} bytes")]
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// `DELETE` of an override that does not exist.
    #[error("no override has this domain, app and stream")]
    OverrideNotFound,
    /// An override write that did not happen.
    #[error("{0}")]
    Write(std::sync::Arc<WriteError>),
    /// A query parameter of an admin listing that does not read; each problem names it.
    #[error("{}", describe(.0))]
    InvalidQuery(Vec<FieldProblem>),
    /// A status or file event whose body does not read.
    #[error("{0}")]
    InvalidEvent(String),
    /// A method other than POST on the notify path.
    #[error("method not allowed; use POST")]
    PostOnly,
    /// The recording ledger cannot take the event now; the platform retries.
    #[error("{0}")]
    LedgerUnavailable(String),
    /// A method other than GET or DELETE on `/recordings`.
    #[error("method not allowed; use GET or DELETE")]
    GetOrDeleteOnly,
    /// `DELETE /recordings` of a stream with no recording in progress.
    #[error("no recording in progress has this domain, app and stream")]
    RecordingNotFound,
    /// Handling the request failed inside the server (a panic, caught).
    #[error("the server failed to handle this request; see its log")]
    Internal,
}

fn describe(problems: &[FieldProblem]) -> String {
    let parts: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    parts.join("; ")
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> ApiError {
        ApiError::Write(std::sync::Arc::new(error))
    }
}

/// Marks a response as a refusal, with `ApiError::code`, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected(pub &'static str);

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    problems: &'a [FieldProblem],
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::QueryTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::OverrideMethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidOverride(_) => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::OverrideNotFound => StatusCode::NOT_FOUND,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::InvalidEvent(_) | ApiError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::PostOnly | ApiError::GetOrDeleteOnly => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RecordingNotFound => StatusCode::NOT_FOUND,
            ApiError::LedgerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Write(error) => match **error {
                WriteError::TooMany => StatusCode::CONFLICT,
                WriteError::Off | WriteError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }

    /// A stable machine-readable code, also the `reason` label of rejection metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::QueryTooLong { .. } => "query_too_long",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::NotFound => "not_found",
            ApiError::Forbidden(failure) => failure.code(),
            ApiError::Unauthorized => "unauthorized",
            ApiError::OverrideMethodNotAllowed => "method_not_allowed",
            ApiError::InvalidOverride(_) => "invalid_override",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::OverrideNotFound => "override_not_found",
            ApiError::Internal => "internal",
            ApiError::InvalidEvent(_) => "invalid_event",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::PostOnly | ApiError::GetOrDeleteOnly => "method_not_allowed",
            ApiError::RecordingNotFound => "recording_not_found",
            ApiError::LedgerUnavailable(_) => "ledger_unavailable",
            ApiError::Write(error) => match **error {
                WriteError::TooMany => "too_many_overrides",
                WriteError::Off => "overrides_off",
                WriteError::Unavailable(_) => "store_unavailable",
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let problems = match &self {
            ApiError::InvalidOverride(problems) | ApiError::InvalidQuery(problems) => {
                problems.as_slice()
            }
            _ => &[],
        };
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
            problems,
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(Rejected(self.code()));
        let headers = response.headers_mut();
        match self {
            ApiError::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            ApiError::OverrideMethodNotAllowed => {
                headers.insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, PUT, DELETE"),
                );
            }
            ApiError::PostOnly => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            ApiError::GetOrDeleteOnly => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, DELETE"));
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
