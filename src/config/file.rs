//! The config file as written: strict serde structs, no validation beyond types.
//!
//! `RawConfig` reads a valid file in one pass. When that fails, the file is read again with
//! `[default]` and each rule as raw TOML tables (`RawConfig<toml::Table, toml::Table>`),
//! deserialised one by one in `compile`, so an error inside a rule can name that rule.

#[allow(unused_imports, reason = "named by the intra-doc links of the fields")]
use super::defaults::*;
use crate::decision::IntervalSpec;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig<D = RawDecision, R = RawRule, Q = RawQuota> {
    /// `[server]`; every key has a default.
    #[serde(default)]
    pub server: RawServer,
    /// `[admin]`: the optional operators' listener. Default: no admin listener.
    #[serde(default)]
    pub admin: RawAdmin,
    /// `[auth]`: verification of the platform's callback signature. Default: off.
    #[serde(default)]
    pub auth: RawAuth,
    /// `[platform]`: what the platform side is configured with, for `check`'s warnings.
    #[serde(default)]
    pub platform: RawPlatform,
    /// `[overrides]`: where runtime overrides are kept. Default: an SQLite file.
    #[serde(default)]
    pub overrides: RawOverrides,
    /// `[lifecycle]`: the platform's ingest and recording events. Default: not received.
    #[serde(default)]
    pub lifecycle: RawLifecycle,
    /// `[default]`: the decision when no rule matches. Required.
    pub default: D,
    /// `[[rule]]`, in evaluation order. Default: none.
    #[serde(default = "Vec::new")]
    pub rule: Vec<R>,
    /// `[[quota]]`: budgets rules can name. Default: none.
    #[serde(default = "Vec::new")]
    pub quota: Vec<Q>,
}

/// `[[quota]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuota {
    /// Unique name, which rules give as `quota`. Required.
    pub name: String,
    /// Recordings at once (decided, recording or paused), at most. Default: no cap.
    pub max_active: Option<u64>,
    /// Recorded hours per calendar month, at most. Default: no budget.
    pub monthly_hours: Option<f64>,
    /// IANA time zone where the month starts. Default `UTC`.
    pub timezone: Option<String>,
    /// `enforce` (a full quota's rules do not match) or `shadow` (counted, never refused).
    /// Default `enforce`.
    pub mode: Option<String>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address of the public callback listener, `IP:PORT`. Default [`DEFAULT_LISTEN`].
    pub listen: Option<String>,
    /// Path of the callback URL registered on the platform. Default [`DEFAULT_CALLBACK_PATH`].
    pub callback_path: Option<String>,
    /// After SIGTERM, how long to keep serving with `/readyz` failing, e.g. `"5s"`.
    /// Default [`DEFAULT_SHUTDOWN_GRACE`], at most [`MAX_SHUTDOWN_STEP`].
    pub shutdown_grace: Option<String>,
    /// After the grace period, how long in-flight requests may take to finish, e.g. `"10s"`.
    /// Default [`DEFAULT_DRAIN_TIMEOUT`], at most [`MAX_SHUTDOWN_STEP`].
    pub drain_timeout: Option<String>,
    /// How long a client may take to send a request head; also how long an idle
    /// keep-alive connection stays open. Default [`DEFAULT_HEADER_READ_TIMEOUT`],
    /// [`MIN_REQUEST_STEP`]..=[`MAX_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Option<String>,
    /// Time limit of every request but the callback (answered synchronously); 408 past it.
    /// Default [`DEFAULT_REQUEST_TIMEOUT`], [`MIN_REQUEST_STEP`]..=[`MAX_SHUTDOWN_STEP`].
    pub request_timeout: Option<String>,
    /// Open connections per listener; more wait in the kernel's backlog.
    /// Default [`DEFAULT_MAX_CONNECTIONS`], 1..=[`MAX_MAX_CONNECTIONS`].
    pub max_connections: Option<usize>,
    /// Largest request head (request line and headers) in bytes; 431 past it.
    /// Default [`DEFAULT_MAX_HEAD_BYTES`], [`MIN_MAX_HEAD_BYTES`]..=[`MAX_MAX_HEAD_BYTES`].
    pub max_head_bytes: Option<usize>,
}

/// `[platform]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    /// Recording formats configured on the platform; the platform records the
    /// intersection with a rule's formats. Default: unknown, not checked.
    pub formats: Option<Vec<String>>,
    /// Ingest domain to streaming domain, for ingest events: `{ "push.example.com" =
    /// "live.example.com" }`. Default: none; an ingest domain not listed is its own
    /// streaming domain.
    pub ingest_domains: Option<std::collections::BTreeMap<String, String>>,
}

