//! Prometheus metrics, one registry per server (no globals, so tests stay independent).
//!
//! Labels are bounded: rule names (from the config), route templates, status codes and
//! fixed reason codes, never raw paths or query values.

use super::exposition::{Exposition, to_prometheus_text};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// `recgate_decisions_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// Rule name, `default` or `override`.
    pub rule: String,
    /// The answer's `NeedRecord`.
    pub need_record: bool,
}

/// A route template as a label value; cloning it is one atomic add, not an allocation.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct RouteLabel(Arc<str>);

impl RouteLabel {
    /// The route template.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for RouteLabel {
    fn from(route: &str) -> RouteLabel {
        RouteLabel(Arc::from(route))
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(&self.0)
    }
}

/// `recgate_http_requests_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template (`/`, `/healthz`, ...), or `unmatched`.
    pub route: RouteLabel,
    /// HTTP status code.
    pub status: u16,
}

/// Labels holding one reason or result code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The reason code (`query_too_long`, ...).
    pub reason: &'static str,
}

/// Labels naming one rule.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    /// The rule's name.
    pub rule: String,
}

/// `recgate_override_syncs_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScopeLabels {
    /// `full` (the whole store read), `changed` (only the overrides a notification named)
    /// or `unchanged` (a periodic check that found nothing to read).
    pub scope: &'static str,
}

/// `recgate_config_reloads_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or `failure`.
    pub result: &'static str,
}

/// `recgate_lifecycle_events_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// `publish`, `publish_done`, `record_started`, `record_paused`, `record_resumed`,
    /// `file` or `unknown`.
    pub kind: &'static str,
    /// `applied`, `duplicate`, `ignored` or `refused`.
    pub outcome: &'static str,
}

/// `recgate_recordings_active` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// `decided`, `recording` or `paused`.
    pub state: &'static str,
}

/// One quota's figures, as the metrics show them.
#[derive(Debug, Clone, Copy)]
pub struct QuotaReading {
    /// Recordings in progress counting toward it.
    pub active: u64,
    /// Its cap.
    pub max_active: Option<u64>,
    /// Hours recorded this month.
    pub hours: f64,
    /// Its monthly budget.
    pub monthly_hours: Option<f64>,
    /// Streams it refused on this replica since start.
    pub refused: u64,
}

/// Labels naming one quota.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QuotaLabels {
    /// The quota's name.
    pub quota: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// `recgate_log_lines_dropped_total`, read from the log writer when scraped.
#[derive(Debug)]
struct LogLinesDropped;

impl EncodeMetric for LogLinesDropped {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&crate::telemetry::dropped_lines(), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Every metric recgate exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Decisions sent, by deciding rule.
    pub decisions: Family<DecisionLabels, Counter>,
    /// Seconds from request to response on the callback.
    pub decision_duration: Histogram,
    /// HTTP requests by route template and status.
    pub http_requests: Family<RequestLabels, Counter>,
    /// Requests refused, by reason.
    pub rejected: Family<ReasonLabels, Counter>,
    /// Callback signatures that did not verify, by reason (in `log` and `enforce` modes).
    pub signature_failures: Family<ReasonLabels, Counter>,
    /// Callbacks a shadow rule would have decided, by rule.
    pub shadow_matches: Family<RuleLabels, Counter>,
    /// Panics caught on the request path (each answered with the default decision).
    pub panics: Counter,
    /// Config reloads by result.
    pub reloads: Family<ResultLabels, Counter>,
    /// Unix time of the last successful (re)load.
    pub last_reload_success: Gauge<f64, AtomicU64>,
    /// Rules in the live rule set.
    pub rules_loaded: Gauge,
    /// 1 while the override store answers, 0 while it does not (or is off).
    pub overrides_store_up: Gauge,
    /// Overrides in the served snapshot.
    pub overrides_loaded: Gauge,
    /// Full reads of the override store that failed.
    pub override_sync_failures: Counter,
    /// Snapshot refreshes from the store, by scope.
    pub override_syncs: Family<ScopeLabels, Counter>,
    /// Lifecycle events received, by kind and outcome.
    pub lifecycle_events: Family<EventLabels, Counter>,
    /// Recordings in progress, by state, as of the last count.
    pub recordings_active: Family<StateLabels, Gauge>,
    /// Seconds of content in recorded files, by the rule that decided the recording
    /// (`none` when recgate did not).
    pub recorded_seconds: Family<RuleLabels, Counter<f64, AtomicU64>>,
    /// On-demand decisions not written to the ledger (queue full or store down); the
    /// stream's first lifecycle event recreates the entry.
    pub decisions_unrecorded: Counter,
    /// Each quota's recordings in progress across the fleet, as of the last sync.
    pub quota_active: Family<QuotaLabels, Gauge>,
    /// Each quota's `max_active`.
    pub quota_max_active: Family<QuotaLabels, Gauge>,
    /// Each quota's hours recorded this month, as of the last sync.
    pub quota_hours: Family<QuotaLabels, Gauge<f64, AtomicU64>>,
    /// Each quota's `monthly_hours`.
    pub quota_monthly_hours: Family<QuotaLabels, Gauge<f64, AtomicU64>>,
    /// Streams each quota refused on this replica (or, in shadow mode, would have).
    pub quota_refused: Family<QuotaLabels, Counter>,
}

