//! Operators' endpoints: Prometheus metrics, the live rule set and explain as JSON, and the
//! bearer-token check in front of them.

use super::error::ApiError;
use crate::decision::{Decision, Format, Interval};
use crate::overrides::{OverrideView, raw_json};
use crate::query::Query;
use crate::quota::QuotaPeek;
use crate::rules::{Check, Pattern, Rule};
use crate::service::AppState;
use crate::telemetry::exposition::Exposition;
use crate::verdict;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// SECURITY: lets a request through only with `Authorization: Bearer <[admin] token>`,
/// when the config sets a token.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = state.live().admin_token.as_ref().is_none_or(|token| {
        token.verify(
            request
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes()),
        )
    });
    if allowed {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// `GET /metrics`: OpenMetrics to a scraper that asks for it, else the Prometheus text
/// format (0.0.4).
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Exposition::negotiate(accept);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::VARY, HeaderValue::from_static("accept")),
        ],
        state.metrics().render_as(format),
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
    mode: &'static str,
    schedule: Option<String>,
    /// The quota it counts toward, if any.
    quota: Option<String>,
    hits: u64,
    last_hit: Option<String>,
}

#[derive(Serialize)]
struct DefaultView {
    decision: DecisionView,
    hits: u64,
    last_hit: Option<String>,
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
            record: decision.record(),
            formats: decision.formats().map(<[Format]>::to_vec),
            interval: decision.interval().copied(),
        }
    }
}

fn pattern_view(pattern: &Pattern) -> Option<PatternView> {
    pattern.source().map(|source| PatternView {
        kind: pattern.kind(),
        pattern: source,
    })
}

fn rule_view(rule: &Rule, quota: Option<String>, hits: u64, last_hit_ms: u64) -> RuleView {
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
        decision: DecisionView::from(&rule.decision),
        mode: if rule.shadow { "shadow" } else { "live" },
        schedule: rule.schedule.as_ref().map(ToString::to_string),
        quota,
        hits,
        last_hit: timestamp(last_hit_ms),
    }
}

/// RFC 3339 for a Unix time in milliseconds; `None` for 0 (never).
fn timestamp(unix_ms: u64) -> Option<String> {
    let ms = i64::try_from(unix_ms).ok().filter(|ms| *ms > 0)?;
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_string())
}

/// `GET /rules`: the loaded rule set, its source file and per-rule hit counts.
pub async fn rules(State(state): State<AppState>) -> Json<impl Serialize> {
    let live = state.live();
    Json(RulesView {
        config: SourceView {
            path: live.source.path.display().to_string(),
            sha256: live.source.sha256.clone(),
            loaded_at: live.source.loaded_at.to_string(),
        },
        rules: live
            .rule_set
            .rules()
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let quota = rule
                    .quota
                    .and_then(|q| live.quotas.get(q))
                    .map(|q| q.spec().name.clone());
                rule_view(
                    rule,
                    quota,
                    live.hits(Some(index)),
                    live.last_hit(Some(index)),
                )
            })
            .collect(),
        default: DefaultView {
            decision: DecisionView::from(live.rule_set.default_decision()),
            hits: live.hits(None),
            last_hit: timestamp(live.last_hit(None)),
        },
    })
}

#[derive(Serialize)]
struct ExplainView<'a> {
    response: Option<Box<serde_json::value::RawValue>>,
    rule: &'a str,
    /// The override that decided, when one did; the steps then tell what the rules alone
    /// would have answered.
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    by_override: Option<OverrideView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    overridden_rule: Option<&'a str>,
    shadow: Option<&'a str>,
    query: QueryView<'a>,
    steps: Vec<StepView<'a>>,
}

#[derive(Serialize)]
struct QueryView<'a> {
    domain: &'a str,
    app: &'a str,
    stream: &'a str,
    codec: &'a str,
    vbitrate: Option<u64>,
}

#[derive(Serialize)]
struct StepView<'a> {
    rule: &'a str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wanted: Option<String>,
    /// The rule's quota check with its figures, when it names a quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    quota: Option<String>,
}

/// `GET /explain?<callback query>`: the answer and every rule's reason, as JSON. Only on
/// the admin listener: the public callback never explains.
pub async fn explain(State(state): State<AppState>, uri: Uri) -> Response {
    let query = Query::parse(uri.query().unwrap_or_default());
    let live = state.live();
    let overrides = state.overrides().snapshot();
    let explained = verdict::explain(
        &live.rule_set,
        Some(&overrides),
        &query,
        jiff::Timestamp::now(),
        &QuotaPeek::new(&live.quotas),
    );
    let (verdict, by_rules) = (&explained.verdict, &explained.by_rules);
    let by_override = verdict.by_override();
    let view = ExplainView {
        response: raw_json(verdict.decision.body()),
        rule: verdict.rule_name(),
        by_override: by_override.map(OverrideView::from),
        overridden_rule: by_override.map(|_| by_rules.rule_name()),
        shadow: by_rules.shadow_name(),
        query: QueryView {
            domain: &query.domain,
            app: &query.app,
            stream: &query.stream,
            codec: query.codec.as_str(),
            vbitrate: query.vbitrate,
        },
        steps: explained
            .steps
            .iter()
            .map(|step| {
                let mismatch = match &step.check {
                    Check::NoMatch(m) => Some(m),
                    _ => None,
                };
                StepView {
                    rule: &step.rule.name,
                    outcome: step.check.code(),
                    field: mismatch.map(|m| m.field),
                    value: mismatch.map(|m| m.value.clone()),
                    wanted: mismatch.map(|m| m.wanted.clone()),
                    quota: match &step.check {
                        Check::QuotaFull(why) => Some(why.clone()),
                        _ => step.quota.clone(),
                    },
                }
            })
            .collect(),
    };
    Json(view).into_response()
}
