//! The TOML config: raw structs (`file`, read in parallel pieces by `pieces` when large),
//! their validation and compilation (`compile`), every default and bound (`defaults`),
//! errors that name the file, the rule and the field (`error`), and the warnings of
//! `recgate check` (`lint`).

mod compile;
pub mod defaults;
mod error;
mod file;
pub mod lint;
mod pieces;

pub use defaults::*;
pub use error::{ConfigError, Problem};

use crate::auth::signature::Verifier;
use crate::auth::token::AdminToken;
use crate::decision::Format;
use crate::overrides::StoreSpec;
use crate::quota::QuotaSpec;
use crate::rules::RuleSet;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The config path used when neither `--config` nor `RECGATE_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "config/recgate.toml";
/// SECURITY: largest config file read, so a wrong path (a log, a device) fails fast.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024 * 1024;

/// A validated config, ready to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`.
    pub server: ServerSettings,
    /// `[admin]`.
    pub admin: AdminSettings,
    /// `[overrides]`.
    pub overrides: OverrideSettings,
    /// `[auth]`: the signature verifier, `None` when off.
    pub auth: Option<Verifier>,
    /// `[lifecycle]` and `[platform] ingest_domains`.
    pub lifecycle: LifecycleSettings,
    /// `[platform] formats`: what the platform records, when the operator says.
    pub platform_formats: Option<Vec<Format>>,
    /// `[default]` and `[[rule]]`, compiled.
    pub rules: RuleSet,
    /// `[[quota]]`, in file order: a rule's `quota` is a position in it.
    pub quotas: Vec<QuotaSpec>,
    /// Where the config came from.
    pub source: ConfigSource,
}

/// `[server]`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerSettings {
    /// Address of the public callback listener.
    pub listen: SocketAddr,
    /// Path of the callback URL.
    pub callback_path: String,
    /// After SIGTERM, how long to keep serving while `/readyz` fails.
    pub shutdown_grace: Duration,
    /// After the grace period, how long in-flight requests may take.
    pub drain_timeout: Duration,
    /// Limits on what one client may hold or take.
    #[serde(flatten)]
    pub limits: Limits,
}

/// Per-listener limits against abuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Time to send a request head; also the keep-alive idle time.
    pub header_read_timeout: Duration,
    /// Time limit of every request but the callback.
    pub request_timeout: Duration,
    /// Open connections per listener.
    pub max_connections: usize,
    /// Largest request head (request line and headers), bytes; 431 past it.
    pub max_head_bytes: usize,
}

/// `[lifecycle]` (with `[platform] ingest_domains`), validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LifecycleSettings {
    /// Where the ingest callback is served; `None`: not served.
    pub ingest_path: Option<String>,
    /// Where the status and file callbacks are served; `None`: not served.
    pub notify_path: Option<String>,
    /// How long ended recordings and files are kept.
    pub retention: Duration,
    /// Signature check of ingest events, applied live on reload, so never compared.
    #[serde(skip)]
    pub ingest_auth: Option<Verifier>,
    /// Signature check of status and file events, applied live on reload.
    #[serde(skip)]
    pub notify_auth: Option<Verifier>,
    /// Ingest domain to streaming domain, applied live on reload.
    #[serde(skip)]
    pub domains: crate::ledger::DomainMap,
}

impl LifecycleSettings {
    /// Whether any lifecycle event is received, so that the ledger runs.
    pub fn is_on(&self) -> bool {
        self.ingest_path.is_some() || self.notify_path.is_some()
    }
}

/// `[admin]`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdminSettings {
    /// Address of the admin listener; `None` runs none.
    pub listen: Option<SocketAddr>,
    /// The bearer token admin calls must carry; `None` asks for none (loopback only).
    /// Applied live on reload, so never compared (nor shown) as a setting.
    #[serde(skip)]
    pub token: Option<AdminToken>,
}

impl AdminSettings {
    /// SECURITY: refuses an admin listener reachable from other hosts without a token.
    pub fn check_exposure(&self) -> Result<(), String> {
        match self.listen {
            Some(addr) if !addr.ip().is_loopback() && self.token.is_none() => Err(format!(
                "{addr} is reachable from other hosts; set token_env or token_file, \
                 or listen on a loopback address"
            )),
            _ => Ok(()),
        }
    }
}

/// `[overrides]`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideSettings {
    /// Where overrides are kept.
    #[serde(serialize_with = "store_fingerprint")]
    pub store: StoreSpec,
    /// How often the whole store is read again.
    pub resync_interval: Duration,
    /// How long to wait for the store.
    pub timeout: Duration,
}

/// SECURITY: settings are serialised only to compare them across a reload; the store is
/// compared by a hash of its whole text, so a database password is never written out.
fn store_fingerprint<S: serde::Serializer>(store: &StoreSpec, out: S) -> Result<S::Ok, S::Error> {
    let text = match store {
        StoreSpec::Off => String::from("off"),
        StoreSpec::Sqlite(path) => format!("sqlite:{}", path.display()),
        StoreSpec::Postgres(url) => url.clone(),
    };
    out.serialize_str(&sha256_hex(text.as_bytes()))
}

/// The file a config was read from, its SHA-256 and when it was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    /// The file's path as given.
    pub path: PathBuf,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// When it was loaded.
    pub loaded_at: jiff::Timestamp,
}

impl ConfigSource {
    /// Describes `text` read from `path` now.
    pub fn new(path: &Path, text: &str) -> ConfigSource {
        ConfigSource {
            path: path.to_owned(),
            sha256: sha256_hex(text.as_bytes()),
            loaded_at: jiff::Timestamp::now(),
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Config {
    /// Parses and compiles config text; `path` labels errors and the source.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        compile::compile(text, ConfigSource::new(path, text)).map_err(|problems| {
            ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            }
        })
    }

    /// Reads, parses and compiles a config file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = read_text(path)?;
        Config::from_str(&text, path)
    }
}

/// Reads a config file as UTF-8 text, refusing files over `MAX_CONFIG_BYTES`.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: PathBuf::from(path),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_error)?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(read_error(std::io::Error::other(format!(
            "{len} bytes is over the {MAX_CONFIG_BYTES}-byte limit"
        ))));
    }
    std::fs::read_to_string(path).map_err(read_error)
}

#[cfg(test)]
mod tests;
