//! The compiled rule set: pure matching of a `Query` at a time against rules, no I/O.
//!
//! Rules are tried in file order and the first live rule that matches decides; shadow
//! rules are matched too but never decide. Who wins between rules, overrides and the
//! default is settled in the `verdict` module, not here.

mod affix;
mod diff;
mod index;
mod pattern;
mod rule;
mod schedule;

pub use diff::RuleDiff;
pub use index::REGEX_SET_SIZE_LIMIT;

use index::RuleIndex;
pub use pattern::{Pattern, PatternError, REGEX_SIZE_LIMIT};
pub use rule::{BitrateRange, Mismatch, Rule};
pub use schedule::Schedule;

use crate::decision::Decision;
use crate::query::Query;
use jiff::Timestamp;

/// The name under which the default decision appears in logs, metrics and `decide`.
pub const DEFAULT_RULE_NAME: &str = "default";

/// A validated, compiled list of rules and the default decision.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    default: Decision,
    /// Indexes the live rules only.
    index: RuleIndex,
    /// Positions of the shadow rules, ascending.
    shadows: Vec<usize>,
    /// Whether any rule names a quota.
    has_quotas: bool,
}

/// One rule's part in an explanation.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// What it did with the query.
    pub check: Check,
    /// Its quota's check with its figures, when it names a quota and was checked.
    pub quota: Option<String>,
}

/// What one rule did with a query, as explain shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// It matched and decided.
    Decides,
    /// It is a shadow rule and matched: counted and logged, but the next rule decides.
    ShadowMatch,
    /// It did not match, failing this condition first.
    NoMatch(Mismatch),
    /// It matched, but its quota is full: the next rule decides. Says which and how full.
    QuotaFull(String),
    /// An earlier rule (or an override) decided first.
    NotReached,
}

impl Check {
    /// The stable code of the check, as the admin API spells it.
    pub fn code(&self) -> &'static str {
        match self {
            Check::Decides => "decides",
            Check::ShadowMatch => "shadow_match",
            Check::NoMatch(_) => "no_match",
            Check::QuotaFull(_) => "quota_full",
            Check::NotReached => "not_reached",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Decides => f.write_str("matches: decides"),
            Check::ShadowMatch => f.write_str("matches, but shadow: counted, does not answer"),
            Check::NoMatch(m) => {
                write!(f, "no match: {} {:?} is not {}", m.field, m.value, m.wanted)
            }
            Check::QuotaFull(why) => write!(f, "matches, but {why}: does not answer"),
            Check::NotReached => f.write_str("not reached: an earlier rule decided"),
        }
    }
}

/// Makes rules with the same answer share one decision, the default's when it answers
/// the same: a file of many thousand rules has only a few answers.
fn share_decisions(rules: &mut [Rule], default: &Decision) {
    let mut seen: foldhash::HashSet<Decision> = foldhash::HashSet::default();
    seen.insert(default.clone());
    for rule in rules {
        match seen.get(&rule.decision) {
            Some(shared) => rule.decision = shared.clone(),
            None => {
                seen.insert(rule.decision.clone());
            }
        }
    }
}

impl RuleSet {
    /// Builds a rule set from rules already validated (unique names, sound patterns).
    pub fn new(mut rules: Vec<Rule>, default: Decision) -> RuleSet {
        share_decisions(&mut rules, &default);
        let index = RuleIndex::build(&rules);
        let shadows = (0..rules.len()).filter(|&i| rules[i].shadow).collect();
        let has_quotas = rules.iter().any(|rule| rule.quota.is_some());
        RuleSet {
            rules,
            default,
            index,
            shadows,
            has_quotas,
        }
    }

    /// The position of the first live rule in file order that matches `query` at `now`.
    pub fn first_match(&self, query: &Query, now: Timestamp) -> Option<usize> {
        self.index.first_match(&self.rules, query, now, |_| true)
    }

    /// The same, skipping rules that match but that `accept` refuses (a rule whose quota
    /// is full). `accept` is asked about matching rules only, in file order, until it
    /// takes one.
    pub fn first_accepted(
        &self,
        query: &Query,
        now: Timestamp,
        accept: impl FnMut(&Rule) -> bool,
    ) -> Option<usize> {
        self.index.first_match(&self.rules, query, now, accept)
    }

    /// Whether any rule names a quota.
    pub fn has_quotas(&self) -> bool {
        self.has_quotas
    }

    /// The same by a plain scan in file order: the reference the index is held to in tests
    /// and benchmarks.
    pub fn first_match_linear(&self, query: &Query, now: Timestamp) -> Option<usize> {
        self.rules
            .iter()
            .position(|rule| !rule.shadow && rule.matches(query, now))
    }

    /// The first shadow rule before position `before` (anywhere, for `None`) that matches.
    /// Shadow rules are few; they are checked one by one.
    pub fn shadow_match(
        &self,
        query: &Query,
        now: Timestamp,
        before: Option<usize>,
    ) -> Option<usize> {
        let end = before.unwrap_or(self.rules.len());
        self.shadows
            .iter()
            .copied()
            .take_while(|&i| i < end)
            .find(|&i| {
                self.rules
                    .get(i)
                    .is_some_and(|rule| rule.matches(query, now))
            })
    }

    /// Every rule in order with why it did or did not decide, given that the rule at
    /// `decided` (none, for the default) is the one that did.
    pub fn explain(&self, query: &Query, now: Timestamp, decided: Option<usize>) -> Vec<Step<'_>> {
        self.rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let check = match decided {
                    Some(winner) if i > winner => Check::NotReached,
                    _ => match rule.mismatch(query, now) {
                        Some(mismatch) => Check::NoMatch(mismatch),
                        None if rule.shadow => Check::ShadowMatch,
                        None => Check::Decides,
                    },
                };
                Step {
                    rule,
                    check,
                    quota: None,
                }
            })
            .collect()
    }

    /// The rule at `index`.
    pub fn get(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index)
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules (every query gets the default).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The decision when no rule matches.
    pub fn default_decision(&self) -> &Decision {
        &self.default
    }
}

#[cfg(test)]
mod tests;
