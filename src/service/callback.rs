//! What a recording callback does, free of HTTP: check the signature as the config asks,
//! decide with `crate::verdict::decide`, count the hit and log the decision.
//!
//! The HTTP layer hands over the few header values it needs as bytes and sends back the
//! prepared body or the refusal; both HTTP paths (inline and through the router) call
//! `answer`, so they cannot drift apart.

use super::AppState;
use crate::auth::signature::{Failure, Mode, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier};
use crate::ledger::live::Settle;
use crate::ledger::{self, RecordingKey};
use crate::query::Query;
use crate::quota::QuotaGate;
use crate::telemetry::metrics::{ReasonLabels, RuleLabels};
use crate::verdict::{self, DecidedBy, Gate, Unlimited};
use bytes::Bytes;
use jiff::Timestamp;
use std::sync::Arc;
use std::time::Instant;

/// The header naming the host a signature may be checked against.
const HOST_HEADER: &str = "host";

/// The log target of the callback's lines, kept from when they were written by the HTTP
/// layer, so that `RUST_LOG` filters and log queries written for it keep working.
pub const LOG_TARGET: &str = "recgate::http::callback";

/// A request's headers, read by name only when a check needs them: most deployments
/// verify no signature, and their callbacks then look up no header at all.
pub trait Headers {
    /// The value of header `name` (lower case), as bytes.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

/// Checks a platform signature, in `headers`, of `signed_domain` at `now`, as `verifier`
/// says: a failure is counted and logged (naming `what` was signed) and, under `enforce`,
/// returned. One check for the callback and the lifecycle events alike.
pub fn check_signature(
    state: &AppState,
    verifier: &Verifier,
    headers: &dyn Headers,
    signed_domain: Option<&[u8]>,
    what: &'static str,
    now: Timestamp,
) -> Result<(), Failure> {
    let Err(failure) = verifier.verify(
        signed_domain,
        headers.get(TIMESTAMP_HEADER),
        headers.get(SIGNATURE_HEADER),
        now.as_second(),
    ) else {
        return Ok(());
    };
    state
        .metrics()
        .signature_failures
        .get_or_create(&ReasonLabels {
            reason: failure.code(),
        })
        .inc();
    tracing::warn!(
        target: LOG_TARGET,
        reason = failure.code(),
        mode = verifier.mode.as_str(),
        "{what} signature did not verify"
    );
    match verifier.mode {
        Mode::Enforce => Err(failure),
        _ => Ok(()),
    }
}

/// The parts of one callback request that decide its answer.
#[derive(Clone, Copy)]
pub struct CallbackRequest<'a> {
    /// The raw query string, still percent-encoded.
    pub query: &'a str,
    /// Its headers: `Host`, `ALI-LIVE-TIMESTAMP` and `ALI-LIVE-SIGNATURE` for signatures.
    pub headers: &'a dyn Headers,
    /// The request id, for the log line.
    pub request_id: &'a str,
    /// When the request was taken up, for the logged latency.
    pub started: Instant,
}

/// The body of the answer to `request` arriving at `now`: the prepared decision of the
/// override, rule or default that decides, or the signature failure when `[auth]`
/// enforces signatures and this one does not verify. Counts and logs the decision.
pub fn answer(
    state: &AppState,
    request: &CallbackRequest<'_>,
    now: Timestamp,
) -> Result<Bytes, Failure> {
    let live = state.live();
    if let Some(verifier) = &live.auth {
        let host = request.headers.get(HOST_HEADER);
        check_signature(state, verifier, request.headers, host, "callback", now)?;
    }
    let query = Query::parse(request.query);
    let overrides = state.overrides();
    let snapshot = overrides.any().then(|| overrides.snapshot());
    let snapshot = snapshot.as_ref().map(|set| &***set);
    let ledger = state.ledger();
    // With quotas, the stream's key and a room in the ledger's queue come first: a slot
    // is only handed to a decision the ledger will write.
    let quota_key = live
        .rule_set
        .has_quotas()
        .then(|| RecordingKey::of_query(&query));
    let room = quota_key.as_ref().and_then(|key| ledger.room(key));
    let gate = quota_key
        .as_ref()
        .map(|key| QuotaGate::new(&live.quotas, key, room.is_some()));
    let gate_ref: &dyn Gate = match &gate {
        Some(gate) => gate,
        None => &Unlimited,
    };
    let verdict = verdict::decide(&live.rule_set, snapshot, &query, now, gate_ref);
    let taken = gate
        .as_ref()
        .and_then(QuotaGate::taken)
        .map(|(quota, token)| (Arc::clone(quota), token));
    let now_ms = u64::try_from(now.as_millisecond()).unwrap_or_default();
    match verdict.by {
        DecidedBy::Override(item) => {
            state.override_counter(item.decision.record()).inc();
        }
        DecidedBy::Rule(..) | DecidedBy::Default => {
            let index = verdict.rule_index();
            if let Some(counter) = live.counter(index) {
                counter.inc();
            }
            live.touch(index, now_ms);
        }
    }
    // Written after the answer, never waited on: a lost one is recreated by the stream's
    // first lifecycle event.
    if verdict.decision.record() && ledger.is_on() {
        let key = quota_key.unwrap_or_else(|| RecordingKey::of_query(&query));
        if let Some(mut recording) =
            ledger::decided(key, verdict.rule_name(), verdict.decision, now)
        {
            recording.quota = taken.as_ref().map(|(quota, _)| quota.spec().name.clone());
            let settle = taken
                .filter(|(_, token)| *token)
                .map(|(quota, _)| quota as Arc<dyn Settle>);
            match room {
                Some(room) => ledger.record_in(room, recording, settle),
                None => ledger.record_decision(recording),
            }
        }
    }
    if let Some((index, shadow)) = verdict.shadow {
        state
            .metrics()
            .shadow_matches
            .get_or_create(&RuleLabels {
                rule: shadow.name.clone(),
            })
            .inc();
        live.touch(Some(index), now_ms);
    }
    tracing::info!(
        target: LOG_TARGET,
        request_id = request.request_id,
        domain = query.domain.as_str(),
        app = query.app.as_str(),
        stream = query.stream.as_str(),
        codec = %query.codec,
        vbitrate = query.vbitrate,
        rule = verdict.rule_name(),
        override_key = verdict.by_override().map(|o| tracing::field::display(&o.key)),
        shadow_rule = verdict.shadow_name(),
        need_record = verdict.decision.record(),
        latency_us = request.started.elapsed().as_micros() as u64,
        "callback"
    );
    Ok(verdict.decision.body().clone())
}
