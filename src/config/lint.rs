//! `recgate check`'s warnings: rules that can never decide, answers the platform will
//! turn into "record nothing", and patterns that likely match more than meant.
//!
//! Pure: a compiled config in, warnings out.

use crate::config::Config;
use crate::decision::Format;
use crate::rules::{BitrateRange, Pattern, Rule};
use std::fmt;

/// The platform's own cap on what it reads, in bytes.
pub const PLATFORM_BODY_CAP: usize = 2048;

/// One warning about one rule (or the default), or one quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// `rule` or `quota`.
    pub kind: &'static str,
    /// The rule's name (or `default`), or the quota's.
    pub rule: String,
    /// What is likely wrong.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}: {}", self.kind, self.rule, self.message)
    }
}

/// Every warning about `config`, in rule order.
pub fn lint(config: &Config) -> Vec<Warning> {
    let rules = config.rules.rules();
    let mut warnings = Vec::new();
    let mut warn = |rule: &str, message: String| {
        warnings.push(Warning {
            kind: "rule",
            rule: rule.to_owned(),
            message,
        })
    };
    let mut earlier = CoverIndex::default();
    for (i, rule) in rules.iter().enumerate() {
        if let Some(first) = earlier.first_covering(rules, rule) {
            warn(
                &rule.name,
                format!(
                    "can never decide: rule {:?} before it matches every stream it matches",
                    rules[first].name
                ),
            );
        }
        // A rule with a quota does not hide the rules after it: they answer when it is full.
        if !rule.shadow && rule.quota.is_none() {
            earlier.insert(i, rule);
        }
        for (field, pattern) in [
            ("domain", &rule.domain),
            ("app", &rule.app),
            ("stream", &rule.stream),
        ] {
            if let Pattern::Regex { source, .. } = pattern
                && !source.starts_with('^')
                && !source.ends_with('$')
            {
                warn(
                    &rule.name,
                    format!(
                        "{field} regex {source:?} has no ^ or $: it matches anywhere in the value; anchor it if you mean the whole value"
                    ),
                );
            }
        }
    }
    let decisions = rules
        .iter()
        .map(|r| (r.name.as_str(), &r.decision))
        .chain([("default", config.rules.default_decision())]);
    for (name, decision) in decisions {
        if decision.body().len() > PLATFORM_BODY_CAP {
            warn(
                name,
                format!(
                    "answer is {} bytes, over the platform's {PLATFORM_BODY_CAP}",
                    decision.body().len()
                ),
            );
        }
        if !decision.record() {
            continue;
        }
        let platform = config.platform_formats.as_deref();
        if let (Some(formats), Some(platform)) = (decision.formats(), platform)
            && !formats.iter().any(|f| platform.contains(f))
        {
            warn(
                name,
                format!(
                    "records nothing: formats [{}] share none with the platform's [{}], and the platform records their intersection",
                    names(formats),
                    names(platform)
                ),
            );
        }
        let recorded = decision.formats().or(platform);
        if let (Some(interval), Some(recorded)) = (decision.interval(), recorded) {
            for (format, _) in interval.entries() {
                if !recorded.contains(&format) {
                    warn(
                        name,
                        format!("sets an interval for {format}, which it does not record"),
                    );
                }
            }
        }
    }
    warnings.extend(quota_warnings(config));
    warnings
}

/// Quotas that count nothing, or whose full state falls to the default.
fn quota_warnings(config: &Config) -> Vec<Warning> {
    let rules = config.rules.rules();
    let lifecycle = &config.lifecycle;
    let mut warnings = Vec::new();
    let mut warn = |kind, name: &str, message: String| {
        warnings.push(Warning {
            kind,
            rule: name.to_owned(),
            message,
        })
    };
    for (i, quota) in config.quotas.iter().enumerate() {
        if !rules.iter().any(|rule| rule.quota == Some(i)) {
            warn(
                "quota",
                &quota.name,
                "no rule names it, so it limits nothing".into(),
            );
        }
        if quota.max_active.is_some() && lifecycle.ingest_path.is_none() {
            warn(
                "quota",
                &quota.name,
                "max_active without [lifecycle] ingest_path: no publish_done frees a slot, so a recording holds its slot until it goes stale".into(),
            );
        }
        if quota.monthly_hours.is_some() && lifecycle.notify_path.is_none() {
            warn(
                "quota",
                &quota.name,
                "monthly_hours without [lifecycle] notify_path: no file event arrives, so no hour is ever counted".into(),
            );
        }
    }
    for (i, rule) in rules.iter().enumerate() {
        let Some(quota) = rule.quota else {
            continue;
        };
        let answered = rules[i + 1..]
            .iter()
            .any(|later| !later.shadow && later.quota != Some(quota) && covers(later, rule));
        if !answered {
            let name = config.quotas.get(quota).map_or("", |q| q.name.as_str());
            warn(
                "rule",
                &rule.name,
                format!(
                    "when quota {name:?} is full, no later rule answers every stream it matches, so the default answers them; add a fallback rule after it (record = false, or a cheaper quota)"
                ),
            );
        }
    }
    warnings
}