/// `[lifecycle]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLifecycle {
    /// Path of the stream ingest callback (`GET`) on the public listener. Default: none,
    /// not served.
    pub ingest_path: Option<String>,
    /// Path of the recording status and file callbacks (`POST`, JSON) on the public
    /// listener. Default: none, not served.
    pub notify_path: Option<String>,
    /// How long ended recordings and files are kept, e.g. `"400d"`. Default
    /// [`DEFAULT_RETENTION_DAYS`] days, at least [`MIN_RETENTION`].
    pub retention: Option<String>,
    /// Signature check of ingest events, keys as in `[auth]`; the signed domain is the
    /// ingest domain the event names. Default: off.
    #[serde(default)]
    pub ingest_auth: RawAuth,
    /// Signature check of status and file events, keys as in `[auth]`; the signed domain
    /// is the host of the notify URL. Default: off.
    #[serde(default)]
    pub notify_auth: RawAuth,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// `off`, `log` (answer, but log and count bad signatures) or `enforce` (403).
    /// Default `off`.
    pub mode: Option<String>,
    /// Name of an environment variable holding the key. One key source is required
    /// unless the mode is `off`.
    pub key_env: Option<String>,
    /// Path of a file holding the key (surrounding white space ignored).
    pub key_file: Option<String>,
    /// The key itself, 16-32 letters and digits; prefer `key_env` or `key_file`.
    pub key: Option<String>,
    /// Host of the callback URL registered on the platform, as signed.
    /// Default: the request's `Host` header without its port.
    pub host: Option<String>,
    /// Largest accepted distance between `ALI-LIVE-TIMESTAMP` and the server's clock,
    /// e.g. `"5m"`. Default [`crate::auth::signature::DEFAULT_MAX_SKEW`], at most
    /// [`MAX_SIGNATURE_SKEW`].
    pub max_skew: Option<String>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Address of the admin listener (`/metrics`, `/rules`, `/overrides`, health),
    /// `IP:PORT`. Default: none, no admin listener.
    pub listen: Option<String>,
    /// Name of an environment variable holding the bearer token every admin call but
    /// `/healthz` and `/readyz` must carry. Required for a non-loopback `listen`.
    pub token_env: Option<String>,
    /// Path of a file holding the token (surrounding white space ignored).
    pub token_file: Option<String>,
}

/// `[overrides]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverrides {
    /// `"sqlite:PATH"` (relative to the config file's directory), `"postgres://..."` or
    /// `"off"`. Default: `<config name>` + [`DEFAULT_OVERRIDE_STORE_SUFFIX`] next to the
    /// config file.
    pub store: Option<String>,
    /// How often the whole store is read again as a safety net, e.g. `"30s"`.
    /// Default [`DEFAULT_RESYNC_INTERVAL`], [`MIN_RESYNC_INTERVAL`]..=[`MAX_RESYNC_INTERVAL`].
    pub resync_interval: Option<String>,
    /// How long to wait for the store before a write fails with 503, e.g. `"2s"`.
    /// Default [`DEFAULT_STORE_TIMEOUT`], [`MIN_STORE_TIMEOUT`]..=[`MAX_STORE_TIMEOUT`].
    pub timeout: Option<String>,
}

/// `[default]`: the decision keys shared with rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecision {
    /// `NeedRecord`. Required.
    pub record: bool,
    /// `Format`: any of `mp4`, `flv`, `m3u8`. Default: omitted from the answer.
    pub formats: Option<Vec<String>>,
    /// `Interval`, seconds per format, each
    /// [`crate::decision::MIN_INTERVAL_SECS`]..=[`crate::decision::MAX_INTERVAL_SECS`].
    /// Default: omitted from the answer.
    pub interval: Option<IntervalSpec>,
}

/// `[[rule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Unique name. Required.
    pub name: String,
    /// Domain pattern (exact, glob or `~regex`, case-insensitive). Default: any.
    pub domain: Option<String>,
    /// App pattern (exact, glob or `~regex`). Default: any.
    pub app: Option<String>,
    /// Stream pattern (exact, glob or `~regex`). Default: any.
    pub stream: Option<String>,
    /// Accepted codecs, `h264` and/or `h265`. Default: any.
    pub codec: Option<Vec<String>>,
    /// Inclusive bitrate bounds in Kbit/s. Default: any.
    pub vbitrate: Option<RawBitrate>,
    /// `NeedRecord`. Required.
    pub record: bool,
    /// `live` (answers) or `shadow` (evaluated, counted and logged, never answers).
    /// Default `live`.
    pub mode: Option<String>,
    /// When the rule applies. Default: always.
    pub schedule: Option<RawSchedule>,
    /// `Format`. Default: omitted from the answer.
    pub formats: Option<Vec<String>>,
    /// `Interval`. Default: omitted from the answer.
    pub interval: Option<IntervalSpec>,
    /// The `[[quota]]` it counts toward: while that is full, the rule does not match.
    /// Default: none.
    pub quota: Option<String>,
}

/// `schedule = { timezone = .., weekly = [..], dates = [..] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// IANA time zone of the windows and dates. Default [`DEFAULT_SCHEDULE_TIMEZONE`].
    pub timezone: Option<String>,
    /// Weekly windows, `"Mon-Fri 08:00-18:00"`; an end not after the start crosses
    /// midnight. Default: none.
    pub weekly: Option<Vec<String>>,
    /// One-off ranges, `"2026-12-24T18:00 to 2026-12-25T02:00"`, local time. Default: none.
    pub dates: Option<Vec<String>>,
}

/// `vbitrate = { min = .., max = .. }`, Kbit/s.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBitrate {
    /// Lowest accepted bitrate, inclusive. Default: no lower bound.
    pub min: Option<u64>,
    /// Highest accepted bitrate, inclusive. Default: no upper bound.
    pub max: Option<u64>,
}
