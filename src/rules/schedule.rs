//! When a rule applies: weekly windows in a time zone and one-off date ranges.
//!
//! Pure: the caller passes the instant. Windows include their start and exclude their end;
//! a window whose end is not after its start crosses midnight into the next day.

use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use std::fmt;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A weekly window such as `Mon-Fri 08:00-18:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    /// Days the window starts on, Monday first.
    days: [bool; 7],
    start: Time,
    end: Time,
    source: String,
}

/// A rule's schedule: it matches inside any window or date range, never outside.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    tz: TimeZone,
    tz_name: String,
    weekly: Vec<Window>,
    dates: Vec<(Timestamp, Timestamp, String)>,
}

impl Schedule {
    /// Compiles a schedule; `Err` names what is wrong (field, value).
    pub fn new(
        timezone: &str,
        weekly: &[String],
        dates: &[String],
    ) -> Result<Schedule, (&'static str, String)> {
        let tz = TimeZone::get(timezone)
            .map_err(|_| ("timezone", format!("{timezone:?} is not an IANA time zone")))?;
        if weekly.is_empty() && dates.is_empty() {
            return Err(("schedule", "needs weekly windows and/or dates".to_owned()));
        }
        let weekly = weekly
            .iter()
            .map(|w| {
                parse_window(w).ok_or_else(|| {
                    (
                        "weekly",
                        format!("{w:?} is not like \"Mon-Fri 08:00-18:00\""),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dates = dates
            .iter()
            .map(|d| {
                parse_range(&tz, d)
                    .ok_or_else(|| ("dates", format!("{d:?} is not like \"2026-12-24T18:00 to 2026-12-25T02:00\" with the start first")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule {
            tz,
            tz_name: timezone.to_owned(),
            weekly,
            dates,
        })
    }

    /// Whether `now` falls inside the schedule.
    pub fn contains(&self, now: Timestamp) -> bool {
        if self
            .dates
            .iter()
            .any(|(start, end, _)| *start <= now && now < *end)
        {
            return true;
        }
        let local = self.tz.to_datetime(now);
        let day = local.weekday().to_monday_zero_offset() as usize;
        let yesterday = (day + 6) % 7;
        let time = local.time();
        self.weekly.iter().any(|w| {
            if w.start < w.end {
                w.days[day] && w.start <= time && time < w.end
            } else {
                (w.days[day] && time >= w.start) || (w.days[yesterday] && time < w.end)
            }
        })
    }

    /// `now` as local time in the schedule's zone, for explanations.
    pub fn local(&self, now: Timestamp) -> DateTime {
        self.tz.to_datetime(now)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = self
            .weekly
            .iter()
            .map(|w| w.source.as_str())
            .chain(self.dates.iter().map(|(_, _, s)| s.as_str()))
            .collect();
        write!(f, "{} {}", parts.join(", "), self.tz_name)
    }
}

/// `Mon-Fri 08:00-18:00`, `Sat,Sun 10:00-12:00`, `Fri 22:00-02:00`.
fn parse_window(text: &str) -> Option<Window> {
    let (days_text, hours) = text.trim().split_once(char::is_whitespace)?;
    let mut days = [false; 7];
    for part in days_text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day_index(from)?, day_index(to)?);
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day_index(part)?] = true,
        }
    }
    let (start, end) = hours.trim().split_once('-')?;
    Some(Window {
        days,
        start: parse_time(start)?,
        end: parse_time(end)?,
        source: text.trim().to_owned(),
    })
}

fn day_index(name: &str) -> Option<usize> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))
}

/// `HH:MM`; `24:00` is the end of the day.
fn parse_time(text: &str) -> Option<Time> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    if h == 24 && m == 0 {
        return Time::new(23, 59, 59, 999_999_999).ok();
    }
    Time::new(h, m, 0, 0).ok()
}

/// `2026-12-24T18:00 to 2026-12-25T02:00`, local to `tz`.
fn parse_range(tz: &TimeZone, text: &str) -> Option<(Timestamp, Timestamp, String)> {
    let (start, end) = text.split_once(" to ")?;
    let start: DateTime = start.trim().parse().ok()?;
    let end: DateTime = end.trim().parse().ok()?;
    let (start, end) = (tz.to_timestamp(start).ok()?, tz.to_timestamp(end).ok()?);
    (start < end).then(|| (start, end, text.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("an RFC 3339 instant")
    }

    fn schedule(tz: &str, weekly: &[&str], dates: &[&str]) -> Schedule {
        let own = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Schedule::new(tz, &own(weekly), &own(dates)).expect("valid schedule")
    }

    #[test]
    fn office_hours_in_shanghai() {
        let s = schedule("Asia/Shanghai", &["Mon-Fri 08:00-18:00"], &[]);
        let cases = [
            ("2026-11-23T00:00:00Z", true), // Mon 08:00 local: the start is inside
            ("2026-11-22T23:59:59Z", false), // Mon 07:59:59 local
            ("2026-11-23T10:00:00Z", false), // Mon 18:00 local: the end is outside
            ("2026-11-23T09:59:59Z", true), // Mon 17:59:59 local
            ("2026-11-28T02:00:00Z", false), // Sat 10:00 local
        ];
        for (instant, expected) in cases {
            assert_eq!(s.contains(at(instant)), expected, "{instant}");
        }
    }

    #[test]
    fn a_window_crossing_midnight_continues_into_the_next_day() {
        let s = schedule("UTC", &["Fri 22:00-02:00"], &[]);
        let cases = [
            ("2026-11-27T21:59:00Z", false), // Fri 21:59
            ("2026-11-27T22:00:00Z", true),  // Fri 22:00
            ("2026-11-28T01:59:59Z", true),  // Sat 01:59:59, still Friday's window
            ("2026-11-28T02:00:00Z", false), // Sat 02:00, ends exactly now
            ("2026-11-28T23:00:00Z", false), // Sat 23:00: not a Saturday window
            ("2026-11-21T01:00:00Z", true),  // the Saturday after the previous Friday
        ];
        for (instant, expected) in cases {
            assert_eq!(s.contains(at(instant)), expected, "{instant}");
        }
    }

    #[test]
    fn windows_follow_daylight_saving_time() {
        // New York: EDT (UTC-4) until 2026-11-01 02:00, EST (UTC-5) after.
        let s = schedule("America/New_York", &["Sun 09:00-10:00"], &[]);
        assert!(s.contains(at("2026-10-25T13:30:00Z")), "09:30 EDT");
        assert!(!s.contains(at("2026-11-01T13:30:00Z")), "08:30 EST");
        assert!(s.contains(at("2026-11-01T14:30:00Z")), "09:30 EST");
    }

    #[test]
    fn one_off_date_ranges_in_their_zone() {
        let s = schedule(
            "Asia/Shanghai",
            &[],
            &["2026-12-24T18:00 to 2026-12-25T02:00"],
        );
        assert!(!s.contains(at("2026-12-24T09:59:59Z")), "17:59:59 local");
        assert!(s.contains(at("2026-12-24T10:00:00Z")), "18:00 local");
        assert!(s.contains(at("2026-12-24T17:59:59Z")), "01:59:59 local");
        assert!(
            !s.contains(at("2026-12-24T18:00:00Z")),
            "02:00 local: ends exactly now"
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_the_field() {
        let own = |s: &str| vec![s.to_owned()];
        let cases = [
            (
                Schedule::new("Mars/Olympus", &own("Mon 08:00-09:00"), &[]),
                "timezone",
            ),
            (Schedule::new("UTC", &[], &[]), "schedule"),
            (
                Schedule::new("UTC", &own("Someday 08:00-09:00"), &[]),
                "weekly",
            ),
            (Schedule::new("UTC", &own("Mon 25:00-26:00"), &[]), "weekly"),
            (
                Schedule::new("UTC", &[], &own("2026-12-25T02:00 to 2026-12-24T18:00")),
                "dates",
            ),
        ];
        for (result, field) in cases {
            assert_eq!(result.expect_err("refused").0, field);
        }
    }
}
