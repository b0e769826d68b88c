//! A decision as written (in the config file, an override request or a stored row) checked
//! once, here: every problem names its field (`formats`, `interval.mp4`).

use super::{Decision, Format, Interval, MAX_INTERVAL_SECS, MIN_INTERVAL_SECS};
use serde::{Deserialize, Serialize};

/// `interval = { mp4 = .., flv = .., m3u8 = .. }`, seconds, as written in the config file
/// and in an override request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    /// MP4 recording cycle. Default: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4: Option<i64>,
    /// FLV recording cycle. Default: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flv: Option<i64>,
    /// HLS recording cycle. Default: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m3u8: Option<i64>,
}

/// One thing wrong with a decision as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionProblem {
    /// Dotted field name: `formats`, `interval`, `interval.mp4`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl DecisionProblem {
    fn new(field: &str, message: impl Into<String>) -> DecisionProblem {
        DecisionProblem {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Validates the decision keys shared by `[default]`, rules, override requests and stored
/// overrides, and builds the decision with its body.
pub fn check_decision(
    record: bool,
    formats: Option<&[String]>,
    interval: Option<&IntervalSpec>,
) -> Result<Decision, Vec<DecisionProblem>> {
    let mut problems = Vec::new();
    if !record && (formats.is_some() || interval.is_some()) {
        let field = if formats.is_some() {
            "formats"
        } else {
            "interval"
        };
        problems.push(DecisionProblem::new(
            field,
            "only a rule with record = true may set formats or interval",
        ));
    }
    let formats = formats.map(|names| check_formats(names).map_err(|p| problems.extend(p)));
    let interval = interval.map(|spec| check_interval(spec).map_err(|p| problems.extend(p)));
    match (formats.transpose(), interval.transpose()) {
        (Ok(formats), Ok(interval)) if problems.is_empty() => {
            Ok(Decision::new(record, formats, interval))
        }
        _ => Err(problems),
    }
}

/// Reads a list of format names: known, listed once, and not empty.
pub fn check_formats(names: &[String]) -> Result<Vec<Format>, Vec<DecisionProblem>> {
    let mut problems = Vec::new();
    if names.is_empty() {
        problems.push(DecisionProblem::new(
            "formats",
            "an empty list records nothing; use record = false, or omit the key",
        ));
    }
    let mut formats = Vec::with_capacity(names.len());
    for name in names {
        match Format::parse(name) {
            None => problems.push(DecisionProblem::new(
                "formats",
                format!("unknown format {name:?}; expected \"mp4\", \"flv\" or \"m3u8\""),
            )),
            Some(format) if formats.contains(&format) => problems.push(DecisionProblem::new(
                "formats",
                format!("{name:?} is listed twice"),
            )),
            Some(format) => formats.push(format),
        }
    }
    if problems.is_empty() {
        Ok(formats)
    } else {
        Err(problems)
    }
}

/// Reads recording cycles: at least one, each within the platform's range.
fn check_interval(spec: &IntervalSpec) -> Result<Interval, Vec<DecisionProblem>> {
    let mut problems = Vec::new();
    let mut check = |format: Format, value: Option<i64>| -> Option<u32> {
        let secs = value?;
        let range = i64::from(MIN_INTERVAL_SECS)..=i64::from(MAX_INTERVAL_SECS);
        if range.contains(&secs) {
            u32::try_from(secs).ok()
        } else {
            problems.push(DecisionProblem::new(
                &format!("interval.{format}"),
                format!("{secs} is outside {MIN_INTERVAL_SECS}..={MAX_INTERVAL_SECS} seconds"),
            ));
            None
        }
    };
    let interval = Interval {
        mp4: check(Format::Mp4, spec.mp4),
        flv: check(Format::Flv, spec.flv),
        m3u8: check(Format::M3u8, spec.m3u8),
    };
    if spec.mp4.is_none() && spec.flv.is_none() && spec.m3u8.is_none() {
        problems.push(DecisionProblem::new(
            "interval",
            "needs at least one of mp4, flv, m3u8; omit the key to keep the platform's",
        ));
    }
    if problems.is_empty() {
        Ok(interval)
    } else {
        Err(problems)
    }
}

impl From<&Interval> for IntervalSpec {
    /// The spec that reads back as `interval`, for storing and showing a decision.
    fn from(interval: &Interval) -> IntervalSpec {
        IntervalSpec {
            mp4: interval.mp4.map(i64::from),
            flv: interval.flv.map(i64::from),
            m3u8: interval.m3u8.map(i64::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_problem_with_a_decision_names_its_field() {
        /// `record`, `formats`, `interval`, and the fields the problems must name.
        type Case = (
            bool,
            Option<Vec<String>>,
            Option<IntervalSpec>,
            &'static [&'static str],
        );
        let cases: [Case; 5] = [
            (false, Some(names(&["mp4"])), None, &["formats"]),
            (true, Some(names(&[])), None, &["formats"]),
            (
                true,
                Some(names(&["mp4", "avi", "mp4"])),
                None,
                &["formats", "formats"],
            ),
            (
                true,
                None,
                Some(IntervalSpec {
                    mp4: Some(4),
                    flv: Some(21_601),
                    m3u8: None,
                }),
                &["interval.mp4", "interval.flv"],
            ),
            (true, None, Some(IntervalSpec::default()), &["interval"]),
        ];
        for (record, formats, interval, fields) in cases {
            let problems = check_decision(record, formats.as_deref(), interval.as_ref())
                .expect_err("an invalid decision");
            let seen: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
            assert_eq!(seen, fields, "{formats:?} {interval:?}");
        }
    }

    #[test]
    fn a_valid_decision_reads_back_through_its_spec() {
        let interval = IntervalSpec {
            mp4: Some(300),
            flv: None,
            m3u8: Some(21_600),
        };
        let decision = check_decision(true, Some(&names(&["m3u8", "mp4"])), Some(&interval))
            .expect("a valid decision");
        assert_eq!(decision.formats(), Some(&[Format::M3u8, Format::Mp4][..]));
        assert_eq!(decision.interval().map(IntervalSpec::from), Some(interval));
    }
}
