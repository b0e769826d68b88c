//! The recording callback over HTTP: the few header values it needs handed to
//! `service::callback`, the prepared body sent back.
//!
//! Connections reach it inline through `Edge`; the router also serves it, through
//! `CallbackRoute` in front of its routing table, so that the router is complete on its
//! own and the inline path has a reference to be held to.

use super::error::ApiError;
use super::request_id::REQUEST_ID_HEADER;
use crate::service::AppState;
use crate::service::callback::{self, CallbackRequest, Headers};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, Response, Uri, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use futures_util::future::{Either, Ready, ready};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::Service;

/// The answer to `GET|HEAD <callback_path>?domain=&app=&stream=&codec=&vbitrate=`: always
/// 200 with a decision, whatever the parameters hold, unless a signature is enforced.
pub fn answer(state: &AppState, request: &Request) -> axum::response::Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match decide(
        state,
        request.uri(),
        request.headers(),
        request_id,
        Instant::now(),
    ) {
        Ok(body) => json(axum::body::Body::from(body)),
        Err(error) => error.into_response(),
    }
}

/// The body of the answer to a callback taken up at `started`, or its refusal.
pub fn decide(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    request_id: &str,
    started: Instant,
) -> Result<Bytes, ApiError> {
    let request = CallbackRequest {
        query: uri.query().unwrap_or_default(),
        headers,
        request_id,
        started,
    };
    callback::answer(state, &request, jiff::Timestamp::now()).map_err(ApiError::Forbidden)
}

impl Headers for HeaderMap {
    fn get(&self, name: &str) -> Option<&[u8]> {
        HeaderMap::get(self, name).map(HeaderValue::as_bytes)
    }
}

/// A 200 with a prepared JSON body: the one shape of every decision sent back.
pub fn json<B>(body: B) -> Response<B> {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Serves the callback path itself and hands every other path to `inner`.
#[derive(Clone)]
pub struct CallbackRoute<S> {
    path: Arc<str>,
    state: AppState,
    inner: S,
}

impl<S> CallbackRoute<S> {
    /// Answers callbacks on `path` from `state`, passing other requests to `inner`.
    pub fn new(path: &str, state: AppState, inner: S) -> CallbackRoute<S> {
        CallbackRoute {
            path: Arc::from(path),
            state,
            inner,
        }
    }
}

impl<S> Service<Request> for CallbackRoute<S>
where
    S: Service<Request, Response = axum::response::Response, Error = Infallible>,
{
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<axum::response::Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.uri().path() != &*self.path {
            return Either::Right(self.inner.call(request));
        }
        // A panic here is caught by the stack around this service.
        let response = match *request.method() {
            Method::GET | Method::HEAD => answer(&self.state, &request),
            _ => ApiError::MethodNotAllowed.into_response(),
        };
        Either::Left(ready(Ok(response)))
    }
}
