//! Budgets on recording: `[[quota]]` caps how many recordings run at once (`max_active`)
//! and how many hours a quota records per calendar month (`monthly_hours`).
//!
//! A rule naming a quota matches only while its quota takes the stream; when it is full
//! the rule does not match and evaluation goes on to the next rule. The check runs on the
//! callback's path from memory alone:
//!
//! * `slots` holds what this replica may hand out: its lease of the quota's free slots,
//!   the streams it admitted that the ledger has not written yet, and the streams that
//!   hold a slot (so that a retried callback gets the same answer without a second one);
//! * `lease` is the pure arithmetic of how many free slots each replica holds;
//! * `sync` renews the lease in the store in the background, so replicas on one
//!   PostgreSQL together never hand out more slots than the cap;
//! * `month` finds the quota's calendar month in its time zone.

pub mod book;
pub mod lease;
pub mod month;
pub mod slots;
pub mod sync;

pub use book::{QuotaBook, QuotaGate, QuotaPeek, QuotaSnapshot};
pub use slots::{Quota, QuotaFigures};

use jiff::tz::TimeZone;

/// Whether a full quota refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaMode {
    /// A full quota's rules do not match.
    Enforce,
    /// Counted and reported, never refused: what the quota would have refused is counted.
    Shadow,
}

impl QuotaMode {
    /// The name the config, the admin API and metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaMode::Enforce => "enforce",
            QuotaMode::Shadow => "shadow",
        }
    }
}

/// One `[[quota]]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaSpec {
    /// Unique name; recordings count toward a quota by name.
    pub name: String,
    /// Recordings at once, at most: decided, recording or paused.
    pub max_active: Option<u64>,
    /// Recorded hours per calendar month, at most.
    pub monthly_hours: Option<f64>,
    /// Where the month starts.
    pub timezone: TimeZone,
    /// The time zone's name, as written.
    pub timezone_name: String,
    /// Whether it refuses.
    pub mode: QuotaMode,
}

impl QuotaSpec {
    /// The monthly budget in seconds, if any.
    pub fn monthly_seconds(&self) -> Option<f64> {
        self.monthly_hours.map(|hours| hours * 3600.0)
    }
}

#[cfg(test)]
mod tests;
