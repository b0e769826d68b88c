//! A first-match index over the rules, so evaluation does not scan them all.
//!
//! Every rule is filed under one *key*: a field whose pattern must match for the rule to
//! match. An exact value is preferred (the field with the fewest rules sharing it), then a
//! glob, then a regex; a rule with no pattern at all is kept in a list that is always
//! checked. When many rules share one exact value (one customer domain with thousands of
//! channels), that bucket gets an index of its own over the remaining fields. A query
//! gathers the candidates of its values (hash lookups, globs by their literal ends
//! (`affix`), one `RegexSet` per field and bucket) and the first candidate in rule order
//! that matches in full wins, exactly as a scan in file order would decide.

use super::affix::{AffixIndex, Candidates};
use super::pattern::Pattern;
use super::rule::Rule;
use crate::query::Query;
use foldhash::HashMap;
use jiff::Timestamp;
use regex::{RegexSet, RegexSetBuilder};

/// SECURITY: memory bound for one combined regex set; past it, those regex rules are
/// checked one by one instead (slower, same answers).
pub const REGEX_SET_SIZE_LIMIT: usize = 64 << 20;
/// A bucket of rules sharing one exact value gets an index of its own past this size.
pub const EXACT_BUCKET_NEST_OVER: usize = 8;

/// The fields a rule can be keyed by, in the order ties are broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Stream,
    App,
    Domain,
}

const FIELDS: [Field; 3] = [Field::Stream, Field::App, Field::Domain];

impl Field {
    fn pattern(self, rule: &Rule) -> &Pattern {
        match self {
            Field::Stream => &rule.stream,
            Field::App => &rule.app,
            Field::Domain => &rule.domain,
        }
    }

