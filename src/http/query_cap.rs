//! Refuses query strings over the platform's 2,048-character cap before any handler runs.

use super::error::ApiError;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// SECURITY: the platform truncates bodies at 2,048 characters; no genuine callback has a
/// longer query string, so anything longer is refused unread.
pub const MAX_QUERY_LEN: usize = 2048;

/// Layer that answers 414 when the raw query string is longer than `max`.
#[derive(Debug, Clone, Copy)]
pub struct QueryCapLayer {
    max: usize,
}

impl QueryCapLayer {
    /// A cap of `max` characters (bytes of the raw, still-encoded query).
    pub fn new(max: usize) -> QueryCapLayer {
        QueryCapLayer { max }
    }
}

impl<S> Layer<S> for QueryCapLayer {
    type Service = QueryCap<S>;

    fn layer(&self, inner: S) -> QueryCap<S> {
        QueryCap {
            inner,
            max: self.max,
        }
    }
}

/// The service `QueryCapLayer` wraps around the router.
#[derive(Debug, Clone)]
pub struct QueryCap<S> {
    inner: S,
    max: usize,
}

impl<S, B> Service<Request<B>> for QueryCap<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let len = request.uri().query().map_or(0, str::len);
        if len > self.max {
            let error = ApiError::QueryTooLong { len, max: self.max };
            return Either::Right(ready(Ok(error.into_response())));
        }
        Either::Left(self.inner.call(request))
    }
}
