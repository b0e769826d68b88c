//! What the admin API accepts and returns for an override, and its validation: as strict
//! as the config file's, every problem naming its field.

use super::model::{Override, OverrideKey};
use crate::decision::{Format, IntervalSpec, check_decision};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// SECURITY: longest `domain`, `app` or `stream` of an override, in bytes. The platform's
/// whole query string is capped at 2,048 characters.
pub const MAX_KEY_FIELD_BYTES: usize = 256;
/// SECURITY: longest `reason`, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// Longest lifetime of an override given by `ttl` or `expires_at`: 366 days. An override
/// without either never expires.
pub const MAX_TTL_SECS: i64 = 366 * 24 * 3600;
/// SECURITY: largest request body of `PUT /overrides`, in bytes.
pub const MAX_OVERRIDE_BODY_BYTES: usize = 16 * 1024;
/// Overrides in one page of `GET /overrides` when `limit` is not given.
pub const DEFAULT_LIST_LIMIT: usize = 1_000;
/// SECURITY: most overrides one page of `GET /overrides` may hold (`limit`).
pub const MAX_LIST_LIMIT: usize = 10_000;

/// The body of `PUT /overrides`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// Exact domain (case-insensitive); omitted for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Exact app; omitted for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Exact stream name. Required.
    pub stream: String,
    /// `NeedRecord`. Required.
    pub record: bool,
    /// `Format`, as in the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<String>>,
    /// `Interval`, seconds per format, as in the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalSpec>,
    /// Lifetime in seconds from now, 1..=`MAX_TTL_SECS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// End of life, RFC 3339 (`2026-12-01T00:00:00Z`); give `ttl` or this, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Free text, e.g. who asked and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One problem with a request: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// Dotted field name, e.g. `interval.mp4`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(field: &str, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Validates a key's fields; `domain` is lower-cased, blank `domain`/`app` mean any.
pub fn check_key(
    domain: Option<&str>,
    app: Option<&str>,
    stream: &str,
    problems: &mut Vec<FieldProblem>,
) -> OverrideKey {
    let mut field = |name: &str, value: &str, required: bool| -> String {
        if required && value.is_empty() {
            problems.push(FieldProblem::new(name, "must not be empty"));
        } else if value.len() > MAX_KEY_FIELD_BYTES {
            problems.push(FieldProblem::new(
                name,
                format!(
                    "is {} bytes; the limit is {MAX_KEY_FIELD_BYTES}",
                    value.len()
                ),
            ));
        } else if value.chars().any(char::is_control) {
            problems.push(FieldProblem::new(name, "must not hold control characters"));
        }
        value.to_owned()
    };
    OverrideKey {
        domain: field("domain", domain.unwrap_or_default(), false).to_lowercase(),
        app: field("app", app.unwrap_or_default(), false),
        stream: field("stream", stream, true),
    }
}

impl OverrideRequest {
    /// Validates the request and builds the override it asks for, created at `now`.
    pub fn into_override(self, now: Timestamp) -> Result<Override, Vec<FieldProblem>> {
        let now = to_millisecond(now);
        let mut problems = Vec::new();
        let key = check_key(
            self.domain.as_deref(),
            self.app.as_deref(),
            &self.stream,
            &mut problems,
        );
        let decision = check_decision(self.record, self.formats.as_deref(), self.interval.as_ref())
            .map_err(|list| {
                problems.extend(list.into_iter().map(|p| FieldProblem {
                    field: p.field,
                    message: p.message,
                }));
            })
            .ok();
        let expires_at = expiry(self.ttl, self.expires_at.as_deref(), now, &mut problems);
        if let Some(reason) = &self.reason
            && reason.len() > MAX_REASON_BYTES
        {
            problems.push(FieldProblem::new(
                "reason",
                format!("is {} bytes; the limit is {MAX_REASON_BYTES}", reason.len()),
            ));
        }
        match decision {
            Some(decision) if problems.is_empty() => Ok(Override::new(
                key,
                decision,
                self.reason.filter(|r| !r.is_empty()),
                now,
                expires_at,
            )),
            _ => Err(problems),
        }
    }
}

/// The end of life given by `ttl` or `expires_at`, checked against `now`.
fn expiry(
    ttl: Option<i64>,
    expires_at: Option<&str>,
    now: Timestamp,
    problems: &mut Vec<FieldProblem>,
) -> Option<Timestamp> {
    let latest = now
        .checked_add(jiff::SignedDuration::from_secs(MAX_TTL_SECS))
        .ok();
    match (ttl, expires_at) {
        (None, None) => None,
        (Some(_), Some(_)) => {
            problems.push(FieldProblem::new("ttl", "give ttl or expires_at, not both"));
            None
        }
        (Some(ttl), None) => {
            if (1..=MAX_TTL_SECS).contains(&ttl) {
                now.checked_add(jiff::SignedDuration::from_secs(ttl)).ok()
            } else {
                problems.push(FieldProblem::new(
                    "ttl",
                    format!("{ttl} is outside 1..={MAX_TTL_SECS} seconds"),
                ));
                None
            }
        }
        (None, Some(text)) => match text.parse::<Timestamp>() {
            Ok(end) if end <= now => {
                problems.push(FieldProblem::new(
                    "expires_at",
                    format!("{text:?} is not in the future"),
                ));
                None
            }
            Ok(end) if latest.is_some_and(|latest| end > latest) => {
                problems.push(FieldProblem::new(
                    "expires_at",
                    format!("{text:?} is more than {MAX_TTL_SECS} seconds away"),
                ));
                None
            }
            Ok(end) => Some(end),
            Err(_) => {
                problems.push(FieldProblem::new(
                    "expires_at",
                    format!("{text:?} is not an RFC 3339 time such as \"2026-12-01T00:00:00Z\""),
                ));
                None
            }
        },
    }
}

