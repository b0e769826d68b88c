//! The config file as written: strict serde structs, no validation beyond types.
//!
//! `RawConfig` reads a valid file in one pass. When that fails, the file is read again with
//! `[default]` and each rule as raw TOML tables (`RawConfig<toml::Table, toml::Table>`),
//! deserialised one by one in `compile`, so an error inside a rule can name that rule.

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig<D = RawDecision, R = RawRule> {
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
    /// `[default]`: the decision when no rule matches. Required.
    pub default: D,
    /// `[[rule]]`, in evaluation order. Default: none.
    #[serde(default = "Vec::new")]
    pub rule: Vec<R>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address of the public callback listener, `IP:PORT`. Default `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// Path of the callback URL registered on the platform. Default `/`.
    pub callback_path: Option<String>,
    /// After SIGTERM, how long to keep serving with `/readyz` failing, e.g. `"5s"`.
    /// Default `5s`, at most `5m`.
    pub shutdown_grace: Option<String>,
    /// After the grace period, how long in-flight requests may take to finish, e.g. `"10s"`.
    /// Default `10s`, at most `5m`.
    pub drain_timeout: Option<String>,
    /// How long a client may take to send a request head; also how long an idle
    /// keep-alive connection stays open. Default `10s`, 100ms..=60s.
    pub header_read_timeout: Option<String>,
    /// Time limit of every request but the callback (answered synchronously); 408 past it.
    /// Default `10s`, 100ms..=5m.
    pub request_timeout: Option<String>,
    /// Open connections per listener; more wait in the kernel's backlog.
    /// Default 4096, 1..=1000000.
    pub max_connections: Option<usize>,
    /// Largest request head (request line and headers) in bytes; 431 past it.
    /// Default 8192, 8192..=1048576.
    pub max_head_bytes: Option<usize>,
}

/// `[platform]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    /// Recording formats configured on the platform; the platform records the
    /// intersection with a rule's formats. Default: unknown, not checked.
    pub formats: Option<Vec<String>>,
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
    /// e.g. `"5m"`. Default `5m`, at most `1h`.
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
    /// `"off"`. Default: `<config name>.overrides.db` next to the config file.
    pub store: Option<String>,
    /// How often the whole store is read again as a safety net, e.g. `"30s"`.
    /// Default `30s`, 1s..=1h.
    pub resync_interval: Option<String>,
    /// How long to wait for the store before a write fails with 503, e.g. `"2s"`.
    /// Default `2s`, 100ms..=30s.
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
    /// `Interval`, seconds per format, each 5..=21600. Default: omitted from the answer.
    pub interval: Option<RawInterval>,
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
    pub interval: Option<RawInterval>,
}

/// `schedule = { timezone = .., weekly = [..], dates = [..] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// IANA time zone of the windows and dates. Default `UTC`.
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

/// `interval = { mp4 = .., flv = .., m3u8 = .. }`, seconds; also the `interval` of an
/// override request.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawInterval {
    /// MP4 recording cycle. Default: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4: Option<i64>,
    /// FLV recording cycle. Default: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flv: Option<i64>,
    /// HLS recording cycle. Default: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m3u8: Option<i64>,
}
