//! The compiled rule set: pure evaluation of a `Query` to a `Verdict`, no I/O.
//!
//! Rules are tried in file order and the first that matches answers; when none does, the
//! default answers.

mod diff;
mod index;
mod pattern;
mod rule;
mod schedule;

pub use diff::RuleDiff;
pub use index::REGEX_SET_SIZE_LIMIT;

use index::RuleIndex;
pub use pattern::{Pattern, PatternError, REGEX_SIZE_LIMIT};
pub use rule::{Answer, BitrateRange, Mismatch, Rule};
pub use schedule::Schedule;

use crate::query::Query;

/// The name under which the default decision appears in logs, metrics and `decide`.
pub const DEFAULT_RULE_NAME: &str = "default";

/// A validated, compiled list of rules and the default answer.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    default: Answer,
    /// Indexes the live rules only.
    index: RuleIndex,
    /// Positions of the shadow rules, ascending.
    shadows: Vec<usize>,
}

/// One rule's part in an explanation.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// What it did with the query.
    pub outcome: Outcome,
}

/// What one rule did with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It matched and answered.
    Decides,
    /// It is a shadow rule and matched: counted and logged, but the next rule decides.
    ShadowMatch,
    /// It did not match, failing this condition first.
    NoMatch(Mismatch),
    /// An earlier rule answered first.
    NotReached,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Decides => f.write_str("matches: decides"),
            Outcome::ShadowMatch => f.write_str("matches, but shadow: counted, does not answer"),
            Outcome::NoMatch(m) => {
                write!(f, "no match: {} {:?} is not {}", m.field, m.value, m.wanted)
            }
            Outcome::NotReached => f.write_str("not reached: an earlier rule decided"),
        }
    }
}

/// The outcome of evaluating one query.
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    /// Position of the matching rule in evaluation order; `None` when the default answered.
    pub index: Option<usize>,
    /// The rule that matched; `None` when the default answered.
    pub rule: Option<&'a Rule>,
    /// The first shadow rule before the answering one that matched: it would have decided
    /// had it been live.
    pub shadow: Option<&'a Rule>,
    /// That shadow rule's position.
    pub shadow_index: Option<usize>,
    /// What to send back.
    pub answer: &'a Answer,
}

impl Verdict<'_> {
    /// The matching rule's name, or `default`.
    pub fn rule_name(&self) -> &str {
        self.rule
            .map_or(DEFAULT_RULE_NAME, |rule| rule.name.as_str())
    }
}

impl RuleSet {
    /// Builds a rule set from rules already validated (unique names, sound patterns).
    pub fn new(rules: Vec<Rule>, default: Answer) -> RuleSet {
        let index = RuleIndex::build(&rules);
        let shadows = (0..rules.len()).filter(|&i| rules[i].shadow).collect();
        RuleSet {
            rules,
            default,
            index,
            shadows,
        }
    }

    /// Decides for `query`: the first matching live rule in file order, else the default.
    pub fn evaluate(&self, query: &Query) -> Verdict<'_> {
        let index = self.index.first_match(&self.rules, query);
        let mut verdict = self.verdict_of(index);
        verdict.shadow_index = self.shadow_match(query, index);
        verdict.shadow = verdict.shadow_index.and_then(|i| self.rules.get(i));
        verdict
    }

    /// The same decision by a plain scan in file order: the reference the index is held
    /// to in tests and benchmarks.
    pub fn evaluate_linear(&self, query: &Query) -> Verdict<'_> {
        let index = self
            .rules
            .iter()
            .position(|rule| !rule.shadow && rule.matches(query));
        let mut verdict = self.verdict_of(index);
        verdict.shadow_index = self.shadow_match(query, index);
        verdict.shadow = verdict.shadow_index.and_then(|i| self.rules.get(i));
        verdict
    }

    /// The first shadow rule before `answering` (or anywhere, for the default) that
    /// matches. Shadow rules are few; they are checked one by one.
    fn shadow_match(&self, query: &Query, answering: Option<usize>) -> Option<usize> {
        let end = answering.unwrap_or(self.rules.len());
        self.shadows
            .iter()
            .copied()
            .take_while(|&i| i < end)
            .find(|&i| self.rules.get(i).is_some_and(|rule| rule.matches(query)))
    }

    /// Every rule in order with why it did or did not decide, then the verdict.
    pub fn explain(&self, query: &Query) -> (Vec<Step<'_>>, Verdict<'_>) {
        let verdict = self.evaluate(query);
        let steps = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let outcome = match verdict.index {
                    Some(winner) if i > winner => Outcome::NotReached,
                    _ => match rule.mismatch(query) {
                        Some(mismatch) => Outcome::NoMatch(mismatch),
                        None if rule.shadow => Outcome::ShadowMatch,
                        None => Outcome::Decides,
                    },
                };
                Step { rule, outcome }
            })
            .collect();
        (steps, verdict)
    }

    /// The verdict naming rule `index` (which must exist), or the default for `None`.
    fn verdict_of(&self, index: Option<usize>) -> Verdict<'_> {
        match index.and_then(|i| self.rules.get(i)) {
            Some(rule) => Verdict {
                index,
                rule: Some(rule),
                shadow: None,
                shadow_index: None,
                answer: &rule.answer,
            },
            None => Verdict {
                index: None,
                rule: None,
                shadow: None,
                shadow_index: None,
                answer: &self.default,
            },
        }
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

    /// The answer when no rule matches.
    pub fn default_answer(&self) -> &Answer {
        &self.default
    }
}

#[cfg(test)]
mod tests;
