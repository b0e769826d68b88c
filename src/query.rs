//! The callback's parameters as typed values.
//!
//! Parsing is lenient on purpose: the platform records nothing when the callback fails, so
//! every readable query string yields a `Query`, however odd its contents.

use compact_str::CompactString;
use std::fmt;

/// The parameters the platform sends, decoded.
///
/// Missing and empty parameters are empty strings; `domain` is lower-cased because host
/// names compare case-insensitively, `app` and `stream` are kept as sent. Values of up to
/// 24 bytes are stored inline, so parsing a typical callback allocates nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// The main streaming domain, lower-cased.
    pub domain: CompactString,
    /// The application name.
    pub app: CompactString,
    /// The stream name.
    pub stream: CompactString,
    /// The video codec; blank or missing means h264.
    pub codec: Codec,
    /// The video bitrate in Kbit/s; `None` when missing or not a non-negative integer.
    pub vbitrate: Option<u64>,
}

/// A video codec as the platform names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Codec {
    /// `h264`, also what a blank or missing codec means.
    #[default]
    H264,
    /// `h265`.
    H265,
    /// Anything else, lower-cased; matches no rule that lists codecs.
    Other(String),
}

impl Codec {
    /// Reads a codec name case-insensitively; blank means h264.
    pub fn parse(value: &str) -> Codec {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("h264") {
            Codec::H264
        } else if value.eq_ignore_ascii_case("h265") {
            Codec::H265
        } else {
            Codec::Other(value.to_ascii_lowercase())
        }
    }

    /// The codec's name as the platform spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
            Codec::Other(name) => name,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Query {
    /// Parses a raw query string (the part after `?`, still percent-encoded).
    ///
    /// Never fails: unknown parameters are ignored, the first of repeated parameters counts,
    /// `+` is a space, invalid percent-escapes are kept literally and invalid UTF-8 is
    /// replaced with U+FFFD.
    pub fn parse(raw: &str) -> Query {
        let mut query = Query::default();
        let mut seen = Seen::default();
        // Split as `form_urlencoded::parse` splits: empty pairs are skipped, the first `=`
        // splits, a pair without one has an empty value. Only a pair with something to
        // decode goes through it; the usual pair is read in place.
        for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
            if pair.bytes().any(|b| b == b'%' || b == b'+') {
                if let Some((key, value)) = form_urlencoded::parse(pair.as_bytes()).next() {
                    query.set(&mut seen, &key, &value);
                }
            } else {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                query.set(&mut seen, key, value);
            }
        }
        query
    }

    /// Sets parameter `key` to `value` unless it was set already.
    fn set(&mut self, seen: &mut Seen, key: &str, value: &str) {
        match key {
            "domain" if !seen.domain => {
                seen.domain = true;
                self.domain = lowercase(value);
            }
            "app" if !seen.app => {
                seen.app = true;
                self.app = CompactString::from(value);
            }
            "stream" if !seen.stream => {
                seen.stream = true;
                self.stream = CompactString::from(value);
            }
            "codec" if !seen.codec => {
                seen.codec = true;
                self.codec = Codec::parse(value);
            }
            "vbitrate" if !seen.vbitrate => {
                seen.vbitrate = true;
                self.vbitrate = parse_bitrate(value);
            }
            _ => {}
        }
    }
}

/// `value` lower-cased, copied as is when it has nothing to lower.
fn lowercase(value: &str) -> CompactString {
    if value
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        CompactString::from(value.to_lowercase())
    } else {
        CompactString::from(value)
    }
}

/// Which parameters have been read already, so that the first occurrence wins.
#[derive(Default)]
struct Seen {
    domain: bool,
    app: bool,
    stream: bool,
    codec: bool,
    vbitrate: bool,
}