fn names(formats: &[Format]) -> String {
    formats
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How one field pattern is filed in a `CoverIndex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    /// The field is omitted.
    Any,
    /// An exact value.
    Exact(&'a str),
    /// A glob `prefix*` with no other wildcard.
    Prefix(&'a str),
    /// Any other glob, by its source.
    Glob(&'a str),
    /// A regex, by its source.
    Regex(&'a str),
}

impl<'a> Key<'a> {
    fn of(pattern: &'a Pattern) -> Key<'a> {
        match pattern {
            Pattern::Any => Key::Any,
            Pattern::Exact(value) => Key::Exact(value),
            Pattern::Glob { source, .. } => match glob_prefix(source) {
                Some(prefix) => Key::Prefix(prefix),
                None => Key::Glob(source),
            },
            Pattern::Regex { source, .. } => Key::Regex(source),
        }
    }

    /// Every key under which a pattern that covers this one can be filed.
    fn wider(self) -> Vec<Key<'a>> {
        let prefixes = |value: &'a str| {
            value
                .char_indices()
                .map(|(at, _)| at)
                .chain([value.len()])
                .map(move |end| Key::Prefix(&value[..end]))
        };
        let mut keys = vec![Key::Any];
        match self {
            Key::Any => {}
            Key::Exact(value) => {
                keys.push(self);
                keys.extend(prefixes(value));
            }
            Key::Prefix(prefix) => keys.extend(prefixes(prefix)),
            Key::Glob(_) | Key::Regex(_) => keys.push(self),
        }
        keys
    }
}

/// `prefix` of a glob `prefix*` without other wildcards.
fn glob_prefix(source: &str) -> Option<&str> {
    source
        .strip_suffix('*')
        .filter(|prefix| !prefix.contains(['*', '?']))
}

/// The live rules seen so far, filed by each field's pattern, so that finding an earlier
/// rule that covers a later one looks at few candidates instead of every earlier rule.
#[derive(Default)]
struct CoverIndex<'a> {
    /// Per field (domain, app, stream): rule indices by key, ascending.
    fields: [std::collections::HashMap<Key<'a>, Vec<usize>>; 3],
}

fn fields(rule: &Rule) -> [&Pattern; 3] {
    [&rule.domain, &rule.app, &rule.stream]
}

impl<'a> CoverIndex<'a> {
    fn insert(&mut self, index: usize, rule: &'a Rule) {
        for (map, pattern) in self.fields.iter_mut().zip(fields(rule)) {
            map.entry(Key::of(pattern)).or_default().push(index);
        }
    }

    /// The first rule filed so far that covers `later`. Candidates come from the field
    /// whose wider keys hold the fewest rules; `covers` decides.
    fn first_covering(&self, rules: &[Rule], later: &'a Rule) -> Option<usize> {
        let buckets = self
            .fields
            .iter()
            .zip(fields(later))
            .map(|(map, pattern)| {
                Key::of(pattern)
                    .wider()
                    .into_iter()
                    .filter_map(|key| map.get(&key))
                    .collect::<Vec<_>>()
            })
            .min_by_key(|lists| lists.iter().map(|l| l.len()).sum::<usize>())?;
        buckets
            .iter()
            .filter_map(|list| list.iter().copied().find(|&i| covers(&rules[i], later)))
            .min()
    }
}

/// Whether `earlier` matches every query `later` matches (by construction of the
/// patterns; a `false` is not a proof of the opposite).
fn covers(earlier: &Rule, later: &Rule) -> bool {
    earlier.schedule.is_none()
        && pattern_covers(&earlier.domain, &later.domain)
        && pattern_covers(&earlier.app, &later.app)
        && pattern_covers(&earlier.stream, &later.stream)
        && match (&earlier.codecs, &later.codecs) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(wide), Some(narrow)) => narrow.iter().all(|c| wide.contains(c)),
        }
        && range_covers(earlier.vbitrate, later.vbitrate)
}

fn pattern_covers(wide: &Pattern, narrow: &Pattern) -> bool {
    match (Key::of(wide), Key::of(narrow)) {
        (Key::Any, _) => true,
        (_, Key::Any) => false,
        (wide, narrow) if wide == narrow => true,
        (Key::Prefix(prefix), Key::Exact(value) | Key::Prefix(value)) => value.starts_with(prefix),
        _ => false,
    }
}

fn range_covers(wide: BitrateRange, narrow: BitrateRange) -> bool {
    let low = match (wide.min, narrow.min) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(n)) => w <= n,
    };
    let high = match (wide.max, narrow.max) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(n)) => w >= n,
    };
    low && high
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn warnings(text: &str) -> Vec<String> {
        let config = Config::from_str(text, Path::new("t.toml")).expect("valid config");
        lint(&config).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_rule_behind_a_wider_one_is_reported_as_unreachable() {
        let found = warnings(
            r#"
[default]
record = false
[[rule]]
name = "courses"
stream = "course-*"
record = true
[[rule]]
name = "one-course"
stream = "course-7"
codec = ["h265"]
record = false
[[rule]]
name = "hd-courses"
stream = "course-hd-*"
vbitrate = { min = 2000, max = 4000 }
record = false
[[rule]]
name = "other"
stream = "talk-*"
record = false
"#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("\"one-course\"") && found[0].contains("\"courses\""));
        assert!(found[1].contains("\"hd-courses\""));
    }

    /// A rule line for the generated configs: field patterns, codecs, bitrate, mode.
    fn rule_text(i: usize, fields: [usize; 3], codec: usize, rate: usize, shadow: bool) -> String {
        const PATTERNS: [Option<&str>; 8] = [
            None,
            Some("a"),
            Some("ab"),
            Some("a*"),
            Some("ab*"),
            Some("*"),
            Some("a?b"),
            Some("~^a"),
        ];
        let mut text = format!("[[rule]]\nname = \"r{i}\"\nrecord = false\n");
        for (name, choice) in ["domain", "app", "stream"].iter().zip(fields) {
            if let Some(pattern) = PATTERNS[choice % PATTERNS.len()] {
                text.push_str(&format!("{name} = {pattern:?}\n"));
            }
        }
        text.push_str(["", "codec = [\"h265\"]\n", "codec = [\"h264\", \"h265\"]\n"][codec % 3]);
        text.push_str(
            [
                "",
                "vbitrate = { min = 100 }\n",
                "vbitrate = { min = 200, max = 300 }\n",
            ][rate % 3],
        );
        if shadow {
            text.push_str("mode = \"shadow\"\n");
        }
        text
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// The index finds the same first covering rule as a scan of every earlier rule.
        #[test]
        fn the_cover_index_agrees_with_a_linear_scan(
            specs in proptest::collection::vec(
                (proptest::array::uniform3(0usize..8), 0usize..3, 0usize..3, proptest::bool::weighted(0.1)),
                1..40,
            )
        ) {
            let mut text = String::from("[default]\nrecord = false\n");
            for (i, (fields, codec, rate, shadow)) in specs.iter().enumerate() {
                text.push_str(&rule_text(i, *fields, *codec, *rate, *shadow));
            }
            let config = Config::from_str(&text, Path::new("t.toml")).expect("valid config");
            let rules = config.rules.rules();
            let mut index = CoverIndex::default();
            for (i, rule) in rules.iter().enumerate() {
                let scan = rules[..i].iter().position(|e| !e.shadow && covers(e, rule));
                proptest::prop_assert_eq!(index.first_covering(rules, rule), scan, "rule {}", i);
                if !rule.shadow {
                    index.insert(i, rule);
                }
            }
        }
    }

    #[test]
    fn a_narrower_earlier_rule_or_a_shadow_does_not_hide_a_later_one() {
        let found = warnings(
            r#"
[default]
record = false
[[rule]]
name = "trial"
mode = "shadow"
record = true
[[rule]]
name = "hevc"
codec = ["h265"]
vbitrate = { min = 2000 }
record = true
[[rule]]
name = "all"
record = false
"#,
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn formats_the_platform_does_not_record_and_stray_intervals_are_reported() {
        let found = warnings(
            r#"
[platform]
formats = ["mp4"]
[default]
record = false
[[rule]]
name = "flv-only"
stream = "a"
record = true
formats = ["flv"]
[[rule]]
name = "stray-interval"
stream = "b"
record = true
formats = ["mp4"]
interval = { mp4 = 300, m3u8 = 60 }
"#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("records nothing"), "{found:?}");
        assert!(found[1].contains("interval for m3u8"), "{found:?}");
    }

    #[test]
    fn an_unanchored_regex_is_reported() {
        let found = warnings(
            "[default]\nrecord = false\n[[rule]]\nname = \"r\"\nstream = \"~test\"\nrecord = false\n",
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("no ^ or $"), "{found:?}");
    }

    #[test]
    fn the_longest_possible_answer_is_far_below_the_platform_cap() {
        let config = Config::from_str(
            "[default]\nrecord = true\nformats = [\"mp4\", \"flv\", \"m3u8\"]\ninterval = { mp4 = 21600, flv = 21600, m3u8 = 21600 }\n",
            Path::new("t.toml"),
        )
        .expect("valid");
        let body = config.rules.default_decision().body();
        assert!(body.len() < PLATFORM_BODY_CAP / 10, "{} bytes", body.len());
    }
}
