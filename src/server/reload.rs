//! Hot reload: on SIGHUP or a change of the config file, read, validate and compile the
//! whole file, then swap the rule set atomically; a bad file keeps the last good rules.

use crate::config::{
    AdminSettings, Config, ConfigError, ConfigSource, LifecycleSettings, OverrideSettings,
    ServerSettings, read_text, sha256_hex,
};
use crate::rules::RuleDiff;
use crate::service::{AppState, Security};
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Quiet time after the last file event before reloading: editors and ConfigMap updates
/// touch a file several times in a burst.
pub const WATCH_DEBOUNCE: Duration = Duration::from_millis(200);

/// What a successful reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// Rules added, removed, changed.
    pub diff: RuleDiff,
    /// Settings that differ from the running ones and need a restart to apply, named
    /// `section.field` as in the file (`server.max_connections`).
    pub needs_restart: Vec<String>,
}

/// The settings a server started with, which a reload compares against.
#[derive(Debug, Clone, Copy)]
pub struct StartedWith<'a> {
    /// The file and its hash.
    pub source: &'a ConfigSource,
    /// `[server]`.
    pub server: &'a ServerSettings,
    /// `[admin]`.
    pub admin: &'a AdminSettings,
    /// `[overrides]`.
    pub overrides: &'a OverrideSettings,
    /// `[lifecycle]`.
    pub lifecycle: &'a LifecycleSettings,
}

/// Reloads one config file into one server's state.
pub struct Reloader {
    path: PathBuf,
    state: AppState,
    /// `[server]` and `[admin]` as the server started with them.
    server: ServerSettings,
    admin: AdminSettings,
    /// `[overrides]` and `[lifecycle]` as the server started with them.
    overrides: OverrideSettings,
    lifecycle: LifecycleSettings,
    /// SHA-256 of the last content tried, good or bad, so that a watcher event without a
    /// change of content does nothing.
    last_seen: Mutex<String>,
}

impl Reloader {
    /// A reloader for the file `config` was read from.
    pub fn new(config: &Config, state: AppState) -> Reloader {
        let settings = StartedWith {
            source: &config.source,
            server: &config.server,
            admin: &config.admin,
            overrides: &config.overrides,
            lifecycle: &config.lifecycle,
        };
        Reloader::with_settings(settings, state)
    }

    /// A reloader for the file described by `settings.source`, serving with its settings.
    pub fn with_settings(settings: StartedWith<'_>, state: AppState) -> Reloader {
        Reloader {
            path: settings.source.path.clone(),
            state,
            server: settings.server.clone(),
            admin: settings.admin.clone(),
            overrides: settings.overrides.clone(),
            lifecycle: settings.lifecycle.clone(),
            last_seen: Mutex::new(settings.source.sha256.clone()),
        }
    }

    /// Reloads now, whatever the file holds; `trigger` labels the log lines.
    pub fn reload(&self, trigger: &'static str) -> Result<ReloadReport, ConfigError> {
        let started = std::time::Instant::now();
        let text = read_text(&self.path);
        if let Ok(text) = &text {
            self.remember(sha256_hex(text.as_bytes()));
        }
        let outcome = text.and_then(|text| Config::from_str(&text, &self.path));
        let result = self.settle(outcome, trigger, started);
        // The file's text, its parse and (once no request holds them) the old rules are
        // freed by now.
        crate::memory::give_back_freed();
        result
    }

    fn settle(
        &self,
        outcome: Result<Config, ConfigError>,
        trigger: &'static str,
        started: std::time::Instant,
    ) -> Result<ReloadReport, ConfigError> {
        match outcome {
            Ok(config) => Ok(self.apply(config, trigger, started)),
            Err(error) => {
                self.state.metrics().count_reload(false);
                for line in error.lines() {
                    tracing::error!(trigger, problem = %line, "config reload refused");
                }
                tracing::error!(trigger, "reload failed; the last good rules keep serving");
                Err(error)
            }
        }
    }

    /// Reloads only if the file's content differs from the last content tried.
    pub fn reload_if_changed(
        &self,
        trigger: &'static str,
    ) -> Option<Result<ReloadReport, ConfigError>> {
        let current = std::fs::read(&self.path)
            .ok()
            .map(|bytes| sha256_hex(&bytes));
        let unchanged = current.is_some_and(|hash| {
            self.last_seen
                .lock()
                .map(|seen| *seen == hash)
                .unwrap_or(false)
        });
        (!unchanged).then(|| self.reload(trigger))
    }

    fn remember(&self, hash: String) {
        if let Ok(mut seen) = self.last_seen.lock() {
            *seen = hash;
        }
    }