/// A bitrate is a non-negative integer of ASCII digits; anything else is unknown.
fn parse_bitrate(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_documented_sample_reads_only_the_app() {
        let query = Query::parse("app=seq_all&");
        assert_eq!(
            query,
            Query {
                app: "seq_all".into(),
                ..Query::default()
            },
            "the sample request must parse to app only"
        );
    }

    #[test]
    fn all_five_parameters_are_read_in_any_order() {
        let query = Query::parse(
            "vbitrate=2500&stream=course-7&codec=h265&app=edu&domain=live.example.com",
        );
        assert_eq!(query.domain, "live.example.com");
        assert_eq!(query.app, "edu");
        assert_eq!(query.stream, "course-7");
        assert_eq!(query.codec, Codec::H265);
        assert_eq!(query.vbitrate, Some(2500));
    }

    #[test]
    fn the_first_of_repeated_parameters_counts() {
        let query = Query::parse("stream=first&stream=second&codec=h265&codec=h264");
        assert_eq!(query.stream, "first", "first stream wins");
        assert_eq!(query.codec, Codec::H265, "first codec wins");
    }

    #[test]
    fn values_are_percent_decoded_and_plus_is_a_space() {
        let query = Query::parse("stream=a%2Fb+c&app=%E8%AF%BE");
        assert_eq!(query.stream, "a/b c");
        assert_eq!(query.app, "课");
    }

    #[test]
    fn invalid_escapes_and_utf8_are_kept_readable() {
        let query = Query::parse("stream=%zz%&app=%ff");
        assert_eq!(query.stream, "%zz%", "a bad escape stays literal");
        assert_eq!(query.app, "\u{fffd}", "invalid UTF-8 becomes U+FFFD");
    }

    #[test]
    fn codec_is_case_insensitive_and_blank_means_h264() {
        let cases = [
            ("codec=", Codec::H264),
            ("", Codec::H264),
            ("codec=H265", Codec::H265),
            ("codec=h264", Codec::H264),
            ("codec=AV1", Codec::Other("av1".into())),
        ];
        for (raw, expected) in cases {
            assert_eq!(Query::parse(raw).codec, expected, "query {raw:?}");
        }
    }

    #[test]
    fn domain_is_lower_cased_but_app_and_stream_are_not() {
        let query = Query::parse("domain=Live.Example.COM&app=Edu&stream=Course");
        assert_eq!(query.domain, "live.example.com");
        assert_eq!(query.app, "Edu");
        assert_eq!(query.stream, "Course");
    }

    #[test]
    fn a_bitrate_that_is_not_a_non_negative_integer_is_unknown() {
        let cases = [
            ("vbitrate=2000", Some(2000)),
            ("vbitrate=0", Some(0)),
            ("vbitrate=", None),
            ("vbitrate=-1", None),
            ("vbitrate=+5", None),
            ("vbitrate=2.5", None),
            ("vbitrate=abc", None),
            ("vbitrate=%20100", None),
            ("vbitrate=99999999999999999999999", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(Query::parse(raw).vbitrate, expected, "query {raw:?}");
        }
    }

    #[test]
    fn unknown_and_malformed_pairs_are_ignored() {
        let query = Query::parse("&&=&x=1&stream&app=a=b&&");
        assert_eq!(query.stream, "", "a key without = is an empty value");
        assert_eq!(query.app, "a=b", "only the first = splits");
    }

    /// The parser without its shortcut: every pair through `form_urlencoded`.
    fn reference(raw: &str) -> Query {
        let mut query = Query::default();
        let mut seen = Seen::default();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            query.set(&mut seen, &key, &value);
        }
        query
    }

    proptest! {
        #[test]
        fn the_shortcut_reads_what_form_urlencoded_reads(
            raw in "((domain|app|stream|codec|vbitrate|x|)(=|==|)[a-zA-Z0-9%+=._\\-]{0,12}&{0,2}){0,8}",
        ) {
            prop_assert_eq!(Query::parse(&raw), reference(&raw));
        }

        #[test]
        fn parsing_arbitrary_text_matches_the_reference(raw in ".{0,200}") {
            prop_assert_eq!(Query::parse(&raw), reference(&raw));
        }

        #[test]
        fn parsing_never_panics_and_is_deterministic(raw in ".{0,300}") {
            let first = Query::parse(&raw);
            let second = Query::parse(&raw);
            prop_assert_eq!(first, second);
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let raw = String::from_utf8_lossy(&bytes);
            let _ = Query::parse(&raw);
        }
    }
}
