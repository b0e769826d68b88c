//! Operators' endpoints: Prometheus metrics and the live rule set as JSON.

use crate::decision::{Decision, Format, Interval};
use crate::metrics::CONTENT_TYPE;
use crate::rules::{Pattern, Rule};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `GET /metrics`: the Prometheus (OpenMetrics) text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        state.metrics().render(),
    )
        .into_response()
}

#[derive(Serialize)]
struct RulesView {
    config: SourceView,
    rules: Vec<RuleView>,
    default: DefaultView,
}

#[derive(Serialize)]
struct SourceView {
    path: String,
    sha256: String,
    loaded_at: String,
}

#[derive(Serialize)]
struct RuleView {
    name: String,
    domain: Option<PatternView>,
    app: Option<PatternView>,
    stream: Option<PatternView>,
    codec: Option<Vec<String>>,
    vbitrate: Option<BitrateView>,
    decision: DecisionView,
    hits: u64,
}

#[derive(Serialize)]
struct DefaultView {
    decision: DecisionView,
    hits: u64,
}

#[derive(Serialize)]
struct PatternView {
    kind: &'static str,
    pattern: String,
}

#[derive(Serialize)]
struct BitrateView {
    min: Option<u64>,
    max: Option<u64>,
}

#[derive(Serialize)]
struct DecisionView {
    record: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    formats: Option<Vec<Format>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<Interval>,
}

impl From<&Decision> for DecisionView {
    fn from(decision: &Decision) -> DecisionView {
        DecisionView {
            record: decision.record,
            formats: decision.formats.clone(),
            interval: decision.interval,
        }
    }
}

fn pattern_view(pattern: &Pattern) -> Option<PatternView> {
    pattern.source().map(|source| PatternView {
        kind: pattern.kind(),
        pattern: source,
    })
}

fn rule_view(rule: &Rule, hits: u64) -> RuleView {
    RuleView {
        name: rule.name.clone(),
        domain: pattern_view(&rule.domain),
        app: pattern_view(&rule.app),
        stream: pattern_view(&rule.stream),
        codec: rule
            .codecs
            .as_ref()
            .map(|list| list.iter().map(|c| c.as_str().to_owned()).collect()),
        vbitrate: rule.vbitrate.is_bounded().then_some(BitrateView {
            min: rule.vbitrate.min,
            max: rule.vbitrate.max,
        }),
        decision: DecisionView::from(&rule.answer.decision),
        hits,
    }
}

/// `GET /rules`: the loaded rule set, its source file and per-rule hit counts.
pub async fn rules(State(state): State<AppState>) -> Json<impl Serialize> {
    let live = state.rules();
    Json(RulesView {
        config: SourceView {
            path: live.source.path.display().to_string(),
            sha256: live.source.sha256.clone(),
            loaded_at: live.source.loaded_at.to_string(),
        },
        rules: live
            .rules
            .rules()
            .iter()
            .enumerate()
            .map(|(index, rule)| rule_view(rule, live.hits(Some(index))))
            .collect(),
        default: DefaultView {
            decision: DecisionView::from(&live.rules.default_answer().decision),
            hits: live.hits(None),
        },
    })
}
