//! Metrics for every request: by route and status, refusals by reason, and the callback's
//! latency. A plain tower layer, so a request costs no allocation here.

use super::error::Rejected;
use crate::telemetry::metrics::{Metrics, ReasonLabels, RequestLabels, RouteLabel};
use axum::extract::Request;
use axum::http;
use axum::response::Response;
use pin_project_lite::pin_project;
use prometheus_client::metrics::counter::Counter;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

/// The route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The routes a router serves, as metric labels: a request's label is its path when that
/// is one of them, else `unmatched` (never the raw path).
#[derive(Debug, Clone)]
pub struct Routes {
    known: Arc<[RouteLabel]>,
    unmatched: RouteLabel,
    /// The route whose latency feeds `recgate_decision_duration_seconds`.
    timed: Option<RouteLabel>,
}

impl Routes {
    /// Labels for `paths`; `timed` names the callback route, if this router has one.
    pub fn new(paths: &[&str], timed: Option<&str>) -> Routes {
        Routes {
            known: paths.iter().map(|p| RouteLabel::from(*p)).collect(),
            unmatched: RouteLabel::from(UNMATCHED_ROUTE),
            timed: timed.map(RouteLabel::from),
        }
    }

    /// The label of `path`: its route, or for a file under a route ending in `/{file}`,
    /// that route.
    fn label(&self, path: &str) -> &RouteLabel {
        let exact = self.known.iter().find(|route| route.as_str() == path);
        let under = || {
            self.known.iter().find(|route| {
                route
                    .as_str()
                    .strip_suffix("{file}")
                    .is_some_and(|dir| path.strip_prefix(dir).is_some_and(|file| !file.is_empty()))
            })
        };
        exact.or_else(under).unwrap_or(&self.unmatched)
    }
}

/// Layer recording request metrics.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
    routes: Routes,
}

impl ObserveLayer {
    /// Records into `metrics`, labelling by `routes`.
    pub fn new(metrics: Arc<Metrics>, routes: Routes) -> ObserveLayer {
        ObserveLayer { metrics, routes }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service `ObserveLayer` wraps.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = self.layer.routes.label(request.uri().path()).clone();
        let timed = self.layer.routes.timed.as_ref() == Some(&route);
        ObserveFuture {
            inner: self.inner.call(request),
            started: Instant::now(),
            route,
            timed,
            metrics: Arc::clone(&self.layer.metrics),
        }
    }
}

pin_project! {
    /// Records the response's metrics when the inner future completes.
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        route: RouteLabel,
        timed: bool,
        metrics: Arc<Metrics>,
    }
}

impl<F, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            record(
                this.metrics,
                this.route,
                *this.timed,
                *this.started,
                response,
                None,
            );
        }
        Poll::Ready(result)
    }
}

/// Counts an answered request by route and status (and its refusal reason, if any); for
/// the `timed` route, also observes its latency since `started`. `ok` is the route's 200
/// counter when the caller has resolved it already, saving the label lookup.
pub fn record<B>(
    metrics: &Metrics,
    route: &RouteLabel,
    timed: bool,
    started: Instant,
    response: &http::Response<B>,
    ok: Option<&Counter>,
) {
    if timed {
        metrics
            .decision_duration
            .observe(started.elapsed().as_secs_f64());
    }
    if let Some(Rejected(reason)) = response.extensions().get::<Rejected>() {
        metrics
            .rejected
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }
    match ok {
        Some(counter) if response.status() == http::StatusCode::OK => {
            counter.inc();
        }
        _ => {
            metrics
                .http_requests
                .get_or_create(&RequestLabels {
                    route: route.clone(),
                    status: response.status().as_u16(),
                })
                .inc();
        }
    }
}
