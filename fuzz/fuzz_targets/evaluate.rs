//! Rules and queries together: the index always agrees with a plain scan in file order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recgate::config::Config;
use recgate::query::Query;
use std::path::Path;

// Splits the input into a small rule list (one pattern triple per line) and a query.
fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (rules, query) = text.split_once('\n').unwrap_or((&text, ""));
    let mut config = String::from("[default]\nrecord = false\n");
    for (i, fields) in rules.split(';').take(40).enumerate() {
        let mut parts = fields.splitn(3, ',');
        config.push_str(&format!("[[rule]]\nname = \"r{i}\"\nrecord = true\n"));
        for key in ["domain", "app", "stream"] {
            if let Some(value) = parts.next().filter(|v| !v.is_empty()) {
                config.push_str(&format!("{key} = {}\n", toml_string(value)));
            }
        }
    }
    let Ok(config) = Config::from_str(&config, Path::new("fuzz.toml")) else {
        return;
    };
    let query = Query::parse(query);
    let now = jiff::Timestamp::UNIX_EPOCH;
    assert_eq!(
        config.rules.first_match(&query, now),
        config.rules.first_match_linear(&query, now),
        "index and scan agree"
    );
});

fn toml_string(value: &str) -> String {
    let escaped: String = value
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => vec![],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}
