//! `GET /quotas`: each quota's figures, as this replica last read them from the store
//! (at most a sync interval ago).

use crate::quota::Quota;
use crate::service::AppState;
use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::Serialize;

/// The answer to `GET /quotas`.
#[derive(Debug, Serialize)]
pub struct QuotasView {
    quotas: Vec<QuotaView>,
}

/// One quota.
#[derive(Debug, Serialize)]
pub struct QuotaView {
    name: String,
    mode: &'static str,
    /// Recordings in progress counting toward it, across the fleet.
    active: u64,
    max_active: Option<u64>,
    /// Hours recorded in this month.
    hours_this_month: f64,
    monthly_hours: Option<f64>,
    /// Streams refused (in shadow mode: that would have been), across the fleet, since the
    /// quota was first seen under this name.
    refused: u64,
    /// Whether a new stream would get a slot on this replica now.
    admitting: bool,
    timezone: String,
    /// The month counted, from its first local midnight, with the zone's offset.
    month_start: String,
    /// When the figures were read; `null` before the first read.
    synced_at: Option<String>,
}

/// `GET /quotas`.
pub async fn quotas(State(state): State<AppState>) -> Json<QuotasView> {
    let now = Timestamp::now();
    let live = state.live();
    let quotas = live.quotas.iter().map(|q| view(q, now)).collect();
    Json(QuotasView { quotas })
}

fn view(quota: &Quota, now: Timestamp) -> QuotaView {
    let spec = quota.spec();
    let figures = quota.figures();
    let (month_start, _) = crate::quota::month::month_span(now, &spec.timezone);
    let offset = month_start
        .to_zoned_datetime(spec.timezone.clone())
        .offset();
    QuotaView {
        name: spec.name.clone(),
        mode: spec.mode.as_str(),
        active: figures.active,
        max_active: spec.max_active,
        hours_this_month: round(figures.seconds_at(now) / 3600.0),
        monthly_hours: spec.monthly_hours,
        refused: figures.refused.max(quota.refused_here()),
        admitting: quota.would_take(now),
        timezone: spec.timezone_name.clone(),
        month_start: month_start.display_with_offset(offset).to_string(),
        synced_at: figures.synced.map(|t| t.to_string()),
    }
}

/// Hours to the hundredth: the figure is for people.
fn round(hours: f64) -> f64 {
    (hours * 100.0).round() / 100.0
}
