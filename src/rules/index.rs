//! A first-match index over the rules, so evaluation does not scan them all.
//!
//! Every rule is filed under one *key*: a field whose pattern must match for the rule to
//! match. An exact value is preferred (the field with the fewest rules sharing that value),
//! then a glob, then a regex; a rule with no pattern at all is kept in a short list that is
//! always checked. A query gathers the candidates of its three values (hash lookups, one
//! `GlobSet` and one `RegexSet` per field) and the first candidate in rule order that
//! matches in full wins, exactly as a scan in file order would decide.

use super::pattern::Pattern;
use super::rule::Rule;
use crate::query::Query;
use globset::{Candidate, GlobSet, GlobSetBuilder};
use regex::{RegexSet, RegexSetBuilder};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::HashMap;

/// SECURITY: memory bound for one field's combined regex set; past it, that field's regex
/// rules are checked one by one instead (slower, same answers).
pub const REGEX_SET_SIZE_LIMIT: usize = 64 << 20;

/// An exact value shared by more rules than this is a weak key: when the rule also has a
/// glob, the glob set narrows candidates better (one customer domain with many channels).
pub const EXACT_KEY_MAX_SHARED: usize = 8;

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

/// The per-field part of the index.
#[derive(Debug, Clone, Default)]
struct FieldIndex {
    exact: HashMap<String, Vec<u32>>,
    globs: Option<GlobSet>,
    glob_rules: Vec<u32>,
    regexes: Option<RegexSet>,
    regex_rules: Vec<u32>,
    /// Glob or regex rules whose set could not be built: checked one by one.
    scan: Vec<u32>,
}

/// The compiled index of a rule list.
#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    fields: [FieldIndex; 3],
    /// Rules with no domain, app or stream pattern: candidates for every query.
    unkeyed: Vec<u32>,
}

/// Candidates gathered for one query; most queries have a handful.
type Candidates = SmallVec<[u32; 16]>;

thread_local! {
    /// Scratch space for `GlobSet::matches_into`, reused across requests.
    static GLOB_MATCHES: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

enum Key {
    Exact(Field),
    Glob(Field),
    Regex(Field),
    None,
}

impl RuleIndex {
    /// Builds the index of `rules` (indices are positions in that slice).
    pub fn build(rules: &[Rule]) -> RuleIndex {
        // How many rules share each exact value, per field: the smaller, the better a key.
        let mut shared: [HashMap<&str, usize>; 3] = Default::default();
        for rule in rules {
            for field in FIELDS {
                if let Pattern::Exact(value) = field.pattern(rule) {
                    *shared[field.slot()].entry(value.as_str()).or_default() += 1;
                }
            }
        }
        let mut index = RuleIndex::default();
        let mut globs: [(GlobSetBuilder, Vec<u32>); 3] =
            std::array::from_fn(|_| (GlobSetBuilder::new(), Vec::new()));
        let mut regexes: [(Vec<&str>, Vec<u32>, bool); 3] = Default::default();
        for (position, rule) in rules.iter().enumerate() {
            let id = u32::try_from(position).unwrap_or(u32::MAX);
            match choose_key(rule, &shared) {
                Key::Exact(field) => {
                    if let Pattern::Exact(value) = field.pattern(rule) {
                        let bucket = index.fields[field.slot()].exact.entry(value.clone());
                        bucket.or_default().push(id);
                    }
                }
                Key::Glob(field) => {
                    if let Pattern::Glob { matcher, .. } = field.pattern(rule) {
                        let (builder, ids) = &mut globs[field.slot()];
                        builder.add(matcher.glob().clone());
                        ids.push(id);
                    }
                }
                Key::Regex(field) => {
                    if let Pattern::Regex { regex, .. } = field.pattern(rule) {
                        let (sources, ids, case_insensitive) = &mut regexes[field.slot()];
                        sources.push(regex.as_str());
                        ids.push(id);
                        *case_insensitive = field == Field::Domain;
                    }
                }
                Key::None => index.unkeyed.push(id),
            }
        }
        for (slot, (builder, ids)) in globs.into_iter().enumerate() {
            let field = &mut index.fields[slot];
            if ids.is_empty() {
                continue;
            }
            match builder.build() {
                Ok(set) => {
                    field.globs = Some(set);
                    field.glob_rules = ids;
                }
                // Each glob compiled alone; should the set refuse them, check one by one.
                Err(_) => field.scan.extend(ids),
            }
        }
        for (slot, (sources, ids, case_insensitive)) in regexes.into_iter().enumerate() {
            let field = &mut index.fields[slot];
            if ids.is_empty() {
                continue;
            }
            let set = RegexSetBuilder::new(&sources)
                .case_insensitive(case_insensitive)
                .size_limit(REGEX_SET_SIZE_LIMIT)
                .build();
            match set {
                Ok(set) => {
                    field.regexes = Some(set);
                    field.regex_rules = ids;
                }
                Err(_) => field.scan.extend(ids),
            }
        }
        for field in &mut index.fields {
            field.scan.sort_unstable();
        }
        index
    }

    /// The position of the first rule of `rules` (the slice the index was built from)
    /// that matches `query`.
    pub fn first_match(&self, rules: &[Rule], query: &Query) -> Option<usize> {
        let mut candidates = Candidates::new();
        candidates.extend_from_slice(&self.unkeyed);
        for field in FIELDS {
            self.fields[field.slot()].gather(rules, field, field.value(query), &mut candidates);
        }
        candidates.sort_unstable();
        candidates
            .into_iter()
            .map(|id| id as usize)
            .find(|&position| rules.get(position).is_some_and(|r| r.matches(query)))
    }
}

impl FieldIndex {
    fn gather(&self, rules: &[Rule], field: Field, value: &str, out: &mut Candidates) {
        if let Some(ids) = self.exact.get(value) {
            out.extend_from_slice(ids);
        }
        if let Some(globs) = &self.globs {
            GLOB_MATCHES.with_borrow_mut(|matches| {
                globs.matches_candidate_into(&Candidate::new(value), matches);
                out.extend(
                    matches
                        .iter()
                        .filter_map(|&i| self.glob_rules.get(i).copied()),
                );
            });
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

/// Picks the key a rule is filed under.
fn choose_key(rule: &Rule, shared: &[HashMap<&str, usize>; 3]) -> Key {
    let exact = FIELDS
        .into_iter()
        .filter_map(|field| match field.pattern(rule) {
            Pattern::Exact(value) => {
                let count = shared[field.slot()].get(value.as_str()).copied();
                Some((count.unwrap_or(usize::MAX), field))
            }
            _ => None,
        })
        .min_by_key(|(count, _)| *count);
    let kind_of = |want: fn(&Pattern) -> bool| FIELDS.into_iter().find(|f| want(f.pattern(rule)));
    let glob = kind_of(|p| matches!(p, Pattern::Glob { .. }));
    match (exact, glob) {
        (Some((shared, field)), _) if shared <= EXACT_KEY_MAX_SHARED => return Key::Exact(field),
        (_, Some(field)) => return Key::Glob(field),
        (Some((_, field)), None) => return Key::Exact(field),
        (None, None) => {}
    }
    if let Some(field) = kind_of(|p| matches!(p, Pattern::Regex { .. })) {
        return Key::Regex(field);
    }
    Key::None
}
