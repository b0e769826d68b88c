//! The compiled rule set: pure evaluation of a `Query` to a `Verdict`, no I/O.
//!
//! Rules are tried in file order and the first that matches answers; when none does, the
//! default answers.

mod diff;
mod index;
mod pattern;
mod rule;

pub use diff::RuleDiff;
pub use index::REGEX_SET_SIZE_LIMIT;

use index::RuleIndex;
pub use pattern::{Pattern, PatternError, REGEX_SIZE_LIMIT};
pub use rule::{Answer, BitrateRange, Rule};

use crate::query::Query;

/// The name under which the default decision appears in logs, metrics and `decide`.
pub const DEFAULT_RULE_NAME: &str = "default";

/// A validated, compiled list of rules and the default answer.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    default: Answer,
    index: RuleIndex,
}

/// The outcome of evaluating one query.
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    /// Position of the matching rule in evaluation order; `None` when the default answered.
    pub index: Option<usize>,
    /// The rule that matched; `None` when the default answered.
    pub rule: Option<&'a Rule>,
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
        RuleSet {
            rules,
            default,
            index,
        }
    }

    /// Decides for `query`: the first matching rule in file order, else the default.
    pub fn evaluate(&self, query: &Query) -> Verdict<'_> {
        self.verdict_of(self.index.first_match(&self.rules, query))
    }

    /// The same decision by a plain scan in file order: the reference the index is held
    /// to in tests and benchmarks.
    pub fn evaluate_linear(&self, query: &Query) -> Verdict<'_> {
        self.verdict_of(self.rules.iter().position(|rule| rule.matches(query)))
    }

    /// The verdict naming rule `index` (which must exist), or the default for `None`.
    fn verdict_of(&self, index: Option<usize>) -> Verdict<'_> {
        match index.and_then(|i| self.rules.get(i)) {
            Some(rule) => Verdict {
                index,
                rule: Some(rule),
                answer: &rule.answer,
            },
            None => Verdict {
                index: None,
                rule: None,
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
