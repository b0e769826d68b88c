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
//! reported. When an override decides, rules are not evaluated (but for its quota: an
//! override's recording counts toward the quota of the first rule that matches).
//!
//! A rule naming a quota matches only if the `Gate` admits the stream: the callback's gate
//! takes a slot from memory, explain's only looks, and with no quotas it is never asked.

use crate::decision::Decision;
use crate::overrides::{OVERRIDE_RULE_NAME, Override, OverrideSet};
use crate::query::Query;
use crate::rules::{Check, DEFAULT_RULE_NAME, Rule, RuleSet, Step};
use jiff::Timestamp;

/// The quotas, as `decide` asks them.
pub trait Gate {
    /// Whether the quota at position `quota` in the config takes the stream at `now`.
    fn admit(&self, quota: usize, now: Timestamp) -> bool;
    /// Counts an override's recording toward the quota at `quota`: never refused.
    fn count(&self, quota: usize, now: Timestamp);
    /// The quota's check in words with its figures, for explain.
    fn describe(&self, _quota: usize, _now: Timestamp) -> Option<String> {
        None
    }
}

/// The gate of a config without quotas, or of a check offline: every quota admits.
pub struct Unlimited;

impl Gate for Unlimited {
    fn admit(&self, _quota: usize, _now: Timestamp) -> bool {
        true
    }

    fn count(&self, _quota: usize, _now: Timestamp) {}
}

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

/// Decides `query` at `now` from `rules` and, when there are any, `overrides`, asking
/// `gate` about the quotas of matching rules.
pub fn decide<'a>(
    rules: &'a RuleSet,
    overrides: Option<&'a OverrideSet>,
    query: &Query,
    now: Timestamp,
    gate: &dyn Gate,
) -> Verdict<'a> {
    if let Some(item) = overrides.and_then(|set| set.find(query, now)) {
        if item.decision.record() && rules.has_quotas() {
            let quota = rules
                .first_match(query, now)
                .and_then(|i| rules.get(i))
                .and_then(|rule| rule.quota);
            if let Some(quota) = quota {
                gate.count(quota, now);
            }
        }
        return Verdict {
            decision: &item.decision,
            by: DecidedBy::Override(item),
            shadow: None,
        };
    }
    let index = if rules.has_quotas() {
        rules.first_accepted(query, now, |rule| {
            rule.quota.is_none_or(|quota| gate.admit(quota, now))
        })
    } else {
        rules.first_match(query, now)
    };
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

