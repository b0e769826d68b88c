//! Bind, serve and shut down: HTTP/1.1 accept loops for the public and admin routers, the
//! reloader, and the shutdown sequence a load balancer survives.

use crate::config::{Config, Limits};
use crate::http::{App, Edge, PublicPaths, admin_router, public_router};
use crate::ledger::live::{Ends, LiveLedger};
use crate::overrides::{Overrides, StoreSpec};
use crate::quota::{self, QuotaBook};
use crate::server::connection;
use crate::server::reload::{Reloader, StartedWith};
use crate::service::{AppState, Security, Stores};
use crate::telemetry::metrics::Metrics;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits
/// up to `drain` for in-flight requests. At most `limits.max_connections` are open at
/// once; further clients wait in the kernel's backlog.
pub async fn serve(
    listener: TcpListener,
    service: Edge<impl App>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    limits: Limits,
) {
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, &slots) => accepted,
            () = &mut shutdown => break,
        };
        let (stream, slot) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        // Answers are one small write; waiting for Nagle only adds latency.
        let _ = stream.set_nodelay(true);
        let connection = connection::serve(stream, service.clone(), limits, stopping.clone());
        connections.spawn(async move {
            connection.await;
            drop(slot);
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    tokio::select! {
        () = connections.wait() => tracing::debug!("all connections drained"),
        () = tokio::time::sleep(drain) => {
            tracing::warn!(timeout = ?drain, "drain timed out; closing remaining connections");
        }
    }
}

/// Waits for a free connection slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(std::io::Error::other)?;
    let (stream, _peer) = listener.accept().await?;
    Ok((stream, slot))
}

/// Command-line settings that win over the file.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Overrides `[server] listen`.
    pub listen: Option<SocketAddr>,
    /// Overrides `[admin] listen`.
    pub admin_listen: Option<SocketAddr>,
    /// Reload on SIGHUP.
    pub reload: bool,
    /// With `reload`, also reload when the config file changes.
    pub watch: bool,
    /// Overrides `[overrides] store`.
    pub overrides_store: Option<StoreSpec>,
}

/// A started server: its bound addresses, its state, and the handles to stop it.
pub struct Running {
    /// Where the callback listener is bound.
    pub addr: SocketAddr,
    /// Where the admin listener is bound, if there is one.
    pub admin_addr: Option<SocketAddr>,
    /// The shared state (rules, readiness, metrics).
    pub state: AppState,
    stop: CancellationToken,
    /// Listeners, the reloader, the quota sync and the ledger's sweep: they end on `stop`.
    tasks: Vec<JoinHandle<()>>,
    /// Fired once `tasks` ended: the ledger's writers write what is queued and end.
    finish: CancellationToken,
    writers: Vec<JoinHandle<()>>,
    /// Fired once the writers ended: the store's tasks close the store and end.
    close: CancellationToken,
    store_tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting on every listener and drains; `wait` completes afterwards.
    pub fn stop(&self) {
        self.state.set_ready(false);
        self.stop.cancel();
    }

    /// Waits until every listener has drained and the reloader has stopped; then until the
    /// ledger has written what the drained requests queued; then closes the store. In that
    /// order, so that no decision or event taken in is lost to a store already closed.
    pub async fn wait(self) {
        join(self.tasks).await;
        self.finish.cancel();
        join(self.writers).await;
        self.close.cancel();
        join(self.store_tasks).await;
    }
}

async fn join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        if let Err(error) = task.await {
            tracing::error!(%error, "server task failed");
        }
    }
}

