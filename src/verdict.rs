//! The one place that decides a callback: who wins between overrides, rules and the
//! default. Pure: the inputs are in-memory snapshots and the clock is an argument, so the
//! callback never waits on I/O here and every caller (the callback, `/explain`,
//! `recgate decide`) gets the same answer for the same inputs.
//!
//! Precedence, stated once (and tested once, in `precedence_is_stated_here_once`):
//! 1. a live override for the stream decides, the most specific first;
//! 2. else the first live rule in file order that matches decides;
//! 3. else the default decides.
//!
//! Shadow rules never decide; the first one before the deciding rule that matches is
//! reported. When an override decides, rules are not evaluated at all.

use crate::decision::Decision;
use crate::overrides::{OVERRIDE_RULE_NAME, Override, OverrideSet};
use crate::query::Query;
use crate::rules::{DEFAULT_RULE_NAME, Rule, RuleSet, Step};
use jiff::Timestamp;

/// The outcome of deciding one callback.
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    /// What to answer.
    pub decision: &'a Decision,
    /// What decided.
    pub by: DecidedBy<'a>,
    /// The first shadow rule before the deciding rule that matched: it would have decided
    /// had it been live. `None` when an override decided (rules were not evaluated).
    pub shadow: Option<(usize, &'a Rule)>,
}

/// What decided a callback.
#[derive(Debug, Clone, Copy)]
pub enum DecidedBy<'a> {
    /// A runtime override.
    Override(&'a Override),
    /// The rule at this position.
    Rule(usize, &'a Rule),
    /// No override and no rule: the default.
    Default,
}

impl<'a> Verdict<'a> {
    /// The name logs and metrics give to what decided: the rule's, `override` or `default`.
    pub fn rule_name(&self) -> &'a str {
        match self.by {
            DecidedBy::Override(_) => OVERRIDE_RULE_NAME,
            DecidedBy::Rule(_, rule) => &rule.name,
            DecidedBy::Default => DEFAULT_RULE_NAME,
        }
    }

    /// The deciding rule, when a rule decided.
    pub fn rule(&self) -> Option<&'a Rule> {
        match self.by {
            DecidedBy::Rule(_, rule) => Some(rule),
            _ => None,
        }
    }

    /// The deciding rule's position, when a rule decided.
    pub fn rule_index(&self) -> Option<usize> {
        match self.by {
            DecidedBy::Rule(index, _) => Some(index),
            _ => None,
        }
    }

    /// The override that decided, when one did.
    pub fn by_override(&self) -> Option<&'a Override> {
        match self.by {
            DecidedBy::Override(item) => Some(item),
            _ => None,
        }
    }

    /// The shadow rule's name, when one matched.
    pub fn shadow_name(&self) -> Option<&'a str> {
        self.shadow.map(|(_, rule)| rule.name.as_str())
    }
}

/// Decides `query` at `now` from `rules` and, when there are any, `overrides`.
pub fn decide<'a>(
    rules: &'a RuleSet,
    overrides: Option<&'a OverrideSet>,
    query: &Query,
    now: Timestamp,
) -> Verdict<'a> {
    if let Some(item) = overrides.and_then(|set| set.find(query, now)) {
        return Verdict {
            decision: &item.decision,
            by: DecidedBy::Override(item),
            shadow: None,
        };
    }
    let index = rules.first_match(query, now);
    let shadow = rules
        .shadow_match(query, now, index)
        .and_then(|i| rules.get(i).map(|rule| (i, rule)));
    match index.and_then(|i| rules.get(i).map(|rule| (i, rule))) {
        Some((index, rule)) => Verdict {
            decision: &rule.decision,
            by: DecidedBy::Rule(index, rule),
            shadow,
        },
        None => Verdict {
            decision: rules.default_decision(),
            by: DecidedBy::Default,
            shadow,
        },
    }
}

/// A verdict with its reasons, for `/explain` and `recgate decide`.
#[derive(Debug, Clone)]
pub struct Explanation<'a> {
    /// The verdict the callback gets.
    pub verdict: Verdict<'a>,
    /// What the rules alone decide: the same as `verdict` unless an override decided.
    pub by_rules: Verdict<'a>,
    /// Every rule in order with why it did or did not decide, by the rules alone.
    pub steps: Vec<Step<'a>>,
}

