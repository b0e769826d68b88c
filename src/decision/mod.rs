//! The decision: what the platform is told for one stream, as the JSON it reads
//! (`ApiVersion`, `NeedRecord`, `Interval`, `Format`).
//!
//! A decision is rendered to bytes once, when it is built; the request path only clones
//! the prepared body. `check` validates a decision as written, for the config file, the
//! override API and the override store alike.

mod check;

pub use check::{DecisionProblem, IntervalSpec, check_decision, check_formats};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The only protocol version the platform documents.
pub const API_VERSION: &str = "1.0";

/// Shortest recording cycle the platform accepts, in seconds.
pub const MIN_INTERVAL_SECS: u32 = 5;
/// Longest recording cycle the platform accepts, in seconds (six hours).
pub const MAX_INTERVAL_SECS: u32 = 21_600;

/// A recording format, spelled in lower case as the platform expects in `Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// MP4 files.
    Mp4,
    /// FLV files.
    Flv,
    /// HLS playlists and segments.
    M3u8,
}

impl Format {
    /// Every format, in the order the platform documents them.
    pub const ALL: [Format; 3] = [Format::Mp4, Format::Flv, Format::M3u8];

    /// The lower-case name used in the config file and in `Format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Mp4 => "mp4",
            Format::Flv => "flv",
            Format::M3u8 => "m3u8",
        }
    }

    /// Reads a format name exactly as the config file spells it.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Recording cycle per format, in seconds; keys as the platform spells them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Interval {
    /// Cycle of MP4 recording, serialised as `Mp4`.
    #[serde(rename = "Mp4", skip_serializing_if = "Option::is_none")]
    pub mp4: Option<u32>,
    /// Cycle of FLV recording, serialised as `Flv`.
    #[serde(rename = "Flv", skip_serializing_if = "Option::is_none")]
    pub flv: Option<u32>,
    /// Cycle of HLS recording, serialised as `M3U8`.
    #[serde(rename = "M3U8", skip_serializing_if = "Option::is_none")]
    pub m3u8: Option<u32>,
}

impl Interval {
    /// The cycle set for one format, if any.
    pub fn get(&self, format: Format) -> Option<u32> {
        match format {
            Format::Mp4 => self.mp4,
            Format::Flv => self.flv,
            Format::M3u8 => self.m3u8,
        }
    }

    /// Every (format, seconds) pair that is set, in platform order.
    pub fn entries(&self) -> impl Iterator<Item = (Format, u32)> + '_ {
        Format::ALL
            .into_iter()
            .filter_map(|f| self.get(f).map(|secs| (f, secs)))
    }
}

/// What to answer for one stream: record or not, and optionally how, with the exact
/// response body rendered once. A handle: clones share one rendering, and rules with the
/// same answer can share one decision (`RuleSet` does).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decision(Arc<Rendered>);

#[derive(Debug, PartialEq, Eq, Hash)]
struct Rendered {
    record: bool,
    formats: Option<Vec<Format>>,
    interval: Option<Interval>,
    body: Bytes,
}

/// The wire shape, field order fixed by declaration order.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "ApiVersion")]
    api_version: &'static str,
    #[serde(rename = "NeedRecord")]
    need_record: bool,
    #[serde(rename = "Interval", skip_serializing_if = "Option::is_none")]
    interval: Option<&'a Interval>,
    #[serde(rename = "Format", skip_serializing_if = "Option::is_none")]
    format: Option<&'a [Format]>,
}

impl Decision {
    /// A decision already validated (see `check_decision`), with its body rendered.
    pub fn new(record: bool, formats: Option<Vec<Format>>, interval: Option<Interval>) -> Decision {
        let wire = Wire {
            api_version: API_VERSION,
            need_record: record,
            interval: interval.as_ref(),
            format: formats.as_deref(),
        };
        // Serialising a struct of strings, bools and integers cannot fail.
        let body = Bytes::from(serde_json::to_vec(&wire).unwrap_or_default());
        Decision(Arc::new(Rendered {
            record,
            formats,
            interval,
            body,
        }))
    }

    /// A decision that only says whether to record.
    pub fn plain(record: bool) -> Decision {
        Decision::new(record, None, None)
    }

    /// `NeedRecord`.
    pub fn record(&self) -> bool {
        self.0.record
    }

    /// `Format`, in the order the config lists them; `None` leaves the platform's own.
    pub fn formats(&self) -> Option<&[Format]> {
        self.0.formats.as_deref()
    }

    /// `Interval`; `None` leaves the platform's own.
    pub fn interval(&self) -> Option<&Interval> {
        self.0.interval.as_ref()
    }

    /// The exact response body; `Interval` and `Format` only when set.
    pub fn body(&self) -> &Bytes {
        &self.0.body
    }

    /// Whether the two are one shared decision (not only equal).
    pub fn is_shared_with(&self, other: &Decision) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Display for Decision {
    /// A one-line human summary, as `check` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.record() {
            return f.write_str("do not record");
        }
        f.write_str("record")?;
        if let Some(formats) = self.formats() {
            let names: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
            write!(f, " as {}", names.join(", "))?;
        }
        if let Some(interval) = self.interval() {
            let cycles: Vec<String> = interval
                .entries()
                .map(|(format, secs)| format!("{format} every {secs}s"))
                .collect();
            write!(f, " ({})", cycles.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_sample_is_reproduced_byte_for_byte() {
        let decision = Decision::new(
            true,
            Some(vec![Format::Mp4, Format::Flv]),
            Some(Interval {
                mp4: Some(300),
                flv: Some(120),
                m3u8: Some(180),
            }),
        );
        assert_eq!(
            decision.body(),
            r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":300,"Flv":120,"M3U8":180},"Format":["mp4","flv"]}"#,
            "the platform's own sample must come out exactly"
        );
    }

    #[test]
    fn every_shape_of_answer_has_its_exact_body() {
        let cases = [
            (
                Decision::plain(false),
                r#"{"ApiVersion":"1.0","NeedRecord":false}"#,
            ),
            (
                Decision::plain(true),
                r#"{"ApiVersion":"1.0","NeedRecord":true}"#,
            ),
            (
                Decision::new(true, Some(vec![Format::M3u8, Format::Mp4]), None),
                r#"{"ApiVersion":"1.0","NeedRecord":true,"Format":["m3u8","mp4"]}"#,
            ),
            (
                Decision::new(
                    true,
                    None,
                    Some(Interval {
                        m3u8: Some(600),
                        ..Interval::default()
                    }),
                ),
                r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"M3U8":600}}"#,
            ),
        ];
        for (decision, expected) in cases {
            assert_eq!(decision.body(), expected, "body of {decision:?}");
        }
    }

    #[test]
    fn summary_reads_as_a_sentence() {
        let decision = Decision::new(
            true,
            Some(vec![Format::Mp4, Format::M3u8]),
            Some(Interval {
                mp4: Some(3600),
                m3u8: Some(600),
                flv: None,
            }),
        );
        assert_eq!(
            decision.to_string(),
            "record as mp4, m3u8 (mp4 every 3600s, m3u8 every 600s)"
        );
        assert_eq!(Decision::plain(false).to_string(), "do not record");
    }
}
