//! `[lifecycle]` and `[platform] ingest_domains`: where the platform's ingest and recording
//! events are received, how they are signed, and how long their history is kept.

use super::Problems;
use super::auth::compile_auth;
use super::values::check_path;
use crate::config::LifecycleSettings;
use crate::config::defaults::{DEFAULT_RETENTION_DAYS, MIN_RETENTION, RESERVED_PATHS};
use crate::config::file::{RawLifecycle, RawPlatform};
use crate::ledger::DomainMap;
use std::time::Duration;

const PLACE: &str = "[lifecycle]";

pub(super) fn compile_lifecycle(
    raw: &RawLifecycle,
    platform: &RawPlatform,
    callback_path: Option<&str>,
    problems: &mut Problems,
) -> Option<LifecycleSettings> {
    let before = problems.list.len();
    let mut taken: Vec<(String, &str)> = RESERVED_PATHS
        .iter()
        .map(|p| ((*p).to_owned(), "a health endpoint"))
        .collect();
    taken.extend(callback_path.map(|p| (p.to_owned(), "[server] callback_path")));
    let mut path = |field: &'static str, value: Option<&String>| -> Option<String> {
        let value = value?;
        if !check_path(PLACE, field, value, problems) {
            return None;
        }
        if let Some((_, owner)) = taken.iter().find(|(p, _)| p == value) {
            problems.add(PLACE, Some(field), format!("{value} is already {owner}"));
            return None;
        }
        taken.push((value.clone(), field));
        Some(value.clone())
    };
    let ingest_path = path("ingest_path", raw.ingest_path.as_ref());
    let notify_path = path("notify_path", raw.notify_path.as_ref());
    let retention = compile_retention(raw.retention.as_deref(), problems);
    let ingest_auth = compile_auth("[lifecycle.ingest_auth]", &raw.ingest_auth, problems);
    let notify_auth = compile_auth("[lifecycle.notify_auth]", &raw.notify_auth, problems);
    let domains = DomainMap::new(platform.ingest_domains.clone().unwrap_or_default());
    if problems.list.len() > before {
        return None;
    }
    Some(LifecycleSettings {
        ingest_path,
        notify_path,
        retention: retention?,
        ingest_auth: ingest_auth?,
        notify_auth: notify_auth?,
        domains,
    })
}

/// `retention`: a span such as `"400d"` or `"12h"`, days of 24 hours.
fn compile_retention(text: Option<&str>, problems: &mut Problems) -> Option<Duration> {
    let Some(text) = text else {
        return Some(Duration::from_secs(DEFAULT_RETENTION_DAYS * 24 * 3600));
    };
    let seconds = text.parse::<jiff::Span>().ok().and_then(|span| {
        span.total((
            jiff::Unit::Second,
            jiff::SpanRelativeTo::days_are_24_hours(),
        ))
        .ok()
    });
    match seconds {
        Some(secs) if secs >= MIN_RETENTION.as_secs_f64() && secs.is_finite() => {
            Some(Duration::from_secs_f64(secs))
        }
        Some(_) => {
            problems.add(
                PLACE,
                Some("retention"),
                format!("{text:?} is shorter than {MIN_RETENTION:?}"),
            );
            None
        }
        None => {
            problems.add(
                PLACE,
                Some("retention"),
                format!("{text:?} is not a span such as \"400d\" or \"12h\""),
            );
            None
        }
    }
}
