//! Kinds of value several sections share: addresses, durations within bounds, secrets
//! read from the environment or a file, paths.

use super::Problems;
use crate::config::defaults::RESERVED_PATHS;
use std::net::SocketAddr;
use std::time::Duration;

/// A secret from an environment variable or a file (tried in that order), with the field
/// it came from; messages name the source, never the secret.
pub(super) fn read_secret(
    place: &str,
    (env_field, env): (&'static str, Option<&str>),
    (file_field, file): (&'static str, Option<&str>),
    problems: &mut Problems,
) -> Option<(&'static str, String)> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(text) if !text.trim().is_empty() => Some((env_field, text)),
            _ => {
                problems.add(
                    place,
                    Some(env_field),
                    format!("environment variable {var} is unset or empty"),
                );
                None
            }
        };
    }
    let path = file?;
    match std::fs::read_to_string(path) {
        Ok(text) => Some((file_field, text)),
        Err(error) => {
            problems.add(
                place,
                Some(file_field),
                format!("cannot read {path}: {error}"),
            );
            None
        }
    }
}

pub(super) fn compile_address(
    place: &str,
    field: &str,
    text: &str,
    problems: &mut Problems,
) -> Option<SocketAddr> {
    text.parse::<SocketAddr>()
        .map_err(|_| {
            problems.add(
                place,
                Some(field),
                format!("{text:?} is not an IP:PORT address such as \"0.0.0.0:8080\""),
            )
        })
        .ok()
}

/// A duration setting: its default and its inclusive bounds.
pub(super) struct DurationSetting {
    pub default: Duration,
    pub min: Duration,
    pub max: Duration,
}

pub(super) fn compile_duration(
    place: &str,
    field: &str,
    text: Option<&str>,
    setting: DurationSetting,
    problems: &mut Problems,
) -> Option<Duration> {
    let Some(text) = text else {
        return Some(setting.default);
    };
    let parsed = text
        .parse::<jiff::SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok());
    match parsed {
        Some(duration) if (setting.min..=setting.max).contains(&duration) => Some(duration),
        Some(_) => {
            problems.add(
                place,
                Some(field),
                format!("{text:?} is outside {:?}..={:?}", setting.min, setting.max),
            );
            None
        }
        None => {
            problems.add(
                place,
                Some(field),
                format!("{text:?} is not a duration such as \"5s\" or \"500ms\""),
            );
            None
        }
    }
}

/// Characters allowed in a served path: unreserved URL characters and `/`.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-._~".contains(c)
}

/// Whether `path` may be served at `place`'s `field`: absolute, plain characters, no
/// empty segment, not a health endpoint.
pub(super) fn check_path(place: &str, field: &str, path: &str, problems: &mut Problems) -> bool {
    let problem = if !path.starts_with('/') {
        "must start with /".to_owned()
    } else if !path.chars().all(is_path_char) || path.contains("//") {
        "may hold only letters, digits, '/', '-', '.', '_' and '~', without empty segments"
            .to_owned()
    } else if RESERVED_PATHS.contains(&path) {
        format!("{path} is the server's own health endpoint")
    } else {
        return true;
    };
    problems.add(place, Some(field), problem);
    false
}