/// An override as the admin API returns it; `PUT` of it (without the times) stores it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverrideView {
    /// Exact domain, or `null` for any.
    pub domain: Option<String>,
    /// Exact app, or `null` for any.
    pub app: Option<String>,
    /// Exact stream.
    pub stream: String,
    /// `NeedRecord`.
    pub record: bool,
    /// `Format`, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<Format>>,
    /// `Interval`, if set, with the config's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalSpec>,
    /// Free text.
    pub reason: Option<String>,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// When it expires, RFC 3339; `null` for never.
    pub expires_at: Option<String>,
    /// The exact body the callback answers while it applies, byte for byte.
    pub response: Option<Box<serde_json::value::RawValue>>,
}

impl From<&Override> for OverrideView {
    fn from(o: &Override) -> OverrideView {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let decision = &o.decision;
        OverrideView {
            domain: some(&o.key.domain),
            app: some(&o.key.app),
            stream: o.key.stream.clone(),
            record: decision.record(),
            formats: decision.formats().map(<[Format]>::to_vec),
            interval: decision.interval().map(IntervalSpec::from),
            reason: o.reason.clone(),
            created_at: o.created_at.to_string(),
            expires_at: o.expires_at.map(|t| t.to_string()),
            response: raw_json(o.decision.body()),
        }
    }
}

/// A prepared JSON body as a JSON value that serialises byte for byte.
pub fn raw_json(body: &[u8]) -> Option<Box<serde_json::value::RawValue>> {
    serde_json::value::RawValue::from_string(String::from_utf8_lossy(body).into_owned()).ok()
}

/// `now` to the millisecond, the precision the store keeps.
pub fn to_millisecond(now: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-24T12:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn request(json: &str) -> OverrideRequest {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn fields(json: &str) -> Vec<String> {
        match request(json).into_override(now()) {
            Ok(o) => panic!("{json} was accepted as {o:?}"),
            Err(problems) => problems.into_iter().map(|p| p.field).collect(),
        }
    }

    #[test]
    fn a_full_request_builds_its_override_and_answer() {
        let o = request(
            r#"{"domain":"Live.Example.COM","app":"edu","stream":"math-101","record":true,
                "formats":["mp4","m3u8"],"interval":{"mp4":600},"ttl":3600,"reason":"class"}"#,
        )
        .into_override(now())
        .unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(o.key.to_string(), "live.example.com/edu/math-101");
        assert_eq!(
            o.decision.body(),
            r#"{"ApiVersion":"1.0","NeedRecord":true,"Interval":{"Mp4":600},"Format":["mp4","m3u8"]}"#
        );
        assert_eq!(
            o.expires_at.map(|t| t.to_string()).as_deref(),
            Some("2026-11-24T13:00:00Z")
        );
        assert_eq!(o.reason.as_deref(), Some("class"));
        let view = OverrideView::from(&o);
        assert_eq!(view.interval.and_then(|i| i.mp4), Some(600));
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (r#"{"stream":"","record":false}"#, vec!["stream"]),
            (
                r#"{"stream":"s","record":true,"formats":["avi"]}"#,
                vec!["formats"],
            ),
            (
                r#"{"stream":"s","record":true,"interval":{"mp4":3}}"#,
                vec!["interval.mp4"],
            ),
            (
                r#"{"stream":"s","record":false,"formats":["mp4"]}"#,
                vec!["formats"],
            ),
            (r#"{"stream":"s","record":true,"ttl":0}"#, vec!["ttl"]),
            (
                r#"{"stream":"s","record":true,"ttl":5,"expires_at":"2027-01-01T00:00:00Z"}"#,
                vec!["ttl"],
            ),
            (
                r#"{"stream":"s","record":true,"expires_at":"2020-01-01T00:00:00Z"}"#,
                vec!["expires_at"],
            ),
            (
                r#"{"stream":"s","record":true,"expires_at":"tomorrow"}"#,
                vec!["expires_at"],
            ),
            (
                r#"{"stream":"s\u0000","app":"a\nb","record":true}"#,
                vec!["app", "stream"],
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(fields(json), expected, "{json}");
        }
        let long = "x".repeat(MAX_KEY_FIELD_BYTES + 1);
        let json = format!(
            r#"{{"stream":"{long}","record":true,"reason":"{}"}}"#,
            "r".repeat(MAX_REASON_BYTES + 1)
        );
        assert_eq!(fields(&json), vec!["stream", "reason"]);
    }

    #[test]
    fn unknown_fields_are_refused_by_the_parser() {
        let error =
            serde_json::from_str::<OverrideRequest>(r#"{"stream":"s","record":true,"fromats":[]}"#);
        assert!(error.is_err_and(|e| e.to_string().contains("fromats")));
    }
}
