//! The config compiler takes any text an operator writes: it answers a config or errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recgate::config::Config;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(error) = Config::from_str(text, Path::new("fuzz.toml")) {
            assert!(!error.lines().is_empty(), "a refusal always says why");
        }
    }
});
