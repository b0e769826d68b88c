//! Reading the file when the one-pass read fails: section by section and rule by rule,
//! so that every problem of syntax or shape names its place.

use super::Problems;
use crate::config::error::Problem;
use crate::config::file::{RawConfig, RawDecision, RawQuota, RawRule};
use serde::Deserialize;

/// Reads the file section by section and rule by rule, naming the place of every problem
/// of syntax or shape; `Ok` only if there are none.
pub(super) fn read_by_table(text: &str) -> Result<RawConfig, Vec<Problem>> {
    let table: toml::Table = text.parse().map_err(|e| vec![syntax_problem(text, &e)])?;
    let mut problems = Problems::new();
    let raw = deserialize_table::<RawConfig<toml::Table, toml::Table, toml::Table>>(
        table,
        "",
        &mut problems,
    )
    .ok_or_else(|| std::mem::take(&mut problems.list))?;
    let default = deserialize_table::<RawDecision>(raw.default, "[default]", &mut problems);
    let mut rules = Vec::with_capacity(raw.rule.len());
    for (index, table) in raw.rule.into_iter().enumerate() {
        let place = rule_place(&table, index);
        rules.extend(deserialize_table::<RawRule>(table, &place, &mut problems));
    }
    let mut quotas = Vec::with_capacity(raw.quota.len());
    for (index, table) in raw.quota.into_iter().enumerate() {
        let place = match table.get("name").and_then(toml::Value::as_str) {
            Some(name) => format!("quota {name:?}"),
            None => format!("quota #{}", index + 1),
        };
        quotas.extend(deserialize_table::<RawQuota>(table, &place, &mut problems));
    }
    match default {
        Some(default) if problems.list.is_empty() => Ok(RawConfig {
            server: raw.server,
            admin: raw.admin,
            auth: raw.auth,
            platform: raw.platform,
            overrides: raw.overrides,
            lifecycle: raw.lifecycle,
            default,
            rule: rules,
            quota: quotas,
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
