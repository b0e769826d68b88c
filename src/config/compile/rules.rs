//! `[[rule]]` and `[default]`: patterns, codecs, bitrates, schedules and decisions, every
//! rule compiled on every core.

use super::Problems;
use crate::config::defaults::{DEFAULT_SCHEDULE_TIMEZONE, MAX_RULE_NAME_LEN, RESERVED_NAMES};
use crate::config::error::Problem;
use crate::config::file::{RawBitrate, RawRule};
use crate::decision::{
    Decision, DecisionProblem, Format, IntervalSpec, check_decision, check_formats,
};
use crate::query::Codec;
use crate::quota::QuotaSpec;
use crate::rules::{BitrateRange, Pattern, Rule, Schedule};
use rayon::prelude::*;
use std::collections::HashSet;

/// Compiles every rule on every core, keeping file order for rules and problems alike.
pub(super) fn compile_rules(
    raw: Vec<RawRule>,
    quotas: &[QuotaSpec],
    problems: &mut Problems,
) -> Vec<Rule> {
    let mut names = HashSet::with_capacity(raw.len());
    let duplicate: Vec<bool> = raw.iter().map(|r| !names.insert(r.name.as_str())).collect();
    let compiled: Vec<(Option<Rule>, Vec<Problem>)> = raw
        .into_par_iter()
        .zip(duplicate)
        .map(|(raw_rule, duplicate)| {
            let mut mine = Problems::new();
            let place = format!("rule {:?}", raw_rule.name);
            if duplicate {
                mine.add(
                    &place,
                    Some("name"),
                    "duplicate rule name; names must be unique",
                );
            }
            (compile_rule(&place, raw_rule, quotas, &mut mine), mine.list)
        })
        .collect();
    let mut rules = Vec::with_capacity(compiled.len());
    for (rule, found) in compiled {
        problems.list.extend(found);
        rules.extend(rule);
    }
    rules
}

fn compile_rule(
    place: &str,
    raw: RawRule,
    quotas: &[QuotaSpec],
    problems: &mut Problems,
) -> Option<Rule> {
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
            raw.timezone.as_deref().unwrap_or(DEFAULT_SCHEDULE_TIMEZONE),
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
    let quota = raw
        .quota
        .as_deref()
        .and_then(|name| compile_quota_key(place, name, &raw, shadow, quotas, problems));
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
        decision: decision?,
        shadow,
        schedule: schedule.map(Box::new),
        quota,
    })
}

/// The position of the quota a rule names.
fn compile_quota_key(
    place: &str,
    name: &str,
    raw: &RawRule,
    shadow: bool,
    quotas: &[QuotaSpec],
    problems: &mut Problems,
) -> Option<usize> {
    let Some(position) = quotas.iter().position(|q| q.name == name) else {
        let known: Vec<&str> = quotas.iter().map(|q| q.name.as_str()).collect();
        let known = if known.is_empty() {
            "there is no [[quota]]".to_owned()
        } else {
            format!("the quotas are {}", known.join(", "))
        };
        problems.add(
            place,
            Some("quota"),
            format!("no [[quota]] named {name:?}; {known}"),
        );
        return None;
    };
    if shadow {
        problems.add(
            place,
            Some("quota"),
            "a shadow rule never answers, so it takes no slot; to try a quota, give the quota mode = \"shadow\"",
        );
    } else if !raw.record {
        problems.add(
            place,
            Some("quota"),
            "a rule with record = false records nothing to count",
        );
    }
    Some(position)
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

/// Compiles the decision keys shared by `[default]` and rules, with `crate::decision`'s
/// checks, naming `place` in every problem.
pub(super) fn compile_decision(
    place: &str,
    record: bool,
    formats: Option<&[String]>,
    interval: Option<&IntervalSpec>,
    problems: &mut Problems,
) -> Option<Decision> {
    check_decision(record, formats, interval)
        .map_err(|found| add_all(place, found, problems))
        .ok()
}

/// Compiles a list of format names, naming `place` in every problem.
pub(super) fn compile_formats(
    place: &str,
    names: &[String],
    problems: &mut Problems,
) -> Option<Vec<Format>> {
    check_formats(names)
        .map_err(|found| add_all(place, found, problems))
        .ok()
}

/// Files a decision's problems under `place`.
fn add_all(place: &str, found: Vec<DecisionProblem>, problems: &mut Problems) {
    for problem in found {
        problems.add(place, Some(&problem.field), problem.message);
    }
}
