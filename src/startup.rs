//! Bind, serve and shut down: an HTTP/1.1 accept loop around the router, driven by a
//! shutdown future so tests and signals stop it the same way.

use crate::config::Config;
use crate::http::{AppState, router};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// SECURITY: how long a client may take to send its request head; the platform sends its
/// request at once, so a slow one is an attack (slowloris) or a broken peer.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// SECURITY: the most bytes buffered for one request head (request line and headers).
/// hyper's minimum; a genuine callback needs under 3 KiB.
pub const MAX_HEAD_BYTES: usize = 8192;
/// How long in-flight requests may take to finish once shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits
/// up to `DRAIN_TIMEOUT` for in-flight requests.
pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are one small write; waiting for Nagle only adds latency.
        let _ = stream.set_nodelay(true);
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!(timeout = ?DRAIN_TIMEOUT, "drain timed out; closing remaining connections");
        }
    }
}

/// Binds the configured (or overridden) address and serves until SIGTERM or SIGINT.
pub async fn run(config: Config, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    // Signal handlers go in before the server announces itself, so a signal sent as soon
    // as it serves is never missed.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let addr = listen.unwrap_or(config.server.listen);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let state = AppState::new(config.rules);
    let app = router(state.clone(), &config.server.callback_path);
    tracing::info!(
        listen = %listener.local_addr()?,
        callback_path = %config.server.callback_path,
        rules = state.rules.load().rules().len(),
        "serving"
    );
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received; shutting down"),
            _ = interrupt.recv() => tracing::info!("SIGINT received; shutting down"),
        }
        state.set_ready(false);
    };
    serve(listener, app, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}
