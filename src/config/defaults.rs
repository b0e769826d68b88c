//! Every default value and every bound of a setting, defined once. The `///` of each
//! raw field in `file` and the README refer to these names.

use crate::rules::DEFAULT_RULE_NAME;
use std::time::Duration;

/// The listen address when the file names none.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The callback path when the file names none.
pub const DEFAULT_CALLBACK_PATH: &str = "/";
/// Paths the server keeps for itself, which the callback cannot take.
pub const RESERVED_PATHS: [&str; 2] = ["/healthz", "/readyz"];
/// Rule names that label non-rule answers and so cannot name a rule.
pub const RESERVED_NAMES: [&str; 2] = [DEFAULT_RULE_NAME, "override"];
/// SECURITY: longest rule name, so names stay readable in logs and metric labels.
pub const MAX_RULE_NAME_LEN: usize = 128;

/// Default of `[server] shutdown_grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Default of `[server] drain_timeout`.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// SECURITY: default of `[server] header_read_timeout`: a client must send its whole
/// request head within this time, and an idle keep-alive connection is closed after it.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest accepted `header_read_timeout`.
pub const MAX_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// SECURITY: default of `[server] request_timeout`, for every endpoint but the callback
/// (which answers synchronously): 408 past it.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// SECURITY: default of `[server] max_connections`, per listener; further connections
/// wait in the kernel's backlog until one closes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// SECURITY: default of `[server] max_head_bytes`; a genuine callback needs under 3 KiB.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 8192;
/// Smallest `max_head_bytes` (the HTTP library's own minimum buffer).
pub const MIN_MAX_HEAD_BYTES: usize = 8192;
/// Largest accepted `max_head_bytes`.
pub const MAX_MAX_HEAD_BYTES: usize = 1 << 20;
/// Largest accepted `max_connections`.
pub const MAX_MAX_CONNECTIONS: usize = 1_000_000;
/// Longest accepted `shutdown_grace` or `drain_timeout`: shutdown stays bounded.
pub const MAX_SHUTDOWN_STEP: Duration = Duration::from_secs(300);

/// Longest accepted `[auth] max_skew`.
pub const MAX_SIGNATURE_SKEW: Duration = Duration::from_secs(3600);

/// Default of `[overrides] store`: an SQLite file next to the config, named after it with
/// this suffix (`recgate.toml` keeps its overrides in `recgate.overrides.db`), so two
/// configs in one directory never share overrides by accident.
pub const DEFAULT_OVERRIDE_STORE_SUFFIX: &str = ".overrides.db";
/// Default of `[overrides] resync_interval`.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(30);
/// Default of `[overrides] timeout`: how long a write waits for the store before 503.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);
/// Shortest accepted `[overrides] resync_interval`.
pub const MIN_RESYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Longest accepted `[overrides] resync_interval`.
pub const MAX_RESYNC_INTERVAL: Duration = Duration::from_secs(3600);
/// Shortest accepted `[overrides] timeout`.
pub const MIN_STORE_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest accepted `[overrides] timeout`.
pub const MAX_STORE_TIMEOUT: Duration = Duration::from_secs(30);
/// Shortest accepted `header_read_timeout` or `request_timeout`.
pub const MIN_REQUEST_STEP: Duration = Duration::from_millis(100);
/// The time zone of a rule's `schedule` when it names none.
pub const DEFAULT_SCHEDULE_TIMEZONE: &str = "UTC";

/// Default of `[lifecycle] retention`, in days: ended recordings and files are purged
/// after it.
pub const DEFAULT_RETENTION_DAYS: u64 = 400;
/// Shortest accepted `[lifecycle] retention`.
pub const MIN_RETENTION: Duration = Duration::from_secs(3600);

/// Default of `[[quota]] timezone`: where a quota's month starts.
pub const DEFAULT_QUOTA_TIMEZONE: &str = "UTC";
/// Largest accepted `[[quota]] max_active`.
pub const MAX_QUOTA_ACTIVE: u64 = 10_000_000;
/// Largest accepted `[[quota]] monthly_hours`.
pub const MAX_QUOTA_MONTHLY_HOURS: f64 = 1.0e9;
/// SECURITY: most `[[quota]]` sections: each is checked on the callback's path and
/// synced with the store several times a second.
pub const MAX_QUOTAS: usize = 1_000;