/// Decides `query` as `decide` does, and says why: `gate` should only look.
pub fn explain<'a>(
    rules: &'a RuleSet,
    overrides: Option<&'a OverrideSet>,
    query: &Query,
    now: Timestamp,
    gate: &dyn Gate,
) -> Explanation<'a> {
    let verdict = decide(rules, overrides, query, now, gate);
    let by_rules = match verdict.by {
        DecidedBy::Override(_) => decide(rules, None, query, now, gate),
        _ => verdict,
    };
    let winner = by_rules.rule_index();
    let mut steps = rules.explain(query, now, winner);
    for (i, step) in steps.iter_mut().enumerate() {
        let Some(quota) = step.rule.quota else {
            continue;
        };
        // A live rule that matched before the winner (or with none) was refused by its
        // quota: `RuleSet::explain` judges the conditions alone.
        match step.check {
            Check::Decides if Some(i) == winner => step.quota = gate.describe(quota, now),
            Check::Decides => {
                let why = gate.describe(quota, now);
                step.check = Check::QuotaFull(why.unwrap_or_else(|| "its quota is full".into()));
            }
            _ => {}
        }
    }
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
            quota: None,
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
            let verdict = decide(
                &rules,
                Some(&overrides),
                &Query::parse(raw),
                at(second),
                &Unlimited,
            );
            assert_eq!(verdict.rule_name(), by, "what decides {raw:?} at {second}");
            assert_eq!(Some(verdict.decision.record()), record, "answer to {raw:?}");
            assert_eq!(verdict.shadow_name(), shadow, "shadow of {raw:?}");
        }
        let without = decide(
            &rules,
            None,
            &Query::parse("app=edu&stream=course-1"),
            at(0),
            &Unlimited,
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
        let verdict = decide(
            &rules,
            None,
            &Query::parse("app=news"),
            Timestamp::now(),
            &Unlimited,
        );
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
        let explained = explain(
            &rules,
            Some(&overrides),
            &query,
            Timestamp::UNIX_EPOCH,
            &Unlimited,
        );
        assert_eq!(explained.verdict.rule_name(), "override");
        assert_eq!(explained.by_rules.rule_name(), "courses");
        let checks: Vec<&str> = explained.steps.iter().map(|s| s.check.code()).collect();
        assert_eq!(checks, ["decides"], "steps are the rules' own");
    }

    /// A gate whose quotas are full or not, by position, recording what it was asked.
    struct Fixed {
        full: Vec<bool>,
        asked: std::cell::RefCell<Vec<(&'static str, usize)>>,
    }

    impl Gate for Fixed {
        fn admit(&self, quota: usize, _now: Timestamp) -> bool {
            self.asked.borrow_mut().push(("admit", quota));
            !self.full.get(quota).copied().unwrap_or(false)
        }

        fn count(&self, quota: usize, _now: Timestamp) {
            self.asked.borrow_mut().push(("count", quota));
        }

        fn describe(&self, quota: usize, _now: Timestamp) -> Option<String> {
            Some(format!("quota {quota} full: 1/1 active"))
        }
    }

    #[test]
    fn a_rule_whose_quota_is_full_does_not_match_and_the_next_rule_decides() {
        let with_quota = |name: &str, quota: usize| Rule {
            quota: Some(quota),
            ..rule(name, Some("edu"), None, false)
        };
        let rules = RuleSet::new(
            vec![
                with_quota("premium", 0),
                with_quota("fallback", 1),
                rule("never", Some("edu"), None, true),
            ],
            Decision::plain(false),
        );
        let query = Query::parse("app=edu&stream=s");
        let gate = |full: Vec<bool>| Fixed {
            full,
            asked: Default::default(),
        };
        let open = gate(vec![false, false]);
        assert_eq!(
            decide(&rules, None, &query, at0(), &open).rule_name(),
            "premium"
        );
        assert_eq!(
            *open.asked.borrow(),
            [("admit", 0)],
            "one quota asked, once"
        );
        let first_full = gate(vec![true, false]);
        assert_eq!(
            decide(&rules, None, &query, at0(), &first_full).rule_name(),
            "fallback"
        );
        let both_full = gate(vec![true, true]);
        assert_eq!(
            decide(&rules, None, &query, at0(), &both_full).rule_name(),
            DEFAULT_RULE_NAME
        );
        // Not asked about rules that do not match on their conditions.
        let other = gate(vec![true, true]);
        let _ = decide(&rules, None, &Query::parse("app=news"), at0(), &other);
        assert!(other.asked.borrow().is_empty());
        // Explain names the quota that refused, with its figures.
        let explained = explain(&rules, None, &query, at0(), &gate(vec![true, false]));
        let checks: Vec<String> = explained
            .steps
            .iter()
            .map(|s| s.check.to_string())
            .collect();
        assert_eq!(
            checks[0],
            "matches, but quota 0 full: 1/1 active: does not answer"
        );
        assert_eq!(explained.steps[0].check.code(), "quota_full");
        assert_eq!(explained.steps[1].check, Check::Decides);
        assert_eq!(
            explained.steps[1].quota.as_deref(),
            Some("quota 1 full: 1/1 active")
        );
        // An override records even when the quota is full, and counts toward it.
        let overrides = OverrideSet::new([pinned("edu", "s", true, None)]);
        let counted = gate(vec![true, true]);
        let verdict = decide(&rules, Some(&overrides), &query, at0(), &counted);
        assert_eq!(verdict.rule_name(), "override");
        assert_eq!(*counted.asked.borrow(), [("count", 0)]);
    }

    fn at0() -> Timestamp {
        Timestamp::UNIX_EPOCH
    }
}