    fn value(self, query: &Query) -> &str {
        match self {
            Field::Stream => &query.stream,
            Field::App => &query.app,
            Field::Domain => &query.domain,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Fields already decided by an enclosing bucket, so not used as keys again.
type Skip = [bool; 3];

/// Rules sharing one exact value.
#[derive(Debug, Clone)]
enum Bucket {
    /// Few: checked one by one.
    Flat(Vec<u32>),
    /// Many: indexed again over the other fields.
    Nested(Box<RuleIndex>),
}

/// The per-field part of an index.
#[derive(Debug, Clone, Default)]
struct FieldIndex {
    exact: HashMap<String, Bucket>,
    globs: AffixIndex,
    regexes: Option<RegexSet>,
    regex_rules: Vec<u32>,
    /// Glob rules with no literal end and regex rules whose set could not be built:
    /// checked one by one.
    scan: Vec<u32>,
}

/// The compiled index of a rule list (or of one bucket of it).
#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    fields: [FieldIndex; 3],
    /// Rules with no pattern left to key by: candidates for every query that gets here.
    unkeyed: Vec<u32>,
}

enum Key {
    Exact(Field),
    Glob(Field),
    Regex(Field),
    None,
}

impl RuleIndex {
    /// Builds the index of the live rules of `rules` (indices are positions in that
    /// slice); shadow rules never answer, so they are not indexed.
    pub fn build(rules: &[Rule]) -> RuleIndex {
        let ids: Vec<u32> = (0..rules.len())
            .filter(|&i| !rules[i].shadow)
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        RuleIndex::build_over(rules, &ids, [false; 3])
    }

    fn build_over(rules: &[Rule], ids: &[u32], skip: Skip) -> RuleIndex {
        let rule = |id: u32| &rules[id as usize];
        // How many rules share each exact value, per field: the fewer, the better a key.
        let mut shared: [HashMap<&str, usize>; 3] = Default::default();
        for &id in ids {
            for field in FIELDS.into_iter().filter(|f| !skip[f.slot()]) {
                if let Pattern::Exact(value) = field.pattern(rule(id)) {
                    *shared[field.slot()].entry(value.as_str()).or_default() += 1;
                }
            }
        }
        let mut index = RuleIndex::default();
        let mut exact: [HashMap<&str, Vec<u32>>; 3] = Default::default();
        let mut regexes: [(Vec<&str>, Vec<u32>); 3] = Default::default();
        for &id in ids {
            let rule = rule(id);
            match choose_key(rule, &shared, skip) {
                Key::Exact(field) => {
                    if let Pattern::Exact(value) = field.pattern(rule) {
                        exact[field.slot()].entry(value).or_default().push(id);
                    }
                }
                Key::Glob(field) => {
                    let target = &mut index.fields[field.slot()];
                    let filed = field
                        .pattern(rule)
                        .glob_text()
                        .is_some_and(|glob| target.globs.insert(&glob, id));
                    if !filed {
                        target.scan.push(id);
                    }
                }
                Key::Regex(field) => {
                    if let Pattern::Regex { regex, .. } = field.pattern(rule) {
                        let (sources, members) = &mut regexes[field.slot()];
                        sources.push(regex.as_str());
                        members.push(id);
                    }
                }
                Key::None => index.unkeyed.push(id),
            }
        }
        for field in FIELDS {
            let slot = field.slot();
            let target = &mut index.fields[slot];
            for (value, members) in std::mem::take(&mut exact[slot]) {
                let bucket = if members.len() > EXACT_BUCKET_NEST_OVER {
                    let mut inner_skip = skip;
                    inner_skip[slot] = true;
                    Bucket::Nested(Box::new(RuleIndex::build_over(rules, &members, inner_skip)))
                } else {
                    Bucket::Flat(members)
                };
                target.exact.insert(value.to_owned(), bucket);
            }
            let (sources, members) = std::mem::take(&mut regexes[slot]);
            if !members.is_empty() {
                let set = RegexSetBuilder::new(&sources)
                    .case_insensitive(field == Field::Domain)
                    .size_limit(REGEX_SET_SIZE_LIMIT)
                    .build();
                match set {
                    Ok(set) => {
                        target.regexes = Some(set);
                        target.regex_rules = members;
                    }
                    Err(_) => target.scan.extend(members),
                }
            }
            target.scan.sort_unstable();
        }
        index
    }

    /// The position of the first rule of `rules` (the slice the index was built from)
    /// that matches `query` and that `accept` takes.
    pub fn first_match(
        &self,
        rules: &[Rule],
        query: &Query,
        now: Timestamp,
        mut accept: impl FnMut(&Rule) -> bool,
    ) -> Option<usize> {
        let mut candidates = Candidates::new();
        self.gather(rules, query, &mut candidates);
        candidates.sort_unstable();
        candidates
            .into_iter()
            .map(|id| id as usize)
            .find(|&position| {
                rules
                    .get(position)
                    .is_some_and(|r| r.matches(query, now) && accept(r))
            })
    }

    /// Adds every rule whose key matches `query` to `out`.
    fn gather(&self, rules: &[Rule], query: &Query, out: &mut Candidates) {
        out.extend_from_slice(&self.unkeyed);
        for field in FIELDS {
            self.fields[field.slot()].gather(rules, field, query, out);
        }
    }
}

impl FieldIndex {
    fn gather(&self, rules: &[Rule], field: Field, query: &Query, out: &mut Candidates) {
        let value = field.value(query);
        match self.exact.get(value) {
            Some(Bucket::Flat(ids)) => out.extend_from_slice(ids),
            Some(Bucket::Nested(index)) => index.gather(rules, query, out),
            None => {}
        }
        if !self.globs.is_empty() {
            self.globs.gather(value, out);
        }
        if let Some(regexes) = &self.regexes {
            out.extend(
                regexes
                    .matches(value)
                    .into_iter()
                    .filter_map(|i| self.regex_rules.get(i).copied()),
            );
        }
        out.extend(self.scan.iter().copied().filter(|&id| {
            rules
                .get(id as usize)
                .is_some_and(|rule| field.pattern(rule).matches(value))
        }));
    }
}

/// Picks the key a rule is filed under, among the fields not skipped.
fn choose_key(rule: &Rule, shared: &[HashMap<&str, usize>; 3], skip: Skip) -> Key {
    let fields = || FIELDS.into_iter().filter(|f| !skip[f.slot()]);
    let exact = fields()
        .filter_map(|field| match field.pattern(rule) {
            Pattern::Exact(value) => {
                let count = shared[field.slot()].get(value.as_str()).copied();
                Some((count.unwrap_or(usize::MAX), field))
            }
            _ => None,
        })
        .min_by_key(|(count, _)| *count);
    if let Some((_, field)) = exact {
        return Key::Exact(field);
    }
    if let Some(field) = fields().find(|f| matches!(f.pattern(rule), Pattern::Glob { .. })) {
        return Key::Glob(field);
    }
    if let Some(field) = fields().find(|f| matches!(f.pattern(rule), Pattern::Regex { .. })) {
        return Key::Regex(field);
    }
    Key::None
}
