//! Usage over a period, by day, rule, app or domain: seconds recorded and files written
//! (from the file events), and the most recordings at once (from the recordings' spans).
//! Pure: the store hands over sums per time bucket and the spans; this module groups them.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

/// Width of the time buckets file sums come in, seconds: every time zone's offset is a
/// multiple of 15 minutes, so a bucket never straddles a local midnight.
pub const BUCKET_SECS: i64 = 900;
/// Longest period one usage query may cover, in days.
pub const MAX_USAGE_DAYS: i64 = 366;

/// How usage is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Local calendar day.
    Day,
    /// Deciding rule (`none` for recordings recgate did not decide).
    Rule,
    /// App.
    App,
    /// Streaming domain.
    Domain,
}

impl GroupBy {
    /// Reads `day`, `rule`, `app` or `domain`.
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "day" => Some(GroupBy::Day),
            "rule" => Some(GroupBy::Rule),
            "app" => Some(GroupBy::App),
            "domain" => Some(GroupBy::Domain),
            _ => None,
        }
    }
}

/// One row of usage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageRow {
    /// The day (`YYYY-MM-DD`), rule, app or domain.
    pub key: String,
    /// Seconds of content in the files that started in the group's period.
    pub recorded_seconds: f64,
    /// Files that started in the group's period.
    pub files: u64,
    /// The most recordings in progress at once in the group and period.
    pub peak_active: u64,
}

/// A recording's span, as the store hands it over: its group values and when it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Deciding rule, `None` when recgate did not decide.
    pub rule: Option<String>,
    /// App.
    pub app: String,
    /// Streaming domain.
    pub domain: String,
    /// When it began, Unix milliseconds.
    pub since: i64,
    /// When it ended, Unix milliseconds; `None` while in progress.
    pub ended: Option<i64>,
}

/// The period `[from, to]` of local days in `tz`, as Unix seconds `[start, end)`.
pub fn period(from: Date, to: Date, tz: &TimeZone) -> Option<(i64, i64)> {
    let start = tz
        .to_timestamp(from.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    let after = to.tomorrow().ok()?;
    let end = tz
        .to_timestamp(after.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    Some((start.as_second(), end.as_second()))
}

/// The local day of Unix second `second` in `tz`.
fn day_of(second: i64, tz: &TimeZone) -> String {
    Timestamp::from_second(second)
        .map(|t| tz.to_datetime(t).date().to_string())
        .unwrap_or_default()
}

/// Groups file sums and recording spans into usage rows, sorted by key. `buckets` are
/// `(bucket start second, seconds, files)` for `GroupBy::Day`; `groups` are
/// `(key, seconds, files)` for the other groupings.
pub fn usage(
    by: GroupBy,
    (start, end): (i64, i64),
    tz: &TimeZone,
    buckets: &[(i64, f64, u64)],
    groups: &[(String, f64, u64)],
    spans: &[Span],
    now_ms: i64,
) -> Vec<UsageRow> {
    let mut out: BTreeMap<String, UsageRow> = BTreeMap::new();
    match by {
        GroupBy::Day => {
            // Every local day of the period, 23- and 25-hour days included.
            let mut day = day_of(start, tz).parse::<Date>().ok();
            while let Some(date) = day {
                match period(date, date, tz) {
                    Some((day_start, _)) if day_start < end => {
                        entry(&mut out, &date.to_string());
                        day = date.tomorrow().ok();
                    }
                    _ => break,
                }
            }
            for (bucket, seconds, files) in buckets {
                let e = entry(&mut out, &day_of(*bucket, tz));
                e.recorded_seconds += seconds;
                e.files += files;
            }
            // The peak of each day: spans clipped to that day.
            let keys: Vec<String> = out.keys().cloned().collect();
            for key in keys {
                let Ok(date) = key.parse::<Date>() else {
                    continue;
                };
                let Some(bounds) = period(date, date, tz) else {
                    continue;
                };
                let peak = peak(spans.iter(), bounds, now_ms);
                entry(&mut out, &key).peak_active = peak;
            }
        }
        _ => {
            for (key, seconds, files) in groups {
                let e = entry(&mut out, key);
                e.recorded_seconds += seconds;
                e.files += files;
            }
            let mut by_group: BTreeMap<String, Vec<&Span>> = BTreeMap::new();
            for span in spans {
                let key = match by {
                    GroupBy::Rule => span.rule.clone().unwrap_or_else(|| "none".into()),
                    GroupBy::App => span.app.clone(),
                    _ => span.domain.clone(),
                };
                by_group.entry(key).or_default().push(span);
            }
            for (key, group) in by_group {
                let peak = peak(group.into_iter(), (start, end), now_ms);
                if peak > 0 {
                    entry(&mut out, &key).peak_active = peak;
                }
            }
        }
    }
    out.into_values().collect()
}

/// The row of `key`, created empty.
fn entry<'a>(rows: &'a mut BTreeMap<String, UsageRow>, key: &str) -> &'a mut UsageRow {
    rows.entry(key.to_owned()).or_insert(UsageRow {
        key: key.to_owned(),
        recorded_seconds: 0.0,
        files: 0,
        peak_active: 0,
    })
}

