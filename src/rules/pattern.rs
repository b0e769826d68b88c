//! How one rule field (domain, app or stream) selects values: any, exact, glob or regex.

use globset::{Glob, GlobBuilder};
use regex::{Regex, RegexBuilder};
use std::fmt;
use wildmatch::WildMatch;

/// Characters that make a pattern a glob rather than an exact value.
const GLOB_WILDCARDS: [char; 2] = ['*', '?'];
/// Characters that globset treats specially but that recgate's globs keep literal.
const GLOB_LITERALS: [char; 5] = ['[', ']', '{', '}', '\\'];
/// SECURITY: upper bound on a compiled regex, so one rule cannot take the memory of all.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A compiled field pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Field omitted: every value matches, including an empty one.
    Any,
    /// The value must equal this string.
    Exact(String),
    /// `*` matches any run of characters, `?` any one character, the rest literally.
    Glob {
        /// The pattern as written.
        source: String,
        /// The matcher for one value (lower-cased when case-insensitive): a plain wildcard
        /// matcher, far lighter than a regex per rule when there are many thousands of
        /// globs. Boxed, so that a rule's three patterns stay small whatever their kind.
        wild: Box<WildMatch>,
    },
    /// `~regex`: the regex must match somewhere in the value (unanchored).
    Regex {
        /// The regex as written, without the leading `~`.
        source: String,
        /// The compiled regex, boxed like a glob's matchers.
        regex: Box<Regex>,
    },
}

/// Parses a (folded) glob as recgate reads globs: `*` and `?` only, the rest literal.
fn glob_of(folded: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(&escape_glob(folded))
        .literal_separator(false)
        .backslash_escape(true)
        .build()
}

/// Two patterns are equal when they are written the same way.
impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        match (self, other) {
            (Pattern::Any, Pattern::Any) => true,
            (Pattern::Exact(a), Pattern::Exact(b)) => a == b,
            (Pattern::Glob { source: a, .. }, Pattern::Glob { source: b, .. })
            | (Pattern::Regex { source: a, .. }, Pattern::Regex { source: b, .. }) => a == b,
            _ => false,
        }
    }
}

/// Why a pattern did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The glob was refused by the glob compiler.
    #[error("glob {pattern:?} does not compile: {reason}")]
    Glob {
        /// The pattern as written.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
    /// The regex was refused by the regex compiler.
    #[error("regex {pattern:?} does not compile: {reason}")]
    Regex {
        /// The regex as written.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
}

impl Pattern {
    /// Compiles a field as written in the config; `None` (omitted) is `Any`.
    ///
    /// With `case_insensitive`, values must already be lower-cased by the caller.
    pub fn compile(source: Option<&str>, case_insensitive: bool) -> Result<Pattern, PatternError> {
        let Some(source) = source else {
            return Ok(Pattern::Any);
        };
        if let Some(regex) = source.strip_prefix('~') {
            return RegexBuilder::new(regex)
                .case_insensitive(case_insensitive)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(|compiled| Pattern::Regex {
                    source: regex.to_owned(),
                    regex: Box::new(compiled),
                })
                .map_err(|e| PatternError::Regex {
                    pattern: regex.to_owned(),
                    reason: e.to_string(),
                });
        }
        // Values of a case-insensitive field arrive lower-cased; so do its patterns.
        let folded = if case_insensitive {
            source.to_lowercase()
        } else {
            source.to_owned()
        };
        if !source.contains(GLOB_WILDCARDS) {
            return Ok(Pattern::Exact(folded));
        }
        glob_of(&folded)
            .map(|_| Pattern::Glob {
                source: source.to_owned(),
                wild: Box::new(WildMatch::new(&folded)),
            })
            .map_err(|e| PatternError::Glob {
                pattern: source.to_owned(),
                reason: e.kind().to_string(),
            })
    }

    /// A glob as it matches (lower-cased when case-insensitive), for the index; `None`
    /// for other patterns.
    pub fn glob_text(&self) -> Option<String> {
        match self {
            Pattern::Glob { wild, .. } => Some(wild.pattern()),
            _ => None,
        }
    }

    /// Whether this pattern selects `value`.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(exact) => exact == value,
            Pattern::Glob { wild, .. } => wild.matches(value),
            Pattern::Regex { regex, .. } => regex.is_match(value),
        }
    }

    /// The kind of pattern, as `/rules` and `check` name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Pattern::Any => "any",
            Pattern::Exact(_) => "exact",
            Pattern::Glob { .. } => "glob",
            Pattern::Regex { .. } => "regex",
        }
    }

    /// The pattern as the config would write it, `None` for `Any`.
    pub fn source(&self) -> Option<String> {
        match self {
            Pattern::Any => None,
            Pattern::Exact(exact) => Some(exact.clone()),
            Pattern::Glob { source, .. } => Some(source.clone()),
            Pattern::Regex { source, .. } => Some(format!("~{source}")),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source() {
            None => f.write_str("*"),
            Some(source) => f.write_str(&source),
        }
    }
}

/// Escapes globset's bracket, brace and backslash syntax so only `*` and `?` are special.
fn escape_glob(source: &str) -> String {
    let mut escaped = String::with_capacity(source.len() + 4);
    for c in source.chars() {
        if GLOB_LITERALS.contains(&c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(source: &str) -> Pattern {
        Pattern::compile(Some(source), false).expect("pattern compiles")
    }

    #[test]
    fn every_matching_mode_selects_what_it_should() {
        let cases: [(&str, &str, bool); 16] = [
            ("course-7", "course-7", true),
            ("course-7", "course-70", false),
            ("course-7", "Course-7", false),
            ("course-*", "course-7", true),
            ("course-*", "course-", true),
            ("course-*", "xcourse-7", false),
            ("*-hd", "live/cam-hd", true),
            ("cam?", "cam1", true),
            ("cam?", "cam12", false),
            ("[x]*", "[x]yz", true),
            ("{a,b}*", "{a,b}c", true),
            ("{a,b}*", "ac", false),
            ("~^course-\\d+$", "course-42", true),
            ("~^course-\\d+$", "course-x", false),
            ("~test", "my-test-stream", true),
            ("", "", true),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(
                compile(pattern).matches(value),
                expected,
                "pattern {pattern:?} against {value:?}"
            );
        }
    }

    #[test]
    fn an_omitted_field_matches_everything_even_empty() {
        let any = Pattern::compile(None, false).expect("any compiles");
        assert!(any.matches(""), "any matches empty");
        assert!(any.matches("whatever"), "any matches a value");
    }

    #[test]
    fn case_insensitive_patterns_match_lower_cased_values() {
        for source in ["Live.Example.com", "LIVE.*", "~^Live\\.example"] {
            let pattern = Pattern::compile(Some(source), true).expect("compiles");
            assert!(pattern.matches("live.example.com"), "{source:?}");
        }
    }

    #[test]
    fn broken_patterns_are_refused_with_the_pattern_named() {
        let regex = Pattern::compile(Some("~(unclosed"), false).expect_err("bad regex");
        assert!(regex.to_string().contains("(unclosed"), "{regex}");
    }

    #[test]
    fn patterns_display_as_written() {
        assert_eq!(compile("course-*").to_string(), "course-*");
        assert_eq!(compile("~^a").to_string(), "~^a");
        assert_eq!(Pattern::Any.to_string(), "*");
    }
}
