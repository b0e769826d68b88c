//! Request ids without a system call per request: UUID-shaped values from a per-process
//! random seed and a counter, mixed so that consecutive ids do not look alike.

use axum::http::{HeaderName, HeaderValue, Request};
use std::sync::atomic::{AtomicU64, Ordering};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header that carries a request's id, kept when the client sent one.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Makes `x-request-id` values for requests that arrive without one.
#[derive(Debug, Clone)]
pub struct MakeFastRequestId {
    seed: u64,
    counter: std::sync::Arc<AtomicU64>,
}

impl Default for MakeFastRequestId {
    fn default() -> MakeFastRequestId {
        // One read of the OS generator per server, not per request.
        MakeFastRequestId {
            seed: uuid::Uuid::new_v4().as_u64_pair().0,
            counter: std::sync::Arc::new(AtomicU64::new(0)),
        }
    }
}

/// SplitMix64: a bijective mix, so distinct counters give distinct ids.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl MakeFastRequestId {
    /// The next id.
    pub fn next_id(&self) -> Option<HeaderValue> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let high = mix(self.seed ^ n);
        let low = mix(high ^ n.rotate_left(32));
        let id = uuid::Builder::from_random_bytes(
            (u128::from(high) << 64 | u128::from(low)).to_be_bytes(),
        )
        .into_uuid();
        let mut buffer = uuid::Uuid::encode_buffer();
        let text = id.hyphenated().encode_lower(&mut buffer);
        HeaderValue::from_str(text).ok()
    }
}

impl MakeRequestId for MakeFastRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        self.next_id().map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_shaped_and_distinct() {
        let mut make = MakeFastRequestId::default();
        let request = Request::new(());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = make.make_request_id(&request).expect("an id");
            let text = id.header_value().to_str().expect("ascii").to_owned();
            assert_eq!(text.len(), 36, "UUID shape: {text}");
            assert!(seen.insert(text), "ids never repeat");
        }
    }
}