/// The most of `spans` in progress at once within `[start, end)` (Unix seconds).
fn peak<'a>(spans: impl Iterator<Item = &'a Span>, (start, end): (i64, i64), now_ms: i64) -> u64 {
    let (start, end) = (start * 1000, end * 1000);
    let mut edges: Vec<(i64, i64)> = Vec::new();
    for span in spans {
        let stop = span.ended.unwrap_or(now_ms);
        let (from, to) = (span.since.max(start), stop.min(end));
        if from < to || (from == to && span.since >= start && span.since < end) {
            edges.push((from, 1));
            edges.push((to.max(from + 1), -1));
        }
    }
    // Ends sort before starts at the same instant: back-to-back recordings are not
    // counted at once.
    edges.sort_unstable();
    let (mut now, mut most) = (0i64, 0i64);
    for (_, delta) in edges {
        now += delta;
        most = most.max(now);
    }
    u64::try_from(most).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(rule: &str, since_s: i64, ended_s: Option<i64>) -> Span {
        Span {
            rule: Some(rule.to_owned()),
            app: "edu".into(),
            domain: "live.example.com".into(),
            since: since_s * 1000,
            ended: ended_s.map(|s| s * 1000),
        }
    }

    fn date(text: &str) -> Date {
        text.parse().expect("a date")
    }

    #[test]
    fn the_peak_counts_overlaps_and_not_back_to_back_recordings() {
        let spans = [
            span("a", 0, Some(100)),
            span("a", 50, Some(150)),
            span("a", 100, Some(200)),
        ];
        assert_eq!(
            peak(spans.iter(), (0, 1000), 0),
            2,
            "0-100 and 50-150 overlap"
        );
        assert_eq!(
            peak(spans.iter(), (160, 1000), 0),
            1,
            "only the last is in the window"
        );
        let open = [span("a", 0, None), span("a", 10, None)];
        assert_eq!(
            peak(open.iter(), (0, 1000), 500_000),
            2,
            "in progress until now"
        );
    }

    #[test]
    fn days_follow_the_time_zone_and_each_day_has_its_own_peak() {
        let tz = TimeZone::get("Asia/Shanghai").expect("tz");
        let (start, end) = period(date("2026-11-01"), date("2026-11-02"), &tz).expect("period");
        assert_eq!(end - start, 2 * 86_400);
        // 2026-11-01T00:00+08:00 is 2026-10-31T16:00Z.
        assert_eq!(
            start,
            "2026-10-31T16:00:00Z"
                .parse::<Timestamp>()
                .expect("t")
                .as_second()
        );
        let buckets = [(start, 60.0, 1), (start + 86_400 + 900, 30.0, 2)];
        let spans = [
            span("a", start, Some(start + 10)),
            span("a", start + 5, Some(start + 20)),
        ];
        let rows = usage(GroupBy::Day, (start, end), &tz, &buckets, &[], &spans, 0);
        let got: Vec<(&str, f64, u64, u64)> = rows
            .iter()
            .map(|r| (r.key.as_str(), r.recorded_seconds, r.files, r.peak_active))
            .collect();
        assert_eq!(
            got,
            [("2026-11-01", 60.0, 1, 2), ("2026-11-02", 30.0, 2, 0)]
        );
    }

    #[test]
    fn a_day_in_a_dst_change_is_23_or_25_hours() {
        let tz = TimeZone::get("Europe/Berlin").expect("tz");
        let (start, end) = period(date("2026-10-25"), date("2026-10-25"), &tz).expect("period");
        assert_eq!(end - start, 25 * 3600, "clocks go back on 2026-10-25");
    }

    #[test]
    fn groups_carry_their_sums_and_peaks() {
        let spans = [
            span("a", 0, Some(100)),
            span("b", 10, Some(20)),
            span("b", 15, Some(30)),
        ];
        let groups = [("a".to_owned(), 100.0, 1), ("b".to_owned(), 20.0, 2)];
        let rows = usage(
            GroupBy::Rule,
            (0, 1000),
            &TimeZone::UTC,
            &[],
            &groups,
            &spans,
            0,
        );
        let got: Vec<(&str, u64)> = rows
            .iter()
            .map(|r| (r.key.as_str(), r.peak_active))
            .collect();
        assert_eq!(got, [("a", 1), ("b", 2)]);
    }
}