/// Binds the listeners and starts serving `config`; returns once they accept.
pub async fn start(config: Config, options: StartOptions) -> anyhow::Result<Running> {
    let stop = CancellationToken::new();
    let rule_count = config.rules.len();
    let security = Security::of(&config);
    let Config {
        server,
        mut admin,
        mut overrides,
        lifecycle,
        rules,
        source,
        ..
    } = config;
    // The reloader compares the file with the file, not with the command line.
    let (file_admin, file_overrides) = (admin.clone(), overrides.clone());
    admin.listen = options.admin_listen.or(admin.listen);
    admin
        .check_exposure()
        .map_err(|message| anyhow::anyhow!("admin listener: {message}"))?;
    overrides.store = options.overrides_store.unwrap_or(overrides.store);
    let config_path = source.path.clone();
    let metrics = Arc::new(Metrics::new());
    let store = Overrides::open(&overrides.store, overrides.timeout, &metrics)
        .await
        .map_err(|e| anyhow::anyhow!("override store {}: {e}", overrides.store))?;
    let store = Arc::new(store);
    let (finish, close) = (CancellationToken::new(), CancellationToken::new());
    let store_tasks = store.spawn(&close, overrides.resync_interval);
    let mut tasks = Vec::new();
    let quota_book = Arc::new(QuotaBook::default());
    if !security.quotas.is_empty() && store.database().is_none() {
        anyhow::bail!(
            "[[quota]] counts recordings in the store, but the override store is off; give [overrides] a store"
        );
    }
    let (ledger, writers) = match (lifecycle.is_on(), store.database()) {
        (true, Some(db)) => {
            let (ledger, started) = LiveLedger::start(
                db.clone(),
                Arc::clone(&metrics),
                Arc::clone(&quota_book) as Arc<dyn Ends>,
                lifecycle.notify_path.is_some(),
                lifecycle.retention,
                &stop,
                &finish,
            );
            tasks.push(started.sweep);
            (ledger, started.writers)
        }
        (true, None) => {
            tracing::warn!(
                "[lifecycle] needs a store; with [overrides] store = \"off\", lifecycle events answer 503"
            );
            (LiveLedger::off(Arc::clone(&metrics)), Vec::new())
        }
        (false, _) => (LiveLedger::off(Arc::clone(&metrics)), Vec::new()),
    };
    let stores = Stores {
        overrides: Arc::clone(&store),
        ledger: Arc::new(ledger),
        quotas: quota_book,
    };
    let state = AppState::with_stores(rules, security, source.clone(), metrics, stores);
    if let (true, Some(db)) = (state.ledger().is_on(), store.database()) {
        let sync = quota::sync::start(
            Arc::clone(state.quota_book()),
            db.clone(),
            Arc::clone(state.metrics()),
            stop.clone(),
        )
        .await;
        tasks.push(sync);
    }
    let drain = server.drain_timeout;

    let limits = server.limits;
    let (listener, addr) = bind(options.listen.unwrap_or(server.listen)).await?;
    let paths = PublicPaths {
        callback: &server.callback_path,
        ingest: lifecycle.ingest_path.as_deref(),
        notify: lifecycle.notify_path.as_deref(),
    };
    let app = public_router(state.clone(), paths, limits.request_timeout);
    let service = Edge::with_callback(app, &server.callback_path, state.clone());
    tasks.push(spawn_serve(listener, service, &stop, drain, limits));

    let admin_addr = match admin.listen {
        Some(admin) => {
            let (listener, admin_addr) = bind(admin).await?;
            let app = Edge::new(admin_router(state.clone(), limits.request_timeout));
            tasks.push(spawn_serve(listener, app, &stop, drain, limits));
            Some(admin_addr)
        }
        None => None,
    };

    if options.reload {
        let settings = StartedWith {
            source: &source,
            server: &server,
            admin: &file_admin,
            overrides: &file_overrides,
            lifecycle: &lifecycle,
        };
        let reloader = Reloader::with_settings(settings, state.clone());
        tasks.push(reloader.spawn(stop.clone(), options.watch)?);
    }
    tracing::info!(
        listen = %addr,
        admin = ?admin_addr,
        callback_path = %server.callback_path,
        rules = rule_count,
        overrides = store.snapshot().len(),
        override_store = %overrides.store,
        config = %config_path.display(),
        "serving"
    );
    Ok(Running {
        addr,
        admin_addr,
        state,
        stop,
        tasks,
        finish,
        writers,
        close,
        store_tasks,
    })
}

/// Serves `app` on `listener` in a task of its own until `stop` fires.
fn spawn_serve(
    listener: TcpListener,
    app: Edge<impl App>,
    stop: &CancellationToken,
    drain: Duration,
    limits: Limits,
) -> JoinHandle<()> {
    tokio::spawn(serve(
        listener,
        app,
        stop.clone().cancelled_owned(),
        drain,
        limits,
    ))
}

async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}

/// Serves until SIGTERM or SIGINT, then shuts down the way a load balancer expects:
///
/// 1. `/readyz` answers 503 at once;
/// 2. on SIGTERM, requests are still served for `[server] shutdown_grace`, so the load
///    balancer sees the failing probe and stops sending (SIGINT, or a second signal,
///    skips this);
/// 3. the listeners stop accepting and in-flight requests get `[server] drain_timeout`.
pub async fn run(config: Config, options: StartOptions) -> anyhow::Result<()> {
    // Handlers go in before the server announces itself, so no signal is missed.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let grace = config.server.shutdown_grace;
    let running = start(config, options).await?;

    let sigterm = tokio::select! {
        _ = terminate.recv() => true,
        _ = interrupt.recv() => false,
    };
    running.state.set_ready(false);
    if sigterm && !grace.is_zero() {
        tracing::info!(grace = ?grace, "SIGTERM: readiness failing; serving through the grace period");
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            () = next_signal(&mut terminate, &mut interrupt) => {
                tracing::info!("second signal: skipping the rest of the grace period");
            }
        }
    } else {
        tracing::info!("shutting down");
    }
    tracing::info!("no longer accepting; draining in-flight requests");
    running.stop();
    running.wait().await;
    tracing::info!("stopped");
    Ok(())
}

async fn next_signal(terminate: &mut Signal, interrupt: &mut Signal) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
