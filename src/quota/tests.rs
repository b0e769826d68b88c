//! The slots of one replica: taking, retries, shadow mode, rebalancing and the month.

use super::slots::{QuotaFigures, Take};
use super::*;
use crate::ledger::RecordingKey;
use jiff::Timestamp;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn spec(max_active: Option<u64>, monthly_hours: Option<f64>, mode: QuotaMode) -> QuotaSpec {
    QuotaSpec {
        name: "courses".into(),
        max_active,
        monthly_hours,
        timezone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC),
        timezone_name: "Asia/Shanghai".into(),
        mode,
    }
}

fn key(stream: &str) -> RecordingKey {
    RecordingKey {
        domain: "example.com".into(),
        app: "edu".into(),
        stream: stream.into(),
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A quota of `spec` that synced once: `active` in use and every free slot granted.
fn synced(spec: QuotaSpec, active: u64, seconds: f64, now: Timestamp) -> Quota {
    let quota = Quota::new(spec.clone(), Arc::new(Notify::new()));
    let cap = spec.max_active.unwrap_or(0);
    let plan = quota.rebalance(quota.mark(), |pending, demand| {
        lease::tokens_wanted(cap, active, &[], pending, demand)
    });
    let (month_start, month_end) = month::month_span(now, &spec.timezone);
    let figures = QuotaFigures {
        active,
        seconds,
        month_start,
        month_end,
        refused: 0,
        synced: Some(now),
    };
    quota.synced(plan, Instant::now() + Duration::from_secs(60), figures);
    quota
}

#[test]
fn slots_run_out_at_the_cap_and_a_retry_keeps_its_slot() {
    let now = at("2026-11-10T00:00:00Z");
    let quota = synced(spec(Some(3), None, QuotaMode::Enforce), 1, 0.0, now);
    assert_eq!(quota.take(&key("a"), now, true, false), Take::Token);
    assert_eq!(quota.take(&key("b"), now, true, false), Take::Token);
    assert_eq!(
        quota.take(&key("c"), now, true, false),
        Take::NoSlot,
        "1 active + 2 taken = 3"
    );
    // The platform retries "a" after 5 s: same answer, no second slot.
    assert_eq!(quota.take(&key("a"), now, true, false), Take::Held);
    assert_eq!(
        quota.holding(),
        (0, 2),
        "no token left, two admissions pending"
    );
    assert_eq!(quota.refused_here(), 1);
    // The ledger wrote both: nothing pending any more.
    quota.settle();
    quota.settle();
    assert_eq!(quota.holding(), (0, 0));
}

#[test]
fn a_slot_is_handed_out_only_to_a_decision_the_ledger_can_write() {
    let now = at("2026-11-10T00:00:00Z");
    let quota = synced(spec(Some(3), None, QuotaMode::Enforce), 0, 0.0, now);
    assert_eq!(quota.take(&key("a"), now, false, false), Take::NoSlot);
    assert_eq!(quota.holding(), (3, 0));
}

#[test]
fn a_lease_not_renewed_hands_out_nothing() {
    let now = at("2026-11-10T00:00:00Z");
    let quota = Quota::new(
        spec(Some(3), None, QuotaMode::Enforce),
        Arc::new(Notify::new()),
    );
    let plan = quota.rebalance(quota.mark(), |_, _| 3);
    quota.synced(plan, Instant::now(), QuotaFigures::default());
    assert_eq!(quota.holding().0, 3);
    assert_eq!(
        quota.take(&key("a"), now, true, false),
        Take::NoSlot,
        "lease lapsed"
    );
}

#[test]
fn shadow_mode_refuses_nothing_and_counts_what_it_would_have_refused() {
    let now = at("2026-11-10T00:00:00Z");
    let quota = synced(spec(Some(1), None, QuotaMode::Shadow), 0, 0.0, now);
    assert_eq!(quota.take(&key("a"), now, true, false), Take::Token);
    let over = quota.take(&key("b"), now, true, false);
    assert_eq!(over, Take::Over);
    assert!(over.admitted());
    assert_eq!(quota.refused_here(), 1);
}

#[test]
fn an_override_is_admitted_over_the_cap_without_counting_a_refusal() {
    let now = at("2026-11-10T00:00:00Z");
    let quota = synced(spec(Some(0), None, QuotaMode::Enforce), 0, 0.0, now);
    assert_eq!(quota.take(&key("a"), now, true, true), Take::Over);
    assert_eq!(quota.refused_here(), 0);
}

#[test]
fn hours_used_up_refuse_until_the_month_rolls_over_in_the_quotas_time_zone() {
    // 10 hours budget, 10 hours recorded in October, Shanghai time.
    let october = at("2026-10-20T00:00:00Z");
    let quota = synced(
        spec(None, Some(10.0), QuotaMode::Enforce),
        0,
        36_000.0,
        october,
    );
    assert_eq!(quota.take(&key("a"), october, true, false), Take::NoHours);
    assert!(quota.describe(october).contains("used up: 10.0/10 hours"));
    // 15:59 UTC on October 31st is still October in Shanghai (UTC+8) ...
    let before = at("2026-10-31T15:59:59Z");
    assert_eq!(quota.take(&key("a"), before, true, false), Take::NoHours);
    // ... and 16:00 UTC is midnight on November 1st there: a new month, from zero, even
    // before the next sync reads the store.
    let after = at("2026-10-31T16:00:00Z");
    assert_eq!(quota.take(&key("a"), after, true, false), Take::Uncapped);
    assert_eq!(quota.refused_here(), 2);
}

#[test]
fn a_changed_cap_applies_at_once() {
    let now = at("2026-11-10T00:00:00Z");
    let quota = synced(spec(Some(100), None, QuotaMode::Enforce), 0, 0.0, now);
    // A sync reckoned under the old cap, committed after the change, grants nothing.
    let stale = quota.rebalance(quota.mark(), |_, _| 100);
    quota.respec(spec(Some(2), None, QuotaMode::Enforce));
    assert_eq!(quota.holding().0, 0, "tokens of the old cap dropped");
    quota.synced(
        stale,
        Instant::now() + Duration::from_secs(60),
        QuotaFigures::default(),
    );
    assert_eq!(quota.holding().0, 0);
    assert_eq!(quota.take(&key("a"), now, true, false), Take::NoSlot);
}

#[test]
fn rebalancing_takes_away_at_once_and_grants_after_the_commit() {
    let quota = Quota::new(
        spec(Some(10), None, QuotaMode::Enforce),
        Arc::new(Notify::new()),
    );
    let later = Instant::now() + Duration::from_secs(60);
    let grant = quota.rebalance(quota.mark(), |_, _| 8);
    assert_eq!((grant.reserved, grant.grant), (8, 8));
    assert_eq!(quota.holding().0, 0, "not before the commit");
    quota.synced(grant, later, QuotaFigures::default());
    assert_eq!(quota.holding().0, 8);
    let now = at("2026-11-10T00:00:00Z");
    assert_eq!(quota.take(&key("a"), now, true, false), Take::Token);
    let shrink = quota.rebalance(quota.mark(), |pending, _| {
        assert_eq!(pending, 1);
        2
    });
    assert_eq!(
        (shrink.reserved, shrink.grant),
        (3, 0),
        "2 tokens and 1 pending"
    );
    assert_eq!(
        quota.holding(),
        (2, 1),
        "taken away before the store is told"
    );
}

#[test]
fn an_admission_settled_while_the_store_is_counted_still_counts_as_pending() {
    // A sync marks, counts the store's recordings, then rebalances. An admission written
    // between the count and the rebalance is in neither the count nor `pending`: without
    // the mark it would be counted by nobody and its slot handed out twice.
    let now = at("2026-11-10T00:00:00Z");
    let quota = synced(spec(Some(10), None, QuotaMode::Enforce), 0, 0.0, now);
    assert_eq!(quota.take(&key("a"), now, true, false), Take::Token);
    let mark = quota.mark();
    // ...the store is counted here: "a" is not written yet, so the count says 0...
    quota.settle();
    let plan = quota.rebalance(mark, |pending, _| {
        assert_eq!(pending, 1, "settled after the mark: still counted");
        lease::tokens_wanted(10, 0, &[], pending, 0)
    });
    assert_eq!(
        plan.reserved, 10,
        "9 tokens and the one admission: never 11"
    );
    // The next sync's count has it: it is counted once.
    let plan = quota.rebalance(quota.mark(), |pending, _| {
        assert_eq!(pending, 0);
        9
    });
    assert_eq!(plan.reserved, 9);
}

#[test]
fn explain_words_name_the_quota_and_its_figures() {
    let now = at("2026-11-10T00:00:00Z");
    let full = synced(
        spec(Some(200), Some(5000.0), QuotaMode::Enforce),
        200,
        7200.0,
        now,
    );
    assert_eq!(
        full.describe(now),
        "quota courses full: 200/200 active, 2.0/5000 hours this month"
    );
    let open = synced(spec(Some(200), None, QuotaMode::Enforce), 12, 0.0, now);
    assert_eq!(open.describe(now), "quota courses: 12/200 active");
}
