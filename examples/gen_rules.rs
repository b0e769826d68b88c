//! Generated rule sets and matching queries, for `bench/load.sh` and manual tests:
//!
//! ```text
//! cargo run --example gen_rules -- config COUNT [exact|glob|regex|mixed]   # a config file
//! cargo run --example gen_rules -- query INDEX [exact|glob|regex|mixed]    # a query rule INDEX answers
//! cargo run --example gen_rules -- miss                                    # a query no rule answers
//! ```

#[path = "../benches/support/generate.rs"]
mod generate;

use generate::Shape;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|n| n.parse().ok());
    let shape = args
        .get(2)
        .and_then(|s| Shape::parse(s))
        .unwrap_or(Shape::Mixed);
    match args.first().map(String::as_str) {
        Some("config") => print!(
            "{}",
            generate::config_text(number(1).unwrap_or(10_000), shape)
        ),
        Some("query") => println!("{}", generate::query_for(number(1).unwrap_or(0), shape)),
        Some("miss") => println!("{}", generate::query_missing()),
        _ => {
            eprintln!("usage: gen_rules config COUNT [SHAPE] | query INDEX [SHAPE] | miss");
            std::process::exit(2);
        }
    }
}
