//! Prints a generated config: `cargo run --example gen_rules -- COUNT [exact|glob|regex|mixed]`.
//! Used by `bench/load.sh` for its 10,000-rule config.

#[path = "../benches/support/generate.rs"]
mod generate;

fn main() {
    let mut args = std::env::args().skip(1);
    let count = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let shape = args
        .next()
        .and_then(|s| generate::Shape::parse(&s))
        .unwrap_or(generate::Shape::Mixed);
    print!("{}", generate::config_text(count, shape));
}
