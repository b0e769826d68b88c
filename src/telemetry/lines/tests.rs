//! `Lines` against the stock formatters: the same events, the same bytes (timestamps
//! aside), and the fast way taken wherever it is meant to be.

use super::*;
use std::io;
use std::sync::{Arc, Mutex};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Lines written by one fmt layer, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).expect("log lines are UTF-8")
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// For each event, whether the fast functions wrote it themselves.
#[derive(Clone, Default)]
struct Fast {
    json: bool,
    taken: Arc<Mutex<Vec<bool>>>,
}

impl<S: Subscriber> Layer<S> for Fast {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut line = String::new();
        let fast = match self.json {
            true => json_line(&mut line, event),
            false => text_line(&mut line, event),
        };
        if let Ok(mut taken) = self.taken.lock() {
            taken.push(fast);
        }
    }
}

/// The events a server writes, and the odd ones the fast way leaves to the stock one;
/// the `bool` says which way each is meant to take.
fn events() -> Vec<bool> {
    #[derive(Debug)]
    struct Shape {
        _x: u8,
    }
    let codec = "h265";
    let error = io::Error::other("disk full");
    tracing::info!(
        target: "recgate::http::callback",
        request_id = "5f0c7f3e-5b1c-4a57-9d3e-0b6a6f2f7c11",
        domain = "live.example.com",
        app = "edu",
        stream = "course-7",
        codec = %codec,
        vbitrate = 2500_u64,
        rule = "hevc-courses",
        need_record = true,
        latency_us = 14_u64,
        "callback"
    );
    tracing::info!(
        target: "recgate::http::callback",
        request_id = "",
        domain = "",
        app = "a \"quoted\" \\ app",
        stream = "<img src=x onerror=alert(1)>",
        codec = %"h264",
        rule = "caf\u{e9} \u{1F3A5}",
        need_record = false,
        latency_us = 0_u64,
        "callback"
    );
    tracing::info!(
        stream = "tab\there\nnewline\u{1b}[31m\u{7f}\u{85}",
        "control characters"
    );
    tracing::warn!(
        setting = "server.max_connections",
        "needs a restart to apply"
    );
    tracing::error!(
        count = -3_i64,
        shape = ?Shape { _x: 1 },
        maybe = Option::<&str>::None,
        "many kinds"
    );
    tracing::debug!("a bare message");
    tracing::trace!(n = 1_u64);
    tracing::info!(ratio = 0.5_f64, "a float");
    tracing::warn!(%error, "a displayed error");
    tracing::warn!(
        error = &error as &(dyn std::error::Error + 'static),
        "an error value"
    );
    tracing::info!(r#type = "raw", "a raw name");
    tracing::info!("a message with an escape \u{1b}[2J");
    tracing::info!(big = 1_u128 << 100, "wide");
    {
        let span = tracing::info_span!("request", id = 7_u64);
        let _in = span.enter();
        tracing::info!(inside = true, "in a span");
    }
    vec![
        true, true, true, true, true, true, true, false, true, false, true, false, false,
    ]
}

/// What `lines` and `stock` write for `events`, timestamps masked, and the ways taken.
fn both(json: bool) -> (String, String, Vec<bool>, Vec<bool>) {
    let (fast_out, stock_out) = (Captured::default(), Captured::default());
    let fast = Fast {
        json,
        ..Fast::default()
    };
    let lines = match json {
        true => Lines::json(),
        false => Lines::text(),
    };
    let expected = match json {
        true => {
            let fast_layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(fast_out.clone())
                .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                .event_format(lines);
            let stock_layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(stock_out.clone())
                .json()
                .flatten_event(true);
            let subscriber = tracing_subscriber::registry()
                .with(fast.clone())
                .with(fast_layer)
                .with(stock_layer)
                .with(tracing_subscriber::filter::LevelFilter::TRACE);
            tracing::subscriber::with_default(subscriber, events)
        }
        false => {
            let fast_layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(fast_out.clone())
                .event_format(lines);
            let stock_layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(stock_out.clone());
            let subscriber = tracing_subscriber::registry()
                .with(fast.clone())
                .with(fast_layer)
                .with(stock_layer)
                .with(tracing_subscriber::filter::LevelFilter::TRACE);
            tracing::subscriber::with_default(subscriber, events)
        }
    };
    let taken = fast.taken.lock().map(|t| t.clone()).unwrap_or_default();
    (
        mask(&fast_out.text()),
        mask(&stock_out.text()),
        taken,
        expected,
    )
}

fn mask(lines: &str) -> String {
    let stamp = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z").expect("a regex");
    stamp.replace_all(lines, "<time>").into_owned()
}

#[test]
fn text_lines_are_the_stock_text_format() {
    let (fast, stock, taken, expected) = both(false);
    assert_eq!(fast.lines().count(), 14, "{fast}");
    assert_eq!(fast, stock);
    assert!(
        fast.contains("<time>  INFO recgate::http::callback: callback request_id=\"5f0c7f3e"),
        "{fast}"
    );
    assert_eq!(&taken[..expected.len()], &expected[..], "{fast}");
}

#[test]
fn json_lines_are_the_stock_flattened_json() {
    let (fast, stock, taken, expected) = both(true);
    assert_eq!(fast.lines().count(), 14, "{fast}");
    assert_eq!(fast, stock);
    for line in fast.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }
    let mut expected = expected;
    // JSON writes control characters in strings as escapes of its own, and messages as
    // they are: both take the fast way.
    expected[2] = true;
    expected[11] = true;
    assert_eq!(&taken[..expected.len()], &expected[..], "{fast}");
}

#[test]
fn the_timestamp_is_the_stock_timers() {
    use tracing_subscriber::fmt::time::FormatTime;
    let mut stock = String::new();
    tracing_subscriber::fmt::time::SystemTime
        .format_time(&mut Writer::new(&mut stock))
        .expect("the stock time");
    let mut fast = String::new();
    assert!(timestamp(&mut fast));
    assert_eq!(fast.len(), stock.len(), "{fast} against {stock}");
    let parse = |text: &str| text.parse::<jiff::Timestamp>().expect("RFC 3339");
    let apart = parse(&fast).duration_since(parse(&stock)).as_secs_f64();
    assert!((0.0..1.0).contains(&apart), "{fast} against {stock}");

    let mut out = String::new();
    assert!(date_and_time(&mut out, 1_798_832_815));
    assert_eq!(out, "2027-01-01T19:46:55.");
    out.clear();
    assert!(date_and_time(&mut out, 0));
    assert_eq!(out, "1970-01-01T00:00:00.");
}

#[test]
fn json_strings_are_escaped_as_serde_json_escapes_them() {
    for text in [
        "",
        "plain",
        "q\"b\\s",
        "\u{0}\u{1f}\u{7f}\n\r\t\u{8}\u{c}",
        "é \u{1F3A5}",
    ] {
        let mut line = String::new();
        json_str(&mut line, text);
        assert_eq!(line, serde_json::to_string(text).expect("JSON"), "{text:?}");
    }
}
