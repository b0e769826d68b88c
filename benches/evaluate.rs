//! Decision cost by rule count and pattern kind, indexed and (for scale) linear.
#![allow(clippy::expect_used)]

mod support;

use axum::body::Body;
use axum::extract::Request;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use hyper::service::Service;
use jiff::Timestamp;
use recgate::config::Config;
use recgate::decision::Decision;
use recgate::http::{Edge, router};
use recgate::ledger::RecordingKey;
use recgate::overrides::{Override, OverrideKey, OverrideSet};
use recgate::query::Query;
use recgate::quota::{Quota, QuotaFigures, QuotaGate, QuotaMode, QuotaSpec};
use recgate::rules::RuleSet;
use recgate::service::AppState;
use recgate::verdict::{Unlimited, decide};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::generate::{Shape, config_text, query_for, query_missing};
use tokio::sync::Notify;
use tower::ServiceExt;

fn rule_set(n: usize, shape: Shape) -> RuleSet {
    Config::from_str(&config_text(n, shape), Path::new("bench.toml"))
        .expect("generated config is valid")
        .rules
}

fn evaluate(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let sizes: &[(Shape, &str, &[usize])] = &[
        (Shape::Exact, "exact", &[10, 1_000, 100_000]),
        (Shape::Glob, "glob", &[10, 1_000, 100_000]),
        (Shape::Regex, "regex", &[10, 1_000, 10_000]),
        (Shape::Mixed, "mixed", &[10, 1_000, 100_000]),
    ];
    for &(shape, name, counts) in sizes {
        for &n in counts {
            let rules = rule_set(n, shape);
            // The last rule: a scan would have to pass every other one.
            let hit = Query::parse(&query_for(n - 1, shape));
            let miss = Query::parse(&query_missing());
            let now = Timestamp::now();
            assert_eq!(
                decide(&rules, None, &hit, now, &Unlimited).rule_name(),
                format!("rule-{}", n - 1),
                "the benchmark query hits the last rule"
            );
            group.bench_with_input(BenchmarkId::new(format!("{name}/hit"), n), &hit, |b, q| {
                b.iter(|| {
                    black_box(decide(&rules, None, black_box(q), now, &Unlimited).rule_index())
                })
            });
            group.bench_with_input(
                BenchmarkId::new(format!("{name}/miss"), n),
                &miss,
                |b, q| {
                    b.iter(|| {
                        black_box(decide(&rules, None, black_box(q), now, &Unlimited).rule_index())
                    })
                },
            );
            if n <= 1_000 || shape == Shape::Exact {
                group.bench_with_input(
                    BenchmarkId::new(format!("{name}/linear-hit"), n),
                    &hit,
                    |b, q| b.iter(|| black_box(rules.first_match_linear(black_box(q), now))),
                );
            }
        }
    }
    group.finish();
}

fn parse_query(c: &mut Criterion) {
    let raw = "domain=live.example.com&app=edu&stream=course-7&codec=h265&vbitrate=2500";
    c.bench_function("query/parse", |b| b.iter(|| Query::parse(black_box(raw))));
}

/// The override lookup every callback makes before the rules: with none stored (the
/// common case), and a hit and a miss among 1,000 and 100,000.
fn overrides(c: &mut Criterion) {
    let mut group = c.benchmark_group("overrides");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let now = Timestamp::now();
    for n in [0usize, 1_000, 100_000] {
        let set = OverrideSet::new((0..n).map(|i| {
            let key = OverrideKey {
                domain: String::new(),
                app: if i % 2 == 0 {
                    "live".into()
                } else {
                    String::new()
                },
                stream: format!("stream-{i}"),
            };
            Override::new(key, Decision::plain(i % 3 == 0), None, now, None)
        }));
        let hit = Query::parse(&format!("app=live&stream=stream-{}", n.saturating_sub(2)));
        let miss = Query::parse("app=live&stream=nobody");
        group.bench_with_input(BenchmarkId::new("hit", n), &hit, |b, q| {
            b.iter(|| black_box(set.find(black_box(q), now).is_some()))
        });
        group.bench_with_input(BenchmarkId::new("miss", n), &miss, |b, q| {
            b.iter(|| black_box(set.find(black_box(q), now).is_some()))
        });
    }
    group.finish();
}

