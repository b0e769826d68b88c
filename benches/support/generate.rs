//! Generated rule sets for benchmarks and load tests: one rule per customer channel, as
//! operators with thousands of rules write them.

/// The shape of the generated rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub enum Shape {
    /// `stream = "ch-N"`: exact values only.
    Exact,
    /// `stream = "ch-N-*"`: prefix globs.
    Glob,
    /// `stream = "~^ch-N-[0-9]+$"`: regexes.
    Regex,
    /// Every third rule of each shape, with a domain per hundred rules.
    Mixed,
}

#[allow(dead_code)]
impl Shape {
    /// Reads `exact`, `glob`, `regex` or `mixed`.
    pub fn parse(name: &str) -> Option<Shape> {
        match name {
            "exact" => Some(Shape::Exact),
            "glob" => Some(Shape::Glob),
            "regex" => Some(Shape::Regex),
            "mixed" => Some(Shape::Mixed),
            _ => None,
        }
    }
}

fn shape_of(shape: Shape, i: usize) -> Shape {
    match (shape, i % 3) {
        (Shape::Mixed, 0) => Shape::Exact,
        (Shape::Mixed, 1) => Shape::Glob,
        (Shape::Mixed, _) => Shape::Regex,
        (shape, _) => shape,
    }
}

/// A config file with `n` rules of `shape`, then the default.
pub fn config_text(n: usize, shape: Shape) -> String {
    let mut text = String::with_capacity(n * 160 + 200);
    text.push_str("[server]\nlisten = \"127.0.0.1:8080\"\n\n[default]\nrecord = false\n");
    for i in 0..n {
        let stream = match shape_of(shape, i) {
            Shape::Exact => format!("ch-{i}"),
            Shape::Glob => format!("ch-{i}-*"),
            _ => format!("~^ch-{i}-[0-9]+$"),
        };
        text.push_str(&format!(
            "\n[[rule]]\nname = \"rule-{i}\"\ndomain = \"cust-{}.example.com\"\napp = \"live\"\nstream = \"{stream}\"\nrecord = true\nformats = [\"mp4\"]\ninterval = {{ mp4 = {} }}\n",
            i / 100,
            300 + i % 600
        ));
    }
    text
}

/// A query string that `config_text(n, shape)` answers with rule `i`.
pub fn query_for(i: usize, shape: Shape) -> String {
    let stream = match shape_of(shape, i) {
        Shape::Exact => format!("ch-{i}"),
        _ => format!("ch-{i}-42"),
    };
    format!(
        "domain=cust-{}.example.com&app=live&stream={stream}&codec=h264&vbitrate=2500",
        i / 100
    )
}

/// A query string no generated rule answers.
pub fn query_missing() -> String {
    "domain=nobody.example.com&app=live&stream=unknown-7&codec=h264&vbitrate=2500".to_owned()
}
