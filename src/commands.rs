//! The offline subcommands, `check` and `decide`, as functions that return their output.

use crate::config::{Config, ConfigError};
use crate::query::Query;
use crate::rules::DEFAULT_RULE_NAME;
use std::fmt::Write as _;
use std::path::Path;

/// `recgate check`: the one-screen summary of a valid config, or every problem.
pub fn check(path: &Path) -> Result<String, ConfigError> {
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
    let _ = writeln!(out, "  rules          {} (first match wins)", rules.len());
    for (index, rule) in rules.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>4}. {:<width$}  {}\n        {:<width$}  -> {}",
            index + 1,
            rule.name,
            rule.selector(),
            "",
            rule.answer.decision,
        );
    }
    let _ = writeln!(
        out,
        "        {:<width$}  -> {}",
        DEFAULT_RULE_NAME,
        config.rules.default_answer().decision
    );
    Ok(out)
}

/// `recgate decide`: the exact body the server would send, then the deciding rule.
pub fn decide(path: &Path, query: &str) -> Result<String, ConfigError> {
    let config = Config::from_file(path)?;
    let query = Query::parse(raw_query(query));
    let verdict = config.rules.evaluate(&query);
    let body = String::from_utf8_lossy(&verdict.answer.body);
    Ok(format!("{body}\nrule: {}\n", verdict.rule_name()))
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
