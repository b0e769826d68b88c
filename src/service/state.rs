//! The server's shared state: the live config (swapped whole on reload), the overrides,
//! readiness and metrics.

use crate::auth::signature::Verifier;
use crate::auth::token::AdminToken;
use crate::config::{Config, ConfigSource};
use crate::ledger::DomainMap;
use crate::ledger::live::LiveLedger;
use crate::overrides::{OVERRIDE_RULE_NAME, Overrides};
use crate::quota::{Quota, QuotaBook, QuotaSpec};
use crate::rules::{DEFAULT_RULE_NAME, RuleSet};
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use prometheus_client::metrics::counter::Counter;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What one config file makes the server do until the next reload: its rule set, the
/// checks it sets on callers, and a hit counter per rule.
#[derive(Debug)]
pub struct LiveConfig {
    /// The compiled rules and default.
    pub rule_set: RuleSet,
    /// The config file they came from.
    pub source: ConfigSource,
    /// The callback signature check of that file, `None` when off.
    pub auth: Option<Verifier>,
    /// The admin API's bearer token from that file, `None` when none is asked.
    pub admin_token: Option<AdminToken>,
    /// The signature check of ingest events from that file, `None` when off.
    pub ingest_auth: Option<Verifier>,
    /// The signature check of status and file events from that file, `None` when off.
    pub notify_auth: Option<Verifier>,
    /// `[platform] ingest_domains` from that file.
    pub domains: DomainMap,
    /// `[[quota]]` from that file, live, in file order: a rule's `quota` is a position here.
    pub quotas: Arc<Vec<Arc<Quota>>>,
    /// One decision counter per rule, in rule order, then one for the default.
    hits: Vec<Counter>,
    /// When each rule (then the default) last decided or, for a shadow rule, would have:
    /// Unix milliseconds, 0 for never since this set was loaded.
    last_hit: Vec<AtomicU64>,
}

impl LiveConfig {
    /// Wraps `rules`, fetching each rule's counter from `metrics` once, so that hits carry
    /// over a reload for a rule that keeps its name.
    pub fn new(
        rule_set: RuleSet,
        security: Security,
        source: ConfigSource,
        metrics: &Metrics,
        book: &QuotaBook,
    ) -> LiveConfig {
        let hits = rule_set
            .rules()
            .iter()
            .map(|r| metrics.decision_counter(&r.name, r.decision.record()))
            .chain([
                metrics.decision_counter(DEFAULT_RULE_NAME, rule_set.default_decision().record())
            ])
            .collect();
        let last_hit = (0..=rule_set.len()).map(|_| AtomicU64::new(0)).collect();
        LiveConfig {
            rule_set,
            source,
            auth: security.auth,
            admin_token: security.admin_token,
            ingest_auth: security.ingest_auth,
            notify_auth: security.notify_auth,
            domains: security.domains,
            quotas: book.install(&security.quotas),
            hits,
            last_hit,
        }
    }

    /// The slot of rule `index` in the per-rule vectors; the default's is last.
    fn slot(&self, index: Option<usize>) -> usize {
        index.unwrap_or(self.rule_set.len())
    }

    /// The decision counter of rule `index` (or of the default, for `None`).
    pub fn counter(&self, index: Option<usize>) -> Option<&Counter> {
        self.hits.get(self.slot(index))
    }

    /// Records that rule `index` (or the default, for `None`) was hit at `unix_ms`.
    pub fn touch(&self, index: Option<usize>, unix_ms: u64) {
        if let Some(last) = self.last_hit.get(self.slot(index)) {
            last.store(unix_ms, Ordering::Relaxed);
        }
    }

    /// When rule `index` (or the default) was last hit, Unix milliseconds; 0 for never.
    pub fn last_hit(&self, index: Option<usize>) -> u64 {
        self.last_hit
            .get(self.slot(index))
            .map_or(0, |t| t.load(Ordering::Relaxed))
    }

    /// Decisions made by rule `index` (or by the default, for `None`) since start.
    pub fn hits(&self, index: Option<usize>) -> u64 {
        self.hits.get(self.slot(index)).map_or(0, Counter::get)
    }
}

/// The checks a config file sets on callers, which a reload replaces with the rules.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// The callback signature check, `None` when off.
    pub auth: Option<Verifier>,
    /// The admin API's bearer token, `None` when none is asked.
    pub admin_token: Option<AdminToken>,
    /// The signature check of ingest events, `None` when off.
    pub ingest_auth: Option<Verifier>,
    /// The signature check of status and file events, `None` when off.
    pub notify_auth: Option<Verifier>,
    /// Ingest domain to streaming domain.
    pub domains: DomainMap,
    /// The quotas streams are checked against.
    pub quotas: Vec<QuotaSpec>,
}

