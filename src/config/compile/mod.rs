//! Turns the raw file into validated settings and a compiled rule set, collecting every
//! problem rather than stopping at the first: `read` reads the file (naming the table of a
//! shape error), `server` and `auth` compile the settings sections, `rules` the rules and
//! the default, `values` the kinds of value several sections share.

mod auth;
mod lifecycle;
mod quotas;
mod read;
mod rules;
mod server;
mod values;

use super::error::Problem;
use super::file::{RawConfig, RawDecision, RawRule};
use super::pieces;
use super::{Config, ConfigSource};
use crate::overrides::StoreSpec;
use crate::rules::RuleSet;
use serde::Deserialize;

/// Problems found so far, with the place they are attached to.
struct Problems {
    list: Vec<Problem>,
}

impl Problems {
    fn new() -> Problems {
        Problems { list: Vec::new() }
    }

    fn add(&mut self, place: &str, field: Option<&str>, message: impl Into<String>) {
        self.list.push(Problem {
            place: Some(place.to_owned()),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }
}

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
        None => read::read_by_table(text)?,
    };
    let mut problems = Problems::new();
    let server = server::compile_server(&raw.server, &mut problems);
    let admin = server::compile_admin(&raw.admin, &mut problems);
    let overrides = server::compile_overrides(&raw.overrides, &source.path, &mut problems);
    let auth = auth::compile_auth("[auth]", &raw.auth, &mut problems);
    let platform_formats = raw
        .platform
        .formats
        .as_deref()
        .map(|names| rules::compile_formats("[platform]", names, &mut problems));
    let default = rules::compile_decision(
        "[default]",
        raw.default.record,
        raw.default.formats.as_deref(),
        raw.default.interval.as_ref(),
        &mut problems,
    );
    let lifecycle = lifecycle::compile_lifecycle(
        &raw.lifecycle,
        &raw.platform,
        server.as_ref().map(|s| s.callback_path.as_str()),
        &mut problems,
    );
    let quotas = quotas::compile_quotas(raw.quota, &mut problems);
    let rules = rules::compile_rules(raw.rule, &quotas, &mut problems);
    if !quotas.is_empty() {
        let lifecycle_on = lifecycle.as_ref().is_none_or(|l| l.is_on());
        if !lifecycle_on {
            problems.add(
                "[[quota]]",
                None,
                "a quota counts recordings from the platform's lifecycle events: set [lifecycle] ingest_path, notify_path or both",
            );
        }
        if matches!(overrides.as_ref().map(|o| &o.store), Some(StoreSpec::Off)) {
            problems.add(
                "[[quota]]",
                None,
                "a quota counts recordings in the store: [overrides] store must not be \"off\"",
            );
        }
    }
    match (server, admin, overrides, auth, default, lifecycle) {
        (
            Some(server),
            Some(admin),
            Some(overrides),
            Some(auth),
            Some(default),
            Some(lifecycle),
        ) if problems.list.is_empty() => Ok(Config {
            server,
            admin,
            overrides,
            auth,
            lifecycle,
            platform_formats: platform_formats.flatten(),
            rules: RuleSet::new(rules, default),
            quotas,
            source,
        }),
        _ => Err(problems.list),
    }
}