    fn apply(
        &self,
        config: Config,
        trigger: &'static str,
        started: std::time::Instant,
    ) -> ReloadReport {
        let old = self.state.live_full();
        let diff = RuleDiff::between(&old.rule_set, &config.rules);
        let needs_restart = self.needs_restart(&config);
        for setting in &needs_restart {
            tracing::warn!(
                trigger,
                setting = setting.as_str(),
                "changed in the file; needs a restart to apply"
            );
        }
        let rules = config.rules.len();
        let security = Security::of(&config);
        self.state.swap_live(config.rules, security, config.source);
        self.state.metrics().count_reload(true);
        tracing::info!(
            trigger,
            rules,
            added = ?diff.added,
            removed = ?diff.removed,
            changed = ?diff.changed,
            reordered = diff.reordered,
            default_changed = diff.default_changed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "config reloaded"
        );
        ReloadReport {
            diff,
            needs_restart,
        }
    }

    /// Settings the running server cannot change that differ in `new`. Whole sections are
    /// compared, so a setting added to a section is covered without being listed here;
    /// what applies live (rules, `[auth]`, the admin token, the lifecycle signature checks
    /// and `[platform] ingest_domains`) is not part of them.
    fn needs_restart(&self, new: &Config) -> Vec<String> {
        let mut settings = changed_settings("server", &self.server, &new.server);
        settings.extend(changed_settings("admin", &self.admin, &new.admin));
        settings.extend(changed_settings(
            "overrides",
            &self.overrides,
            &new.overrides,
        ));
        settings.extend(changed_settings(
            "lifecycle",
            &self.lifecycle,
            &new.lifecycle,
        ));
        settings
    }

    /// Reloads on SIGHUP, and with `watch_file` on changes of the file, until `cancel`
    /// fires.
    ///
    /// The signal handler is installed before this returns its future, so a SIGHUP sent
    /// once the server announces itself is never missed.
    pub fn spawn(
        self,
        cancel: CancellationToken,
        watch_file: bool,
    ) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup())?;
        let (tx, mut events) = mpsc::unbounded_channel::<()>();
        let _watcher = if watch_file {
            watch(&self.path, tx)
        } else {
            None
        };
        let this = std::sync::Arc::new(self);
        Ok(tokio::spawn(async move {
            // Keep the watcher alive as long as the loop runs.
            let _watcher = _watcher;
            loop {
                // Compiling a large file takes a while: off the request threads.
                let reloader = std::sync::Arc::clone(&this);
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = hangup.recv() => {
                        let _ = tokio::task::spawn_blocking(move || reloader.reload("sighup")).await;
                    }
                    Some(()) = events.recv() => {
                        debounce(&mut events).await;
                        let _ = tokio::task::spawn_blocking(move || {
                            reloader.reload_if_changed("file change")
                        })
                        .await;
                    }
                }
            }
        }))
    }
}

/// The fields of settings section `section` that differ between `old` and `new`, as
/// `section.field`, found by comparing the two serialised whole.
fn changed_settings<T: serde::Serialize>(section: &str, old: &T, new: &T) -> Vec<String> {
    use serde_json::Value;
    match (serde_json::to_value(old), serde_json::to_value(new)) {
        (Ok(Value::Object(old)), Ok(Value::Object(new))) => {
            let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .filter(|name| old.get(*name) != new.get(*name))
                .map(|name| format!("{section}.{name}"))
                .collect()
        }
        (Ok(old), Ok(new)) if old == new => Vec::new(),
        _ => vec![section.to_owned()],
    }
}

/// Waits until no event has arrived for `WATCH_DEBOUNCE`.
async fn debounce(events: &mut mpsc::UnboundedReceiver<()>) {
    loop {
        match tokio::time::timeout(WATCH_DEBOUNCE, events.recv()).await {
            Ok(Some(())) => continue,
            Ok(None) | Err(_) => return,
        }
    }
}

/// Watches the file's directory, so replacing the file by rename (editors, Kubernetes
/// ConfigMaps swapping their `..data` link) is seen as well as writing it in place.
fn watch(path: &Path, tx: mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
    let file_name = path.file_name()?.to_owned();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = event.paths.iter().any(|p| {
            p.file_name()
                .is_some_and(|name| name == file_name || name.to_string_lossy().starts_with(".."))
        });
        if relevant {
            let _ = tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "cannot watch the config file; reload with SIGHUP");
            return None;
        }
    };
    if let Err(error) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(%error, dir = %dir.display(), "cannot watch the config directory; reload with SIGHUP");
        return None;
    }
    Some(watcher)
}
