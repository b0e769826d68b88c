//! The offline subcommands, `check` and `decide`, as functions that return their output.

use crate::config::lint::lint;
use crate::config::{Config, ConfigError, OverrideSettings};
use crate::overrides::{OVERRIDE_RULE_NAME, OverrideSet, Store, StoreError, StoreSpec};
use crate::query::Query;
use crate::quota::sync::read_figures;
use crate::quota::{QuotaFigures, QuotaSnapshot, QuotaSpec};
use crate::rules::DEFAULT_RULE_NAME;
use crate::verdict::{self, Explanation};
use jiff::Timestamp;
use std::fmt::Write as _;
use std::path::Path;

/// `recgate check`: the one-screen summary of a valid config and its warnings (with how
/// many), or every problem.
pub fn check(path: &Path) -> Result<(String, usize), ConfigError> {
    let config = Config::from_file(path)?;
    let rules = config.rules.rules();
    let width = rules
        .iter()
        .map(|r| r.name.chars().count())
        .chain([DEFAULT_RULE_NAME.len()])
        .max()
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", path.display());
    let _ = writeln!(out, "  listen         {}", config.server.listen);
    let _ = writeln!(out, "  callback path  {}", config.server.callback_path);
    let _ = match &config.auth {
        None => writeln!(out, "  signatures     off"),
        Some(v) => writeln!(
            out,
            "  signatures     {} (host {}, max skew {}s; the key is not shown)",
            v.mode.as_str(),
            v.host.as_deref().unwrap_or("from the Host header"),
            v.max_skew.as_secs()
        ),
    };
    let _ = writeln!(out, "  overrides      {}", config.overrides.store);
    if config.lifecycle.is_on() {
        let path = |p: &Option<String>| p.clone().unwrap_or_else(|| "not served".into());
        let _ = writeln!(
            out,
            "  lifecycle      ingest {}, notify {} (history kept {} days)",
            path(&config.lifecycle.ingest_path),
            path(&config.lifecycle.notify_path),
            config.lifecycle.retention.as_secs() / 86_400
        );
    }
    if let Some(admin) = config.admin.listen {
        let token = if config.admin.token.is_some() {
            "bearer token required"
        } else {
            "no token"
        };
        let _ = writeln!(out, "  admin          {admin} ({token})");
    }
    for quota in &config.quotas {
        let mut limits = Vec::with_capacity(2);
        if let Some(max) = quota.max_active {
            limits.push(format!("at most {max} at once"));
        }
        if let Some(hours) = quota.monthly_hours {
            limits.push(format!("{hours} hours a month ({})", quota.timezone_name));
        }
        let _ = writeln!(
            out,
            "  quota          {}: {}, {}",
            quota.name,
            limits.join(", "),
            quota.mode.as_str()
        );
    }
    let _ = writeln!(out, "  rules          {} (first match wins)", rules.len());
    for (index, rule) in rules.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>4}. {:<width$}  {}\n        {:<width$}  -> {}{}",
            index + 1,
            rule.name,
            rule.selector(),
            "",
            rule.decision,
            match (rule.shadow, rule.quota.and_then(|q| config.quotas.get(q))) {
                (true, _) => " (shadow: never answers)".to_owned(),
                (false, Some(quota)) => format!(" (while quota {} has room)", quota.name),
                (false, None) => String::new(),
            },
        );
    }
    let _ = writeln!(
        out,
        "        {:<width$}  -> {}",
        DEFAULT_RULE_NAME,
        config.rules.default_decision()
    );
    let warnings = lint(&config);
    for warning in &warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    Ok((out, warnings.len()))
}

