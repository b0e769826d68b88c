//! `[[quota]]`: names, caps, budgets, time zones and modes, and the rules' `quota` keys
//! resolved to positions.

use super::Problems;
use crate::config::defaults::{
    DEFAULT_QUOTA_TIMEZONE, MAX_QUOTA_ACTIVE, MAX_QUOTA_MONTHLY_HOURS, MAX_QUOTAS,
    MAX_RULE_NAME_LEN,
};
use crate::config::file::RawQuota;
use crate::quota::{QuotaMode, QuotaSpec};
use jiff::tz::TimeZone;
use std::collections::HashSet;

/// Compiles every `[[quota]]`, in file order.
pub(super) fn compile_quotas(raw: Vec<RawQuota>, problems: &mut Problems) -> Vec<QuotaSpec> {
    if raw.len() > MAX_QUOTAS {
        problems.add(
            "[[quota]]",
            None,
            format!("{} quotas; at most {MAX_QUOTAS}", raw.len()),
        );
    }
    let mut names = HashSet::with_capacity(raw.len());
    let mut quotas = Vec::with_capacity(raw.len());
    for quota in raw {
        let place = format!("quota {:?}", quota.name);
        if !names.insert(quota.name.clone()) {
            problems.add(
                &place,
                Some("name"),
                "duplicate quota name; names must be unique",
            );
        }
        quotas.extend(compile_quota(&place, quota, problems));
    }
    quotas
}

fn compile_quota(place: &str, raw: RawQuota, problems: &mut Problems) -> Option<QuotaSpec> {
    let before = problems.list.len();
    if raw.name.trim().is_empty() {
        problems.add(place, Some("name"), "must not be empty");
    } else if raw.name.chars().count() > MAX_RULE_NAME_LEN {
        problems.add(
            place,
            Some("name"),
            format!("longer than {MAX_RULE_NAME_LEN} characters"),
        );
    }
    if raw.max_active.is_none() && raw.monthly_hours.is_none() {
        problems.add(
            place,
            None,
            "needs max_active, monthly_hours or both: a quota with neither limits nothing",
        );
    }
    if let Some(max) = raw.max_active.filter(|&max| max > MAX_QUOTA_ACTIVE) {
        problems.add(
            place,
            Some("max_active"),
            format!("{max} is more than {MAX_QUOTA_ACTIVE}"),
        );
    }
    if let Some(hours) = raw.monthly_hours
        && !(hours.is_finite() && hours > 0.0 && hours <= MAX_QUOTA_MONTHLY_HOURS)
    {
        problems.add(
            place,
            Some("monthly_hours"),
            format!(
                "{hours} is not a number of hours above 0 and at most {MAX_QUOTA_MONTHLY_HOURS}"
            ),
        );
    }
    let timezone_name = raw
        .timezone
        .unwrap_or_else(|| DEFAULT_QUOTA_TIMEZONE.to_owned());
    let timezone = TimeZone::get(&timezone_name)
        .map_err(|_| {
            problems.add(
                place,
                Some("timezone"),
                format!("{timezone_name:?} is not an IANA time zone (such as \"Asia/Shanghai\")"),
            )
        })
        .ok();
    let mode = match raw.mode.as_deref() {
        None | Some("enforce") => QuotaMode::Enforce,
        Some("shadow") => QuotaMode::Shadow,
        Some(other) => {
            problems.add(
                place,
                Some("mode"),
                format!("{other:?}: expected \"enforce\" or \"shadow\""),
            );
            QuotaMode::Enforce
        }
    };
    if problems.list.len() > before {
        return None;
    }
    Some(QuotaSpec {
        name: raw.name,
        max_active: raw.max_active,
        monthly_hours: raw.monthly_hours,
        timezone: timezone?,
        timezone_name,
        mode,
    })
}
