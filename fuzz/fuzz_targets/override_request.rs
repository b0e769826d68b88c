//! The admin API's override body: any bytes a client sends to `PUT /overrides`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recgate::overrides::{OverrideRequest, OverrideView};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<OverrideRequest>(data) else {
        return;
    };
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    match request.into_override(now) {
        Ok(item) => {
            // An accepted override answers valid JSON and shows as valid JSON.
            assert!(serde_json::from_slice::<serde_json::Value>(item.decision.body()).is_ok());
            let view = serde_json::to_string(&OverrideView::from(&item));
            assert!(view.is_ok());
            assert!(!item.key.stream.is_empty());
        }
        Err(problems) => assert!(!problems.is_empty(), "a refusal names a field"),
    }
});