impl Security {
    /// The checks `config` sets.
    pub fn of(config: &Config) -> Security {
        Security {
            auth: config.auth.clone(),
            admin_token: config.admin.token.clone(),
            ingest_auth: config.lifecycle.ingest_auth.clone(),
            notify_auth: config.lifecycle.notify_auth.clone(),
            domains: config.lifecycle.domains.clone(),
            quotas: config.quotas.clone(),
        }
    }
}

/// What the server keeps outside the config: the overrides, the recording ledger and
/// the quotas' slots.
pub struct Stores {
    /// The runtime overrides.
    pub overrides: Arc<Overrides>,
    /// The recording ledger.
    pub ledger: Arc<LiveLedger>,
    /// The quotas, kept across reloads by name.
    pub quotas: Arc<QuotaBook>,
}

/// What every handler shares; one `Arc`, so handing it to a handler is one atomic add.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    live: ArcSwap<LiveConfig>,
    ready: AtomicBool,
    metrics: Arc<Metrics>,
    overrides: Arc<Overrides>,
    ledger: Arc<LiveLedger>,
    quota_book: Arc<QuotaBook>,
    /// The decision counters of overrides, by `NeedRecord`.
    override_hits: [Counter; 2],
}

impl AppState {
    /// State serving `rules` (checked by `auth`) read from `source`, ready at once, with
    /// fresh metrics and no overrides.
    pub fn new(rules: RuleSet, auth: Option<Verifier>, source: ConfigSource) -> AppState {
        let metrics = Arc::new(Metrics::new());
        let overrides = Arc::new(Overrides::off(&metrics));
        let ledger = Arc::new(LiveLedger::off(Arc::clone(&metrics)));
        let security = Security {
            auth,
            ..Security::default()
        };
        let stores = Stores {
            overrides,
            ledger,
            quotas: Arc::default(),
        };
        AppState::with_stores(rules, security, source, metrics, stores)
    }

    /// State serving `rules` with `stores`, reporting to `metrics`.
    pub fn with_stores(
        rules: RuleSet,
        security: Security,
        source: ConfigSource,
        metrics: Arc<Metrics>,
        stores: Stores,
    ) -> AppState {
        let Stores {
            overrides,
            ledger,
            quotas: quota_book,
        } = stores;
        let live = LiveConfig::new(rules, security, source, &metrics, &quota_book);
        publish(&metrics, &live);
        let override_hits = [false, true].map(|r| metrics.decision_counter(OVERRIDE_RULE_NAME, r));
        AppState(Arc::new(Shared {
            live: ArcSwap::from_pointee(live),
            ready: AtomicBool::new(true),
            metrics,
            overrides,
            ledger,
            quota_book,
            override_hits,
        }))
    }

    /// The quotas, kept across reloads.
    pub fn quota_book(&self) -> &Arc<QuotaBook> {
        &self.0.quota_book
    }

    /// The recording ledger.
    pub fn ledger(&self) -> &Arc<LiveLedger> {
        &self.0.ledger
    }

    /// The runtime overrides.
    pub fn overrides(&self) -> &Arc<Overrides> {
        &self.0.overrides
    }

    /// The decision counter of overrides answering `need_record`.
    pub fn override_counter(&self, need_record: bool) -> &Counter {
        &self.0.override_hits[usize::from(need_record)]
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// The live config; hold it for one request only.
    pub fn live(&self) -> arc_swap::Guard<Arc<LiveConfig>> {
        self.0.live.load()
    }

    /// The live config as an owned handle, for longer work such as a reload diff.
    pub fn live_full(&self) -> Arc<LiveConfig> {
        self.0.live.load_full()
    }

    /// Replaces the live config whole: each request sees the old or the new one, never a
    /// mix.
    pub fn swap_live(&self, rules: RuleSet, security: Security, source: ConfigSource) {
        let live = LiveConfig::new(rules, security, source, &self.0.metrics, &self.0.quota_book);
        publish(&self.0.metrics, &live);
        self.0.live.store(Arc::new(live));
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.0.ready.load(Ordering::Acquire)
    }

    /// Flips readiness, e.g. to 503 when shutdown begins.
    pub fn set_ready(&self, ready: bool) {
        self.0.ready.store(ready, Ordering::Release);
    }
}

/// Exports what describes a newly loaded rule set: its size and when it was loaded.
fn publish(metrics: &Metrics, live: &LiveConfig) {
    metrics.rules_loaded.set(live.rule_set.len() as i64);
    metrics
        .last_reload_success
        .set(live.source.loaded_at.as_millisecond() as f64 / 1000.0);
}
