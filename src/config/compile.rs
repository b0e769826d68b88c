//! Turns the raw file into validated settings and a compiled rule set, collecting every
//! problem rather than stopping at the first.

use super::error::Problem;
use super::file::{
    RawAdmin, RawAuth, RawBitrate, RawConfig, RawDecision, RawInterval, RawOverrides, RawRule,
    RawServer,
};
use super::pieces;
use super::{AdminSettings, Config, ConfigSource, Limits, OverrideSettings, ServerSettings};
use crate::decision::{Decision, Format, Interval, MAX_INTERVAL_SECS, MIN_INTERVAL_SECS};
use crate::overrides::StoreSpec;
use crate::query::Codec;
use crate::rules::{Answer, BitrateRange, DEFAULT_RULE_NAME, Pattern, Rule, RuleSet, Schedule};
use crate::signature::{DEFAULT_MAX_SKEW, Key, Mode, Verifier};
use crate::token::{AdminToken, MIN_TOKEN_LEN};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
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

/// Problems found so far, with the place they are attached to.
struct Problems {
    list: Vec<Problem>,
}

impl Problems {
    fn add(&mut self, place: &str, field: Option<&str>, message: impl Into<String>) {
        self.list.push(Problem {
            place: Some(place.to_owned()),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }
}

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

/// Parses and compiles config text read from `source`; `Err` carries every problem found.
pub fn compile(text: &str, source: ConfigSource) -> Result<Config, Vec<Problem>> {
    // A well-formed file is read in one typed pass (in parallel pieces when large); the
    // slower per-table pass only to explain what is wrong.
    let typed = pieces::parse(text).or_else(|| {
        toml::Deserializer::parse(text)
            .ok()
            .and_then(|de| RawConfig::<RawDecision, RawRule>::deserialize(de).ok())
    });
    let raw = match typed {
        Some(raw) => raw,
        None => read_by_table(text)?,
    };
    let mut problems = Problems { list: Vec::new() };
    let server = compile_server(&raw.server, &mut problems);
    let admin = compile_admin(&raw.admin, &mut problems);
    let overrides = compile_overrides(&raw.overrides, &source.path, &mut problems);
    let auth = compile_auth(&raw.auth, &mut problems);
    let platform_formats = raw
        .platform
        .formats
        .as_deref()
        .map(|names| compile_formats("[platform]", names, &mut problems));
    let default = compile_decision(
        "[default]",
        raw.default.record,
        raw.default.formats.as_deref(),
        raw.default.interval.as_ref(),
        &mut problems,
    );
    let rules = compile_rules(raw.rule, &mut problems);
    match (server, admin, overrides, auth, default) {
        (Some(server), Some(admin), Some(overrides), Some(auth), Some(default))
            if problems.list.is_empty() =>
        {
            Ok(Config {
                server,
                admin,
                overrides,
                auth,
                platform_formats,
                rules: RuleSet::new(rules, Answer::new(default)),
                source,
            })
        }
        _ => Err(problems.list),
    }
}

/// Compiles every rule on every core, keeping file order for rules and problems alike.
fn compile_rules(raw: Vec<RawRule>, problems: &mut Problems) -> Vec<Rule> {
    let mut names = HashSet::with_capacity(raw.len());
    let duplicate: Vec<bool> = raw.iter().map(|r| !names.insert(r.name.as_str())).collect();
    let compiled: Vec<(Option<Rule>, Vec<Problem>)> = raw
        .into_par_iter()
        .zip(duplicate)
        .map(|(raw_rule, duplicate)| {
            let mut mine = Problems { list: Vec::new() };
            let place = format!("rule {:?}", raw_rule.name);
            if duplicate {
                mine.add(
                    &place,
                    Some("name"),
                    "duplicate rule name; names must be unique",
                );
            }
            (compile_rule(&place, raw_rule, &mut mine), mine.list)
        })
        .collect();
    let mut rules = Vec::with_capacity(compiled.len());
    for (rule, found) in compiled {
        problems.list.extend(found);
        rules.extend(rule);
    }
    rules
}

/// Longest accepted `[auth] max_skew`.
pub const MAX_SIGNATURE_SKEW: Duration = Duration::from_secs(3600);

/// `[auth]`: `Some(None)` when off, `Some(Some(verifier))` when on, `None` on errors.
/// Messages name the key's source, never the key.
fn compile_auth(raw: &RawAuth, problems: &mut Problems) -> Option<Option<Verifier>> {
    const PLACE: &str = "[auth]";
    let before = problems.list.len();
    let mode = match raw.mode.as_deref().map(Mode::parse) {
        None => Mode::Off,
        Some(Some(mode)) => mode,
        Some(None) => {
            problems.add(
                PLACE,
                Some("mode"),
                "expected \"off\", \"log\" or \"enforce\"",
            );
            return None;
        }
    };
    let max_skew = compile_duration(
        PLACE,
        "max_skew",
        raw.max_skew.as_deref(),
        DurationSetting {
            default: DEFAULT_MAX_SKEW,
            min: Duration::ZERO,
            max: MAX_SIGNATURE_SKEW,
        },
        problems,
    );
    let sources = [
        raw.key_env.is_some(),
        raw.key_file.is_some(),
        raw.key.is_some(),
    ];
    let key_text = match sources.iter().filter(|s| **s).count() {
        0 if mode == Mode::Off => return (problems.list.len() == before).then_some(None),
        0 => {
            problems.add(
                PLACE,
                None,
                "needs one of key_env, key_file or key unless mode = \"off\"",
            );
            None
        }
        1 => read_key(raw, problems),
        _ => {
            problems.add(PLACE, None, "give only one of key_env, key_file and key");
            None
        }
    };
    let key = key_text.and_then(|(field, text)| {
        let key = Key::new(&text);
        if key.is_none() {
            problems.add(
                PLACE,
                Some(field),
                "the key must be 16 to 32 letters and digits",
            );
        }
        key
    });
    if problems.list.len() > before {
        return None;
    }
    let (key, max_skew) = (key?, max_skew?);
    Some((mode != Mode::Off).then(|| Verifier::new(mode, key, raw.host.clone(), max_skew)))
}

/// The key's text and the field it came from.
fn read_key(raw: &RawAuth, problems: &mut Problems) -> Option<(&'static str, String)> {
    if raw.key_env.is_some() || raw.key_file.is_some() {
        return read_secret(
            "[auth]",
            ("key_env", raw.key_env.as_deref()),
            ("key_file", raw.key_file.as_deref()),
            problems,
        );
    }
    raw.key.clone().map(|text| ("key", text))
}

/// A secret from an environment variable or a file (tried in that order), with the field
/// it came from; messages name the source, never the secret.
fn read_secret(
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

/// Reads the file section by section and rule by rule, naming the place of every problem
/// of syntax or shape; `Ok` only if there are none.
fn read_by_table(text: &str) -> Result<RawConfig, Vec<Problem>> {
    let table: toml::Table = text.parse().map_err(|e| vec![syntax_problem(text, &e)])?;
    let mut problems = Problems { list: Vec::new() };
    let raw = deserialize_table::<RawConfig<toml::Table, toml::Table>>(table, "", &mut problems)
        .ok_or_else(|| std::mem::take(&mut problems.list))?;
    let default = deserialize_table::<RawDecision>(raw.default, "[default]", &mut problems);
    let mut rules = Vec::with_capacity(raw.rule.len());
    for (index, table) in raw.rule.into_iter().enumerate() {
        let place = rule_place(&table, index);
        rules.extend(deserialize_table::<RawRule>(table, &place, &mut problems));
    }
    match default {
        Some(default) if problems.list.is_empty() => Ok(RawConfig {
            server: raw.server,
            admin: raw.admin,
            auth: raw.auth,
            platform: raw.platform,
            overrides: raw.overrides,
            default,
            rule: rules,
        }),
        _ => Err(problems.list),
    }
}

/// A TOML syntax or shape error, placed by line and column.
fn syntax_problem(text: &str, error: &toml::de::Error) -> Problem {
    let place = error.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {column}")
    });
    Problem {
        place,
        field: None,
        message: error.message().trim().to_owned(),
    }
}

/// How a rule is named in errors: by its name when it has one, else by position.
fn rule_place(table: &toml::Table, index: usize) -> String {
    match table.get("name").and_then(toml::Value::as_str) {
        Some(name) => format!("rule {name:?}"),
        None => format!("rule #{}", index + 1),
    }
}

/// Deserialises one table, naming the field an error is in by its dotted path.
///
/// With an empty `place` (the whole file), the first path segment becomes the place, as
/// `[server]`.
fn deserialize_table<T: for<'de> Deserialize<'de>>(
    table: toml::Table,
    place: &str,
    problems: &mut Problems,
) -> Option<T> {
    let error = match serde_path_to_error::deserialize(toml::Value::Table(table)) {
        Ok(value) => return Some(value),
        Err(error) => error,
    };
    let path = error.path().to_string();
    let message = error.into_inner().message().trim().to_owned();
    let path = (path != ".").then_some(path);
    let (place, field) = match (place, path) {
        ("", Some(path)) => match path.split_once('.') {
            Some((section, rest)) => (format!("[{section}]"), Some(rest.to_owned())),
            None => (format!("[{path}]"), None),
        },
        ("", None) => ("file".to_owned(), None),
        (place, path) => (place.to_owned(), path),
    };
    problems.add(&place, field.as_deref(), message);
    None
}

fn compile_address(
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
struct DurationSetting {
    default: Duration,
    min: Duration,
    max: Duration,
}

fn compile_duration(
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

fn compile_admin(raw: &RawAdmin, problems: &mut Problems) -> Option<AdminSettings> {
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

/// Default of `[overrides] store`: an SQLite file next to the config, named after it with
/// this suffix (`recgate.toml` keeps its overrides in `recgate.overrides.db`), so two
/// configs in one directory never share overrides by accident.
pub const DEFAULT_OVERRIDE_STORE_SUFFIX: &str = ".overrides.db";
/// Default of `[overrides] resync_interval`.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(30);
/// Default of `[overrides] timeout`: how long a write waits for the store before 503.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);

fn compile_overrides(
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
            min: Duration::from_secs(1),
            max: Duration::from_secs(3600),
        },
        problems,
    );
    let timeout = compile_duration(
        PLACE,
        "timeout",
        raw.timeout.as_deref(),
        DurationSetting {
            default: DEFAULT_STORE_TIMEOUT,
            min: Duration::from_millis(100),
            max: Duration::from_secs(30),
        },
        problems,
    );
    Some(OverrideSettings {
        store: store?,
        resync_interval: resync_interval?,
        timeout: timeout?,
    })
}

fn compile_server(raw: &RawServer, problems: &mut Problems) -> Option<ServerSettings> {
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
            min: Duration::from_millis(100),
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
            min: Duration::from_millis(100),
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
    let path_ok = if !callback_path.starts_with('/') {
        problems.add(PLACE, Some("callback_path"), "must start with /");
        false
    } else if !callback_path.chars().all(is_path_char) || callback_path.contains("//") {
        problems.add(
            PLACE,
            Some("callback_path"),
            "may hold only letters, digits, '/', '-', '.', '_' and '~', without empty segments",
        );
        false
    } else if RESERVED_PATHS.contains(&callback_path.as_str()) {
        problems.add(
            PLACE,
            Some("callback_path"),
            format!("{callback_path} is the server's own health endpoint"),
        );
        false
    } else {
        true
    };
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

/// Characters allowed in a callback path: unreserved URL characters and `/`.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/-._~".contains(c)
}

fn compile_rule(place: &str, raw: RawRule, problems: &mut Problems) -> Option<Rule> {
    let before = problems.list.len();
    if raw.name.trim().is_empty() {
        problems.add(place, Some("name"), "must not be empty");
    } else if RESERVED_NAMES.contains(&raw.name.as_str()) {
        problems.add(place, Some("name"), format!("{:?} is reserved", raw.name));
    } else if raw.name.chars().count() > MAX_RULE_NAME_LEN {
        problems.add(
            place,
            Some("name"),
            format!("longer than {MAX_RULE_NAME_LEN} characters"),
        );
    }
    let domain = compile_pattern(place, "domain", raw.domain.as_deref(), true, problems);
    let app = compile_pattern(place, "app", raw.app.as_deref(), false, problems);
    let stream = compile_pattern(place, "stream", raw.stream.as_deref(), false, problems);
    let codecs = raw
        .codec
        .as_deref()
        .and_then(|list| compile_codecs(place, list, problems));
    let vbitrate = compile_bitrate(place, raw.vbitrate.as_ref(), problems);
    let schedule = raw.schedule.as_ref().and_then(|raw| {
        Schedule::new(
            raw.timezone.as_deref().unwrap_or("UTC"),
            raw.weekly.as_deref().unwrap_or_default(),
            raw.dates.as_deref().unwrap_or_default(),
        )
        .map_err(|(field, message)| {
            let field = if field == "schedule" {
                field.to_owned()
            } else {
                format!("schedule.{field}")
            };
            problems.add(place, Some(&field), message)
        })
        .ok()
    });
    let shadow = match raw.mode.as_deref() {
        None | Some("live") => false,
        Some("shadow") => true,
        Some(other) => {
            problems.add(
                place,
                Some("mode"),
                format!("{other:?}: expected \"live\" or \"shadow\""),
            );
            false
        }
    };
    let decision = compile_decision(
        place,
        raw.record,
        raw.formats.as_deref(),
        raw.interval.as_ref(),
        problems,
    );
    if problems.list.len() > before {
        return None;
    }
    Some(Rule {
        name: raw.name,
        domain: domain?,
        app: app?,
        stream: stream?,
        codecs,
        vbitrate,
        answer: Answer::new(decision?),
        shadow,
        schedule,
    })
}

fn compile_pattern(
    place: &str,
    field: &str,
    source: Option<&str>,
    case_insensitive: bool,
    problems: &mut Problems,
) -> Option<Pattern> {
    Pattern::compile(source, case_insensitive)
        .map_err(|e| problems.add(place, Some(field), e.to_string()))
        .ok()
}

fn compile_codecs(place: &str, list: &[String], problems: &mut Problems) -> Option<Vec<Codec>> {
    if list.is_empty() {
        problems.add(
            place,
            Some("codec"),
            "an empty list matches nothing; omit the key to accept any codec",
        );
        return None;
    }
    let mut codecs = Vec::with_capacity(list.len());
    for name in list {
        match Codec::parse(name) {
            Codec::Other(_) => problems.add(
                place,
                Some("codec"),
                format!("unknown codec {name:?}; expected \"h264\" or \"h265\""),
            ),
            _ if name.trim().is_empty() => {
                problems.add(place, Some("codec"), "an empty codec name; write \"h264\"")
            }
            codec if !codecs.contains(&codec) => codecs.push(codec),
            _ => problems.add(place, Some("codec"), format!("{name:?} is listed twice")),
        }
    }
    Some(codecs)
}

fn compile_bitrate(place: &str, raw: Option<&RawBitrate>, problems: &mut Problems) -> BitrateRange {
    let Some(raw) = raw else {
        return BitrateRange::default();
    };
    if let (Some(min), Some(max)) = (raw.min, raw.max)
        && min > max
    {
        problems.add(
            place,
            Some("vbitrate"),
            format!("min {min} is greater than max {max}"),
        );
    }
    if raw.min.is_none() && raw.max.is_none() {
        problems.add(
            place,
            Some("vbitrate"),
            "needs min and/or max; omit the key to accept any bitrate",
        );
    }
    BitrateRange {
        min: raw.min,
        max: raw.max,
    }
}

/// Validates the decision keys shared by `[default]`, rules and runtime overrides on their
/// own; problems name the field (`formats`, `interval.mp4`).
pub fn check_decision(
    record: bool,
    formats: Option<&[String]>,
    interval: Option<&RawInterval>,
) -> Result<Decision, Vec<Problem>> {
    let mut problems = Problems { list: Vec::new() };
    compile_decision("", record, formats, interval, &mut problems).ok_or(problems.list)
}

/// Compiles the decision keys shared by `[default]` and rules.
fn compile_decision(
    place: &str,
    record: bool,
    formats: Option<&[String]>,
    interval: Option<&RawInterval>,
    problems: &mut Problems,
) -> Option<Decision> {
    let before = problems.list.len();
    if !record && (formats.is_some() || interval.is_some()) {
        let field = if formats.is_some() {
            "formats"
        } else {
            "interval"
        };
        problems.add(
            place,
            Some(field),
            "only a rule with record = true may set formats or interval",
        );
    }
    let formats = formats.map(|names| compile_formats(place, names, problems));
    let interval = interval.map(|raw| compile_interval(place, raw, problems));
    (problems.list.len() == before).then_some(Decision {
        record,
        formats,
        interval,
    })
}

fn compile_formats(place: &str, names: &[String], problems: &mut Problems) -> Vec<Format> {
    if names.is_empty() {
        problems.add(
            place,
            Some("formats"),
            "an empty list records nothing; use record = false, or omit the key",
        );
    }
    let mut formats = Vec::with_capacity(names.len());
    for name in names {
        match Format::parse(name) {
            None => problems.add(
                place,
                Some("formats"),
                format!("unknown format {name:?}; expected \"mp4\", \"flv\" or \"m3u8\""),
            ),
            Some(format) if formats.contains(&format) => {
                problems.add(place, Some("formats"), format!("{name:?} is listed twice"))
            }
            Some(format) => formats.push(format),
        }
    }
    formats
}

fn compile_interval(place: &str, raw: &RawInterval, problems: &mut Problems) -> Interval {
    let mut check = |format: Format, value: Option<i64>| -> Option<u32> {
        let secs = value?;
        let range = i64::from(MIN_INTERVAL_SECS)..=i64::from(MAX_INTERVAL_SECS);
        if range.contains(&secs) {
            u32::try_from(secs).ok()
        } else {
            problems.add(
                place,
                Some(&format!("interval.{format}")),
                format!("{secs} is outside {MIN_INTERVAL_SECS}..={MAX_INTERVAL_SECS} seconds"),
            );
            None
        }
    };
    let interval = Interval {
        mp4: check(Format::Mp4, raw.mp4),
        flv: check(Format::Flv, raw.flv),
        m3u8: check(Format::M3u8, raw.m3u8),
    };
    if raw.mp4.is_none() && raw.flv.is_none() && raw.m3u8.is_none() {
        problems.add(
            place,
            Some("interval"),
            "needs at least one of mp4, flv, m3u8; omit the key to keep the platform's",
        );
    }
    interval
}
