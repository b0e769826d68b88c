//! A quota's calendar month: from local midnight on its first day to local midnight on the
//! next month's first day, in the quota's time zone, daylight saving time included.

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The calendar month in `tz` that contains `now`: its first and its last instant (the
/// next month's start, exclusive).
pub fn month_span(now: Timestamp, tz: &TimeZone) -> (Timestamp, Timestamp) {
    let local = now.to_zoned_datetime(tz.clone());
    let start = local.first_of_month().and_then(|day| day.start_of_day());
    let Ok(start) = start else {
        return (now, now);
    };
    let end = start
        .checked_add(1.month())
        .and_then(|next| next.start_of_day());
    match end {
        Ok(end) => (start.timestamp(), end.timestamp()),
        Err(_) => (start.timestamp(), Timestamp::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or(TimeZone::UTC)
    }

    #[test]
    fn a_month_starts_at_local_midnight() {
        // 2026-10-31T17:00Z is already November 1st, 01:00 in Shanghai (UTC+8).
        let (start, end) = month_span(at("2026-10-31T17:00:00Z"), &zone("Asia/Shanghai"));
        assert_eq!(start, at("2026-10-31T16:00:00Z"));
        assert_eq!(end, at("2026-11-30T16:00:00Z"));
        // And still October in UTC.
        let (start, end) = month_span(at("2026-10-31T17:00:00Z"), &TimeZone::UTC);
        assert_eq!(start, at("2026-10-01T00:00:00Z"));
        assert_eq!(end, at("2026-11-01T00:00:00Z"));
    }

    #[test]
    fn daylight_saving_time_moves_the_offset_of_midnight() {
        // New York: March starts at UTC-5, April at UTC-4 (DST began on March 8th, 2026).
        let (start, end) = month_span(at("2026-03-15T12:00:00Z"), &zone("America/New_York"));
        assert_eq!(start, at("2026-03-01T05:00:00Z"));
        assert_eq!(end, at("2026-04-01T04:00:00Z"));
        // An offset of a quarter hour: Kathmandu is UTC+5:45.
        let (start, _) = month_span(at("2026-06-10T00:00:00Z"), &zone("Asia/Kathmandu"));
        assert_eq!(start, at("2026-05-31T18:15:00Z"));
    }
}