/// What the store holds now, for `decide`: the overrides, and each of `quotas`' figures.
/// An SQLite file that does not exist yet holds nothing (and is not created).
pub async fn load_store(
    settings: &OverrideSettings,
    quotas: &[QuotaSpec],
) -> Result<(OverrideSet, Vec<QuotaFigures>), StoreError> {
    let empty = || {
        (
            OverrideSet::default(),
            vec![QuotaFigures::default(); quotas.len()],
        )
    };
    if let StoreSpec::Sqlite(path) = &settings.store
        && !path.exists()
    {
        return Ok(empty());
    }
    let Some(store) = Store::open(&settings.store, settings.timeout).await? else {
        return Ok(empty());
    };
    let loaded = store.load().await;
    let figures = read_figures(&store, quotas, Timestamp::now()).await;
    store.close().await;
    Ok((OverrideSet::new(loaded?), figures?))
}

/// `recgate decide`: the exact body the server would send, then what decided (an override
/// or a rule); with `explain`, every rule in order with why it did or did not decide.
/// Quotas are judged by `quotas`, the figures the store holds.
pub fn decide(
    config: &Config,
    overrides: &OverrideSet,
    quotas: &QuotaSnapshot,
    query: &str,
    explain: bool,
) -> String {
    let query = Query::parse(raw_query(query));
    let explained = verdict::explain(
        &config.rules,
        Some(overrides),
        &query,
        Timestamp::now(),
        quotas,
    );
    let (verdict, by_rules) = (&explained.verdict, &explained.by_rules);
    let mut out = String::new();
    let _ = writeln!(out, "{}", String::from_utf8_lossy(verdict.decision.body()));
    if let Some(item) = verdict.by_override() {
        let _ = write!(out, "rule: {OVERRIDE_RULE_NAME} {}", item.key);
        if let Some(end) = item.expires_at {
            let _ = write!(out, " until {end}");
        }
        if let Some(reason) = &item.reason {
            let _ = write!(out, " ({reason})");
        }
        let _ = writeln!(out, "\nwithout the override: rule {}", by_rules.rule_name());
    } else {
        let _ = writeln!(out, "rule: {}", verdict.rule_name());
    }
    if let Some(shadow) = by_rules.shadow_name() {
        let _ = writeln!(out, "shadow: {shadow} would have decided");
    }
    if explain {
        out.push_str(&explanation(&query, &explained));
    }
    out
}

/// The query as evaluated and each rule's check, one line each.
fn explanation(query: &Query, explained: &Explanation<'_>) -> String {
    let steps = &explained.steps;
    let width = steps
        .iter()
        .map(|s| s.rule.name.chars().count())
        .chain([DEFAULT_RULE_NAME.len()])
        .max()
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "query: domain={:?} app={:?} stream={:?} codec={} vbitrate={}",
        query.domain,
        query.app,
        query.stream,
        query.codec,
        query
            .vbitrate
            .map_or("unknown".to_owned(), |v| v.to_string())
    );
    for (i, step) in steps.iter().enumerate() {
        let quota = step
            .quota
            .as_ref()
            .map_or(String::new(), |figures| format!(" ({figures})"));
        let _ = writeln!(
            out,
            "  {:>4}. {:<width$}  {}{quota}",
            i + 1,
            step.rule.name,
            step.check
        );
    }
    let default = if explained.by_rules.rule().is_none() {
        "decides: no rule matched"
    } else {
        "not reached"
    };
    let _ = writeln!(out, "        {DEFAULT_RULE_NAME:<width$}  {default}");
    out
}

/// Accepts a bare query string, one with a leading `?`, or a whole URL or path.
fn raw_query(input: &str) -> &str {
    let input = input.trim();
    if input.starts_with('/') || input.contains("://") || input.starts_with('?') {
        input.split_once('?').map_or("", |(_, query)| query)
    } else {
        input
    }
}

#[cfg(test)]
mod tests {
    use super::raw_query;

    #[test]
    fn a_query_may_be_given_bare_with_question_mark_or_as_url() {
        let cases = [
            ("app=a&stream=b", "app=a&stream=b"),
            ("?app=a", "app=a"),
            ("/cb?app=a", "app=a"),
            ("http://host:8080/cb?app=a", "app=a"),
            ("/cb", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(raw_query(input), expected, "input {input:?}");
        }
    }
}
