//! The query parser takes any bytes the network sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recgate::query::Query;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let query = Query::parse(&raw);
    assert_eq!(query, Query::parse(&raw), "parsing is deterministic");
});
