//! `[server]`, `[admin]` and `[overrides]`: where and how the server listens and keeps
//! its overrides.

use super::Problems;
use super::values::{DurationSetting, check_path, compile_address, compile_duration, read_secret};
use crate::auth::token::{AdminToken, MIN_TOKEN_LEN};
use crate::config::defaults::*;
use crate::config::file::{RawAdmin, RawOverrides, RawServer};
use crate::config::{AdminSettings, Limits, OverrideSettings, ServerSettings};
use crate::overrides::StoreSpec;
use std::time::Duration;

pub(super) fn compile_admin(raw: &RawAdmin, problems: &mut Problems) -> Option<AdminSettings> {
    const PLACE: &str = "[admin]";
    let listen = match raw.listen.as_deref() {
        None => None,
        Some(text) => Some(compile_address(PLACE, "listen", text, problems)?),
    };
    if raw.token_env.is_some() && raw.token_file.is_some() {
        problems.add(PLACE, None, "give only one of token_env and token_file");
        return None;
    }
    let token = match read_secret(
        PLACE,
        ("token_env", raw.token_env.as_deref()),
        ("token_file", raw.token_file.as_deref()),
        problems,
    ) {
        None if raw.token_env.is_some() || raw.token_file.is_some() => return None,
        None => None,
        Some((field, text)) => match AdminToken::new(&text) {
            Some(token) => Some(token),
            None => {
                problems.add(
                    PLACE,
                    Some(field),
                    format!("the token must be at least {MIN_TOKEN_LEN} visible ASCII characters"),
                );
                return None;
            }
        },
    };
    let settings = AdminSettings { listen, token };
    if let Err(message) = settings.check_exposure() {
        problems.add(PLACE, Some("listen"), message);
        return None;
    }
    Some(settings)
}

pub(super) fn compile_overrides(
    raw: &RawOverrides,
    config_path: &std::path::Path,
    problems: &mut Problems,
) -> Option<OverrideSettings> {
    const PLACE: &str = "[overrides]";
    let base = config_path.parent().unwrap_or(std::path::Path::new(""));
    let store = match raw.store.as_deref() {
        Some(text) => StoreSpec::parse(text, base)
            .map_err(|message| problems.add(PLACE, Some("store"), message))
            .ok(),
        None => {
            let stem = config_path.file_stem().unwrap_or("recgate".as_ref());
            let mut name = stem.to_owned();
            name.push(DEFAULT_OVERRIDE_STORE_SUFFIX);
            Some(StoreSpec::Sqlite(base.join(name)))
        }
    };
    let resync_interval = compile_duration(
        PLACE,
        "resync_interval",
        raw.resync_interval.as_deref(),
        DurationSetting {
            default: DEFAULT_RESYNC_INTERVAL,
            min: MIN_RESYNC_INTERVAL,
            max: MAX_RESYNC_INTERVAL,
        },
        problems,
    );
    let timeout = compile_duration(
        PLACE,
        "timeout",
        raw.timeout.as_deref(),
        DurationSetting {
            default: DEFAULT_STORE_TIMEOUT,
            min: MIN_STORE_TIMEOUT,
            max: MAX_STORE_TIMEOUT,
        },
        problems,
    );
    Some(OverrideSettings {
        store: store?,
        resync_interval: resync_interval?,
        timeout: timeout?,
    })
}

pub(super) fn compile_server(raw: &RawServer, problems: &mut Problems) -> Option<ServerSettings> {
    const PLACE: &str = "[server]";
    let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = compile_address(PLACE, "listen", listen_text, problems);
    let shutdown_grace = compile_duration(
        PLACE,
        "shutdown_grace",
        raw.shutdown_grace.as_deref(),
        DurationSetting {
            default: DEFAULT_SHUTDOWN_GRACE,
            min: Duration::ZERO,
            max: MAX_SHUTDOWN_STEP,
        },
        problems,
    );
    let drain_timeout = compile_duration(
        PLACE,
        "drain_timeout",
        raw.drain_timeout.as_deref(),
        DurationSetting {
            default: DEFAULT_DRAIN_TIMEOUT,
            min: Duration::ZERO,
            max: MAX_SHUTDOWN_STEP,
        },
        problems,
    );
    // SECURITY: the platform sends its request at once; a slow head is slowloris.
    let header_read_timeout = compile_duration(
        PLACE,
        "header_read_timeout",
        raw.header_read_timeout.as_deref(),
        DurationSetting {
            default: DEFAULT_HEADER_READ_TIMEOUT,
            min: MIN_REQUEST_STEP,
            max: MAX_HEADER_READ_TIMEOUT,
        },
        problems,
    );
    let request_timeout = compile_duration(
        PLACE,
        "request_timeout",
        raw.request_timeout.as_deref(),
        DurationSetting {
            default: DEFAULT_REQUEST_TIMEOUT,
            min: MIN_REQUEST_STEP,
            max: MAX_SHUTDOWN_STEP,
        },
        problems,
    );
    let max_head_bytes = raw.max_head_bytes.unwrap_or(DEFAULT_MAX_HEAD_BYTES);
    let head_ok = (MIN_MAX_HEAD_BYTES..=MAX_MAX_HEAD_BYTES).contains(&max_head_bytes);
    if !head_ok {
        problems.add(
            PLACE,
            Some("max_head_bytes"),
            format!("{max_head_bytes} is outside {MIN_MAX_HEAD_BYTES}..={MAX_MAX_HEAD_BYTES}"),
        );
    }
    let max_connections = raw.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if !(1..=MAX_MAX_CONNECTIONS).contains(&max_connections) {
        problems.add(
            PLACE,
            Some("max_connections"),
            format!("{max_connections} is outside 1..={MAX_MAX_CONNECTIONS}"),
        );
    }
    let callback_path = raw
        .callback_path
        .clone()
        .unwrap_or_else(|| DEFAULT_CALLBACK_PATH.to_owned());
    let path_ok = check_path(PLACE, "callback_path", &callback_path, problems);
    Some(ServerSettings {
        listen: listen?,
        callback_path: path_ok.then_some(callback_path)?,
        shutdown_grace: shutdown_grace?,
        drain_timeout: drain_timeout?,
        limits: Limits {
            header_read_timeout: header_read_timeout?,
            request_timeout: request_timeout?,
            max_connections: (1..=MAX_MAX_CONNECTIONS)
                .contains(&max_connections)
                .then_some(max_connections)?,
            max_head_bytes: head_ok.then_some(max_head_bytes)?,
        },
    })
}
