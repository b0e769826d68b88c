//! One compiled rule: what it selects and what it answers.

use super::pattern::Pattern;
use super::schedule::Schedule;
use crate::decision::Decision;
use crate::query::{Codec, Query};
use jiff::Timestamp;
use std::fmt;

/// Inclusive bounds on the video bitrate, in Kbit/s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BitrateRange {
    /// Lowest accepted bitrate, inclusive.
    pub min: Option<u64>,
    /// Highest accepted bitrate, inclusive.
    pub max: Option<u64>,
}

impl BitrateRange {
    /// Whether the range has any bound at all.
    pub fn is_bounded(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }

    /// An unknown bitrate never satisfies a bounded range.
    pub fn contains(&self, vbitrate: Option<u64>) -> bool {
        if !self.is_bounded() {
            return true;
        }
        let Some(rate) = vbitrate else {
            return false;
        };
        self.min.is_none_or(|min| rate >= min) && self.max.is_none_or(|max| rate <= max)
    }
}

impl fmt::Display for BitrateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (None, None) => f.write_str("any"),
            (Some(min), None) => write!(f, ">={min}"),
            (None, Some(max)) => write!(f, "<={max}"),
            (Some(min), Some(max)) => write!(f, "{min}..={max}"),
        }
    }
}

/// A compiled rule; two rules are equal when they are written the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique name, shown in logs, metrics and `decide`.
    pub name: String,
    /// Pattern on the (lower-cased) domain.
    pub domain: Pattern,
    /// Pattern on the app name.
    pub app: Pattern,
    /// Pattern on the stream name.
    pub stream: Pattern,
    /// Accepted codecs; `None` accepts any.
    pub codecs: Option<Vec<Codec>>,
    /// Accepted bitrates.
    pub vbitrate: BitrateRange,
    /// What the rule answers.
    pub decision: Decision,
    /// `true` for `mode = "shadow"`: evaluated and counted, but never answers.
    pub shadow: bool,
    /// When the rule applies; `None` is always.
    pub schedule: Option<Box<Schedule>>,
    /// The position of its `[[quota]]` in the config: while that quota is full, the rule
    /// does not match. `None`: no quota.
    pub quota: Option<usize>,
}

/// The first condition of a rule that a query fails, for `explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `domain`, `app`, `stream`, `codec` or `vbitrate`.
    pub field: &'static str,
    /// The query's value, as evaluated.
    pub value: String,
    /// What the rule asks for.
    pub wanted: String,
}

impl Rule {
    /// `None` when the rule matches `query` at `now`, else the first condition it fails.
    pub fn mismatch(&self, query: &Query, now: Timestamp) -> Option<Mismatch> {
        let miss = |field, value: &str, wanted: String| {
            Some(Mismatch {
                field,
                value: value.to_owned(),
                wanted,
            })
        };
        for (field, pattern, value) in [
            ("domain", &self.domain, query.domain.as_str()),
            ("app", &self.app, query.app.as_str()),
            ("stream", &self.stream, query.stream.as_str()),
        ] {
            if !pattern.matches(value) {
                return miss(field, value, format!("{} {}", pattern.kind(), pattern));
            }
        }
        if !self.codec_matches(&query.codec) {
            let wanted: Vec<&str> = self.codecs.iter().flatten().map(Codec::as_str).collect();
            return miss("codec", query.codec.as_str(), wanted.join("|"));
        }
        if !self.vbitrate.contains(query.vbitrate) {
            let value = query
                .vbitrate
                .map_or("unknown".to_owned(), |v| v.to_string());
            return miss("vbitrate", &value, self.vbitrate.to_string());
        }
        if let Some(schedule) = &self.schedule
            && !self.in_schedule(now)
        {
            let local = schedule.local(now);
            let local = local.strftime("%A %Y-%m-%dT%H:%M:%S").to_string();
            return miss("schedule", &local, format!("inside {schedule}"));
        }
        None
    }

    /// Whether every condition of the rule holds for `query` at `now`.
    pub fn matches(&self, query: &Query, now: Timestamp) -> bool {
        self.codec_matches(&query.codec)
            && self.vbitrate.contains(query.vbitrate)
            && self.stream.matches(&query.stream)
            && self.app.matches(&query.app)
            && self.domain.matches(&query.domain)
            && self.in_schedule(now)
    }

    /// Whether `now` is inside the rule's schedule (always, for a rule without one).
    pub fn in_schedule(&self, now: Timestamp) -> bool {
        self.schedule.as_ref().is_none_or(|s| s.contains(now))
    }

    /// Whether `codec` is among the rule's codecs (or the rule takes any).
    pub fn codec_matches(&self, codec: &Codec) -> bool {
        self.codecs.as_ref().is_none_or(|list| list.contains(codec))
    }

    /// A one-line description of what the rule selects, as `check` prints it.
    pub fn selector(&self) -> String {
        let mut parts = Vec::new();
        for (field, pattern) in [
            ("domain", &self.domain),
            ("app", &self.app),
            ("stream", &self.stream),
        ] {
            if let Some(source) = pattern.source() {
                parts.push(format!("{field}={source}"));
            }
        }
        if let Some(codecs) = &self.codecs {
            let names: Vec<&str> = codecs.iter().map(Codec::as_str).collect();
            parts.push(format!("codec={}", names.join("|")));
        }
        if self.vbitrate.is_bounded() {
            parts.push(format!("vbitrate{}", self.vbitrate));
        }
        if let Some(schedule) = &self.schedule {
            parts.push(format!("during {schedule}"));
        }
        if parts.is_empty() {
            "every stream".to_owned()
        } else {
            parts.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrate_bounds_are_inclusive_and_unknown_never_fits_a_bound() {
        let range = BitrateRange {
            min: Some(2000),
            max: Some(4000),
        };
        let cases = [
            (Some(1999), false),
            (Some(2000), true),
            (Some(4000), true),
            (Some(4001), false),
            (None, false),
        ];
        for (rate, expected) in cases {
            assert_eq!(range.contains(rate), expected, "rate {rate:?}");
        }
        assert!(
            BitrateRange::default().contains(None),
            "an unbounded range accepts an unknown bitrate"
        );
        let min_only = BitrateRange {
            min: Some(2000),
            max: None,
        };
        assert!(min_only.contains(Some(u64::MAX)), "no max means no ceiling");
        assert!(!min_only.contains(None), "unknown fails a min bound");
    }
}