/// A whole callback as the server answers it, short of the socket and hyper's parsing:
/// `inline` (what a connection runs) and `stack` (the same request through the tower
/// middleware, as every other request goes): 10,000 mixed rules, a request for rule 4,999.
fn callback(c: &mut Criterion) {
    let config = Config::from_str(&config_text(10_000, Shape::Mixed), Path::new("bench.toml"))
        .expect("generated config is valid");
    let state = AppState::new(config.rules, None, config.source);
    let stack = router(state.clone(), "/", Duration::from_secs(10));
    let edge = Edge::with_callback(stack.clone(), "/", state);
    let uri = format!("/?{}", query_for(4_999, Shape::Mixed));
    let request = || {
        Request::builder()
            .uri(uri.as_str())
            .body(Body::empty())
            .expect("valid request")
    };
    let mut group = c.benchmark_group("callback");
    group.bench_function("stack", |b| {
        b.iter(|| {
            let response = stack
                .clone()
                .oneshot(request())
                .now_or_never()
                .expect("the callback answers at once")
                .expect("infallible");
            black_box(response.status())
        })
    });
    group.bench_function("inline", |b| {
        b.iter(|| {
            let response = edge
                .call(request())
                .now_or_never()
                .expect("the callback answers at once")
                .expect("infallible");
            black_box(response.status())
        })
    });
    group.finish();
}

/// What a quota adds to deciding one callback: 10,000 mixed rules, the deciding rule
/// (4,999) with and without a quota. With it, each iteration is a new stream's whole
/// quota path: its key, the slot taken, and (as the ledger and the end of the stream
/// would) the slot settled and freed again.
fn quota(c: &mut Criterion) {
    let config = Config::from_str(&config_text(10_000, Shape::Mixed), Path::new("bench.toml"))
        .expect("generated config is valid");
    let plain = config.rules;
    let mut rules = plain.rules().to_vec();
    rules[4_999].quota = Some(0);
    let capped = RuleSet::new(rules, plain.default_decision().clone());
    let spec = QuotaSpec {
        name: "premium".into(),
        max_active: Some(u64::MAX / 2),
        monthly_hours: Some(1.0e9),
        timezone: jiff::tz::TimeZone::UTC,
        timezone_name: "UTC".into(),
        mode: QuotaMode::Enforce,
    };
    let quota = Arc::new(Quota::new(spec, Arc::new(Notify::new())));
    let plan = quota.rebalance(quota.mark(), |_, _| u64::MAX / 4);
    let far = Instant::now() + Duration::from_secs(3600);
    quota.synced(plan, far, QuotaFigures::default());
    let quotas = [Arc::clone(&quota)];
    let query = Query::parse(&query_for(4_999, Shape::Mixed));
    let now = Timestamp::now();
    let mut group = c.benchmark_group("quota");
    group.bench_function("without", |b| {
        b.iter(|| black_box(decide(&plain, None, black_box(&query), now, &Unlimited).rule_index()))
    });
    group.bench_function("with", |b| {
        b.iter(|| {
            let key = RecordingKey::of_query(black_box(&query));
            let gate = QuotaGate::new(&quotas, &key, true);
            let index = decide(&capped, None, &query, now, &gate).rule_index();
            assert!(gate.taken().is_some_and(|(_, token)| token), "a slot taken");
            quota.settle();
            quota.release(&key);
            black_box(index)
        })
    });
    group.finish();
}

criterion_group!(benches, evaluate, parse_query, overrides, callback, quota);
criterion_main!(benches);
