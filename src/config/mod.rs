//! The TOML config: raw structs (`file`), their validation and compilation (`compile`),
//! and errors that name the file, the rule and the field (`error`).

mod compile;
mod error;
mod file;

pub use compile::{DEFAULT_CALLBACK_PATH, DEFAULT_LISTEN, MAX_RULE_NAME_LEN, RESERVED_PATHS};
pub use error::{ConfigError, Problem};

use crate::rules::RuleSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The config path used when neither `--config` nor `RECGATE_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "config/recgate.toml";
/// SECURITY: largest config file read, so a wrong path (a log, a device) fails fast.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024 * 1024;

/// A validated config, ready to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`.
    pub server: ServerSettings,
    /// `[default]` and `[[rule]]`, compiled.
    pub rules: RuleSet,
}

/// `[server]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Address of the public callback listener.
    pub listen: SocketAddr,
    /// Path of the callback URL.
    pub callback_path: String,
}

impl Config {
    /// Parses and compiles config text; `path` only labels errors.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        compile::compile(text).map_err(|problems| ConfigError::Invalid {
            path: path.to_owned(),
            problems,
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
