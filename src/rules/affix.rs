//! Globs filed by the literal text they start or end with.
//!
//! A value can only match `ch-12-*` if it starts with `ch-12-`, and `*.backup` or
//! `cam?.backup` if it ends with `.backup`. Each glob is filed under the longer of its two
//! literal ends, and a query looks its value's heads and tails up, one hash lookup per
//! distinct length filed:
//! the candidates it gathers are a superset of the matches, which the rule check then
//! settles. Far lighter than a `GlobSet` per bucket (which keeps a copy of every glob and
//! an automaton): 100,000 globs take a few MB instead of about 90.

use foldhash::HashMap;
use smallvec::SmallVec;

/// The characters that are not literal in a glob.
const WILDCARDS: [char; 2] = ['*', '?'];

/// Candidates gathered for one query.
pub type Candidates = SmallVec<[u32; 16]>;

/// Globs filed by their literal prefix or suffix.
#[derive(Debug, Clone, Default)]
pub struct AffixIndex {
    prefixes: Affixes,
    suffixes: Affixes,
}

#[derive(Debug, Clone, Default)]
struct Affixes {
    by_text: HashMap<Box<str>, Vec<u32>>,
    /// The distinct lengths of the texts filed, ascending.
    lengths: Vec<usize>,
}

impl Affixes {
    fn insert(&mut self, text: &str, id: u32) {
        self.by_text.entry(text.into()).or_default().push(id);
        if let Err(at) = self.lengths.binary_search(&text.len()) {
            self.lengths.insert(at, text.len());
        }
    }
}

impl AffixIndex {
    /// Files glob `glob` (as matched: lower-cased where the field is) as rule `id`.
    /// `false` if it has no literal end to file it by (`*`, `*live*`, `?x?`): the caller
    /// checks such globs one by one.
    pub fn insert(&mut self, glob: &str, id: u32) -> bool {
        let prefix = glob.split(WILDCARDS).next().unwrap_or_default();
        let suffix = glob.rsplit(WILDCARDS).next().unwrap_or_default();
        if prefix.is_empty() && suffix.is_empty() {
            return false;
        }
        if prefix.len() >= suffix.len() {
            self.prefixes.insert(prefix, id);
        } else {
            self.suffixes.insert(suffix, id);
        }
        true
    }

    /// Whether nothing is filed.
    pub fn is_empty(&self) -> bool {
        self.prefixes.lengths.is_empty() && self.suffixes.lengths.is_empty()
    }

    /// Adds to `out` every glob filed under a head or a tail of `value`.
    pub fn gather(&self, value: &str, out: &mut Candidates) {
        for &len in &self.prefixes.lengths {
            let Some(head) = value.get(..len) else {
                if len > value.len() {
                    break;
                }
                continue;
            };
            if let Some(ids) = self.prefixes.by_text.get(head) {
                out.extend_from_slice(ids);
            }
        }
        for &len in &self.suffixes.lengths {
            let Some(start) = value.len().checked_sub(len) else {
                break;
            };
            if let Some(ids) = value
                .get(start..)
                .and_then(|t| self.suffixes.by_text.get(t))
            {
                out.extend_from_slice(ids);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gathered(index: &AffixIndex, value: &str) -> Vec<u32> {
        let mut out = Candidates::new();
        index.gather(value, &mut out);
        out.sort_unstable();
        out.into_vec()
    }

    #[test]
    fn globs_are_found_by_their_longer_literal_end() {
        let mut index = AffixIndex::default();
        assert!(index.insert("ch-1-*", 0));
        assert!(index.insert("ch-12-*", 1));
        assert!(index.insert("*.backup", 2));
        assert!(
            index.insert("a*-hd", 3),
            "filed by its prefix? no: by `-hd`"
        );
        assert!(!index.insert("*live*", 4), "no literal end");
        assert!(!index.insert("*", 5));
        assert!(index.insert("cam?.flv", 6), "by `.flv`");
        assert_eq!(gathered(&index, "ch-1-x"), [0]);
        assert_eq!(gathered(&index, "ch-12-x"), [1]);
        assert_eq!(gathered(&index, "ch-12-x.backup"), [1, 2]);
        assert_eq!(
            gathered(&index, "b-hd"),
            [3],
            "a superset: the rule check settles it"
        );
        assert_eq!(gathered(&index, "cam7.flv"), [6]);
        assert_eq!(gathered(&index, "ch"), Vec::<u32>::new());
        assert_eq!(gathered(&index, ""), Vec::<u32>::new());
        // Multi-byte values: a head that would cut a character is skipped, not a panic.
        assert_eq!(gathered(&index, "直播-1"), Vec::<u32>::new());
    }
}