impl Metrics {
    /// Counts one lifecycle event of `kind` with its `outcome`.
    pub fn count_lifecycle_event(&self, kind: &'static str, outcome: &'static str) {
        self.lifecycle_events
            .get_or_create(&EventLabels { kind, outcome })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "recgate_decisions",
            "Callback decisions sent, by deciding rule and NeedRecord",
            decisions.clone(),
        );
        // 10 µs .. ~82 ms in 14 doublings: the callback answers in microseconds.
        let decision_duration = Histogram::new(exponential_buckets(0.000_01, 2.0, 14));
        registry.register(
            "recgate_decision_duration_seconds",
            "Time from callback request to response",
            decision_duration.clone(),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "recgate_http_requests",
            "HTTP requests by route template and status",
            http_requests.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "recgate_rejected_requests",
            "Requests refused, by reason",
            rejected.clone(),
        );
        let signature_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "recgate_signature_failures",
            "Callback signatures that did not verify, by reason",
            signature_failures.clone(),
        );
        let shadow_matches = Family::<RuleLabels, Counter>::default();
        registry.register(
            "recgate_shadow_matches",
            "Callbacks a shadow rule would have decided, by rule",
            shadow_matches.clone(),
        );
        let panics = Counter::default();
        registry.register(
            "recgate_panics",
            "Panics caught on the request path, answered with the default decision",
            panics.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "recgate_config_reloads",
            "Config reloads by result",
            reloads.clone(),
        );
        let last_reload_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "recgate_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load",
            last_reload_success.clone(),
        );
        let rules_loaded = Gauge::default();
        registry.register(
            "recgate_rules_loaded",
            "Rules in the live rule set",
            rules_loaded.clone(),
        );
        let overrides_store_up = Gauge::default();
        registry.register(
            "recgate_overrides_store_up",
            "1 while the override store answers, else 0 (also when overrides are off)",
            overrides_store_up.clone(),
        );
        let overrides_loaded = Gauge::default();
        registry.register(
            "recgate_overrides_loaded",
            "Overrides in the snapshot the callback reads",
            overrides_loaded.clone(),
        );
        let override_sync_failures = Counter::default();
        registry.register(
            "recgate_override_sync_failures",
            "Full reads of the override store that failed",
            override_sync_failures.clone(),
        );
        let override_syncs = Family::<ScopeLabels, Counter>::default();
        registry.register(
            "recgate_override_syncs",
            "Override snapshot refreshes from the store: full reads, reads of the changed overrides a notification named, checks that found nothing changed",
            override_syncs.clone(),
        );
        registry.register(
            "recgate_log_lines_dropped",
            "Log lines dropped because standard output did not keep up",
            LogLinesDropped,
        );
        let build_info = Family::<VersionLabels, Gauge>::default();
        build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("recgate_build_info", "recgate version", build_info);
        let lifecycle_events = Family::<EventLabels, Counter>::default();
        registry.register(
            "recgate_lifecycle_events",
            "Lifecycle events received, by kind and outcome",
            lifecycle_events.clone(),
        );
        let recordings_active = Family::<StateLabels, Gauge>::default();
        registry.register(
            "recgate_recordings_active",
            "Recordings in progress, by state",
            recordings_active.clone(),
        );
        let recorded_seconds = Family::<RuleLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "recgate_recorded_seconds",
            "Seconds of content in recorded files, by deciding rule",
            recorded_seconds.clone(),
        );
        let decisions_unrecorded = Counter::default();
        registry.register(
            "recgate_decisions_unrecorded",
            "On-demand decisions not written to the recording ledger",
            decisions_unrecorded.clone(),
        );
        let quota_active = Family::<QuotaLabels, Gauge>::default();
        registry.register(
            "recgate_quota_active",
            "Recordings in progress counting toward each quota, across the fleet",
            quota_active.clone(),
        );
        let quota_max_active = Family::<QuotaLabels, Gauge>::default();
        registry.register(
            "recgate_quota_max_active",
            "Each quota's max_active",
            quota_max_active.clone(),
        );
        let quota_hours = Family::<QuotaLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "recgate_quota_hours",
            "Hours recorded this calendar month under each quota, across the fleet",
            quota_hours.clone(),
        );
        let quota_monthly_hours = Family::<QuotaLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "recgate_quota_monthly_hours",
            "Each quota's monthly_hours",
            quota_monthly_hours.clone(),
        );
        let quota_refused = Family::<QuotaLabels, Counter>::default();
        registry.register(
            "recgate_quota_refused",
            "Streams each quota refused on this replica (in shadow mode: would have refused)",
            quota_refused.clone(),
        );
        Metrics {
            registry,
            quota_active,
            quota_max_active,
            quota_hours,
            quota_monthly_hours,
            quota_refused,
            lifecycle_events,
            recordings_active,
            recorded_seconds,
            decisions_unrecorded,
            decisions,
            decision_duration,
            http_requests,
            rejected,
            signature_failures,
            shadow_matches,
            panics,
            reloads,
            last_reload_success,
            rules_loaded,
            overrides_store_up,
            overrides_loaded,
            override_sync_failures,
            override_syncs,
        }
    }

    /// The counter of decisions by `rule`; the handle is kept so the hot path never looks
    /// labels up.
    pub fn decision_counter(&self, rule: &str, need_record: bool) -> Counter {
        self.decisions
            .get_or_create(&DecisionLabels {
                rule: rule.to_owned(),
                need_record,
            })
            .clone()
    }

    /// Shows quota `name`'s figures.
    pub fn show_quota(&self, name: &str, reading: QuotaReading) {
        let labels = QuotaLabels {
            quota: name.to_owned(),
        };
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.quota_active
            .get_or_create(&labels)
            .set(as_i64(reading.active));
        if let Some(max) = reading.max_active {
            self.quota_max_active
                .get_or_create(&labels)
                .set(as_i64(max));
        }
        self.quota_hours.get_or_create(&labels).set(reading.hours);
        if let Some(hours) = reading.monthly_hours {
            self.quota_monthly_hours.get_or_create(&labels).set(hours);
        }
        let refused = self.quota_refused.get_or_create(&labels);
        refused.inc_by(reading.refused.saturating_sub(refused.get()));
    }

    /// Counts a reload outcome.
    pub fn count_reload(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Every metric in `format`.
    pub fn render_as(&self, format: Exposition) -> String {
        match format {
            Exposition::OpenMetrics => self.render(),
            Exposition::PrometheusText => to_prometheus_text(&self.render()),
        }
    }
}