/// Decides `query` as `decide` does, and says why.
pub fn explain<'a>(
    rules: &'a RuleSet,
    overrides: Option<&'a OverrideSet>,
    query: &Query,
    now: Timestamp,
) -> Explanation<'a> {
    let verdict = decide(rules, overrides, query, now);
    let by_rules = match verdict.by {
        DecidedBy::Override(_) => decide(rules, None, query, now),
        _ => verdict,
    };
    let steps = rules.explain(query, now, by_rules.rule_index());
    Explanation {
        verdict,
        by_rules,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overrides::OverrideKey;
    use crate::rules::{BitrateRange, Pattern};

    fn rule(name: &str, app: Option<&str>, stream: Option<&str>, shadow: bool) -> Rule {
        Rule {
            name: name.to_owned(),
            domain: Pattern::compile(None, true).expect("any domain"),
            app: Pattern::compile(app, false).expect("app compiles"),
            stream: Pattern::compile(stream, false).expect("stream compiles"),
            codecs: None,
            vbitrate: BitrateRange::default(),
            decision: Decision::plain(!shadow),
            shadow,
            schedule: None,
        }
    }

    fn pinned(app: &str, stream: &str, record: bool, expires: Option<i64>) -> Override {
        Override::new(
            OverrideKey {
                domain: String::new(),
                app: app.to_owned(),
                stream: stream.to_owned(),
            },
            Decision::plain(record),
            None,
            Timestamp::UNIX_EPOCH,
            expires.and_then(|s| Timestamp::from_second(s).ok()),
        )
    }

    /// Precedence, in one table: each row is a query at a time and what must decide it,
    /// with the shadow rule that must be reported.
    #[test]
    fn precedence_is_stated_here_once() {
        let rules = RuleSet::new(
            vec![
                rule("trial", Some("edu"), None, true),
                rule("never-test", None, Some("test-*"), false),
                rule("courses", Some("edu"), None, false),
            ],
            Decision::plain(false),
        );
        let overrides = OverrideSet::new([
            pinned("", "course-1", false, None),
            pinned("edu", "course-1", true, None),
            pinned("", "test-9", true, Some(100)),
        ]);
        let at = |s: i64| Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH);
        let cases = [
            // The most specific live override decides, and rules are not evaluated.
            ("app=edu&stream=course-1", 0, "override", Some(true), None),
            ("app=news&stream=course-1", 0, "override", Some(false), None),
            // An override beats the first matching rule until it expires.
            ("app=edu&stream=test-9", 99, "override", Some(true), None),
            (
                "app=edu&stream=test-9",
                100,
                "never-test",
                Some(true),
                Some("trial"),
            ),
            // The first live rule in file order decides; a shadow rule never does.
            (
                "app=edu&stream=course-2",
                0,
                "courses",
                Some(true),
                Some("trial"),
            ),
            ("app=news&stream=test-1", 0, "never-test", Some(true), None),
            // No override, no rule: the default.
            ("app=news&stream=x", 0, "default", Some(false), None),
            ("", 0, "default", Some(false), None),
        ];
        for (raw, second, by, record, shadow) in cases {
            let verdict = decide(&rules, Some(&overrides), &Query::parse(raw), at(second));
            assert_eq!(verdict.rule_name(), by, "what decides {raw:?} at {second}");
            assert_eq!(Some(verdict.decision.record()), record, "answer to {raw:?}");
            assert_eq!(verdict.shadow_name(), shadow, "shadow of {raw:?}");
        }
        let without = decide(
            &rules,
            None,
            &Query::parse("app=edu&stream=course-1"),
            at(0),
        );
        assert_eq!(
            without.rule_name(),
            "courses",
            "no overrides: the rules decide"
        );
    }

    #[test]
    fn no_match_falls_back_to_the_default() {
        let rules = RuleSet::new(
            vec![rule("edu", Some("edu"), None, false)],
            Decision::plain(false),
        );
        let verdict = decide(&rules, None, &Query::parse("app=news"), Timestamp::now());
        assert_eq!(verdict.rule_name(), DEFAULT_RULE_NAME);
        assert!(verdict.rule().is_none(), "no rule object for the default");
        assert!(!verdict.decision.record(), "default says do not record");
    }

    #[test]
    fn explain_tells_what_the_rules_alone_would_have_decided_under_an_override() {
        let rules = RuleSet::new(
            vec![rule("courses", Some("edu"), None, false)],
            Decision::plain(false),
        );
        let overrides = OverrideSet::new([pinned("", "s", false, None)]);
        let query = Query::parse("app=edu&stream=s");
        let explained = explain(&rules, Some(&overrides), &query, Timestamp::UNIX_EPOCH);
        assert_eq!(explained.verdict.rule_name(), "override");
        assert_eq!(explained.by_rules.rule_name(), "courses");
        let checks: Vec<&str> = explained.steps.iter().map(|s| s.check.code()).collect();
        assert_eq!(checks, ["decides"], "steps are the rules' own");
    }
}
