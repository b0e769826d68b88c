//! The log line format: byte for byte what `tracing-subscriber`'s default text format
//! (`Full`) or its flattened JSON writes, at a fraction of the cost.
//!
//! Every callback writes a line, so the line's formatting is on the hot path of every
//! deployment that keeps the default log. The stock formatters go through `core::fmt`
//! for each piece (the timestamp's fields, the level's padding, every field name and
//! value) and, in text, through a no-op ANSI style per piece. `Lines` writes the same
//! bytes directly: the timestamp's date and time of day formatted once per second and
//! thread, numbers with `itoa`, strings copied when they need no escaping.
//!
//! It takes the fast way only where its output is known to be the stock one: no ANSI
//! colours, no span around the event, fields of the kinds it writes itself (strings,
//! integers, booleans, and anything else through its `Debug`), a message with no control
//! character, no `log.` or raw (`r#`) field name. Anything else is handed to the stock
//! formatter, and `tests` hold the two to the same bytes.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter of the log: text or flattened JSON.
pub struct Lines {
    json: bool,
    text_stock: Format<Full>,
    json_stock: Format<Json>,
}

impl Lines {
    /// Lines in the default text format.
    pub fn text() -> Lines {
        Lines::new(false)
    }

    /// One flattened JSON object per line.
    pub fn json() -> Lines {
        Lines::new(true)
    }

    fn new(json: bool) -> Lines {
        Lines {
            json,
            text_stock: Format::default(),
            json_stock: Format::default().json().flatten_event(true),
        }
    }
}

thread_local! {
    /// The line being formatted, reused from line to line.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    /// `YYYY-MM-DDTHH:MM:SS.` of the second last formatted on this thread.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let stock = |writer: Writer<'_>| match self.json {
            true => self.json_stock.format_event(ctx, writer, event),
            false => self.text_stock.format_event(ctx, writer, event),
        };
        if writer.has_ansi_escapes() || ctx.event_scope().is_some() {
            return stock(writer);
        }
        let written = LINE.try_with(|line| {
            let Ok(mut line) = line.try_borrow_mut() else {
                return None;
            };
            line.clear();
            let done = match self.json {
                true => json_line(&mut line, event),
                false => text_line(&mut line, event),
            };
            done.then(|| writer.write_str(&line))
        });
        match written {
            Ok(Some(result)) => result,
            _ => stock(writer),
        }
    }
}

/// The event as the stock text format writes it, or `false` where only the stock
/// formatter knows how.
fn text_line(line: &mut String, event: &Event<'_>) -> bool {
    let meta = event.metadata();
    if !timestamp(line) {
        return false;
    }
    line.push(' ');
    line.push_str(padded_level(meta.level()));
    line.push(' ');
    line.push_str(meta.target());
    line.push_str(": ");
    let mut fields = TextFields {
        line,
        first: true,
        stock_only: false,
    };
    event.record(&mut fields);
    if fields.stock_only {
        return false;
    }
    line.push('\n');
    true
}

/// The event as the stock flattened JSON writes it, or `false` where only the stock
/// formatter knows how.
fn json_line(line: &mut String, event: &Event<'_>) -> bool {
    let meta = event.metadata();
    line.push_str("{\"timestamp\":\"");
    if !timestamp(line) {
        return false;
    }
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push('"');
    let mut fields = JsonFields {
        line,
        stock_only: false,
    };
    event.record(&mut fields);
    if fields.stock_only {
        return false;
    }
    line.push_str(",\"target\":");
    json_str(line, meta.target());
    line.push_str("}\n");
    true
}

/// The level as the text format pads it.
fn padded_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// Appends the time now as the stock timer writes it: RFC 3339 in UTC with microseconds,
/// `2026-12-01T19:06:55.137930Z`.
fn timestamp(line: &mut String) -> bool {
    let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return false;
    };
    let second = since.as_secs();
    let prefixed = SECOND.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return false;
        };
        if cache.0 != second {
            cache.1.clear();
            if !date_and_time(&mut cache.1, second) {
                return false;
            }
            cache.0 = second;
        }
        line.push_str(&cache.1);
        true
    });
    if prefixed != Ok(true) {
        return false;
    }
    let micros = since.subsec_micros();
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(micros);
    for _ in digits.len()..6 {
        line.push('0');
    }
    line.push_str(digits);
    line.push('Z');
    true
}

/// `YYYY-MM-DDTHH:MM:SS.` of `second` since the epoch, for years 1970 to 9999.
fn date_and_time(out: &mut String, second: u64) -> bool {
    let Ok(second) = i64::try_from(second) else {
        return false;
    };
    let Ok(at) = jiff::Timestamp::from_second(second) else {
        return false;
    };
    let civil = jiff::tz::TimeZone::UTC.to_datetime(at);
    if civil.year() > 9999 {
        return false;
    }
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
        civil.year(),
        civil.month(),
        civil.day(),
        civil.hour(),
        civil.minute(),
        civil.second()
    )
    .is_ok()
}

/// Whether the stock formatter would write `text` as it is: no character its ANSI
/// sanitiser or `Debug` escapes.
fn plain(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// A field name the fast visitors write as the stock ones do.
fn ordinary(field: &Field) -> bool {
    let name = field.name();
    !name.starts_with("log.") && !name.starts_with("r#")
}

/// What both formats write alike: integers and booleans as they are, and the kinds only
/// the stock formatters write (wide integers, floats, errors) handed to them.
macro_rules! same_in_both_formats {
    () => {
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.number(field, value);
        }

        fn record_i64(&mut self, field: &Field, value: i64) {
            self.number(field, value);
        }

        fn record_bool(&mut self, field: &Field, value: bool) {
            if self.name(field) {
                self.line.push_str(if value { "true" } else { "false" });
            }
        }

        fn record_i128(&mut self, _: &Field, _: i128) {
            self.stock_only = true;
        }

        fn record_u128(&mut self, _: &Field, _: u128) {
            self.stock_only = true;
        }

        fn record_f64(&mut self, _: &Field, _: f64) {
            self.stock_only = true;
        }

        fn record_error(&mut self, _: &Field, _: &(dyn std::error::Error + 'static)) {
            self.stock_only = true;
        }
    };
}

/// The fields as `tracing-subscriber`'s `DefaultVisitor` writes them without ANSI.
struct TextFields<'a> {
    line: &'a mut String,
    first: bool,
    stock_only: bool,
}

impl TextFields<'_> {
    /// The separator and `name=`, or `false` (and the event to the stock formatter).
    fn name(&mut self, field: &Field) -> bool {
        if self.stock_only || !ordinary(field) {
            self.stock_only = true;
            return false;
        }
        self.pad();
        self.line.push_str(field.name());
        self.line.push('=');
        true
    }

    fn pad(&mut self) {
        if !self.first {
            self.line.push(' ');
        }
        self.first = false;
    }

    fn number(&mut self, field: &Field, value: impl itoa::Integer) {
        if self.name(field) {
            self.line.push_str(itoa::Buffer::new().format(value));
        }
    }
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            return self.record_debug(field, &format_args!("{value}"));
        }
        if !self.name(field) {
            return;
        }
        if plain(value) {
            self.line.push('"');
            self.line.push_str(value);
            self.line.push('"');
        } else if write!(self.line, "{value:?}").is_err() {
            self.stock_only = true;
        }
    }

    same_in_both_formats!();

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.stock_only {
            return;
        }
        if field.name() == "message" {
            self.pad();
            let start = self.line.len();
            let sanitised = write!(self.line, "{value:?}").is_ok()
                && self.line[start..]
                    .chars()
                    .all(|c| c >= ' ' && c != '\x7f' && !('\u{80}'..='\u{9f}').contains(&c));
            self.stock_only = !sanitised;
        } else if self.name(field) && write!(self.line, "{value:?}").is_err() {
            self.stock_only = true;
        }
    }
}

/// The fields as `tracing-serde`'s map visitor writes them, each after a comma.
struct JsonFields<'a> {
    line: &'a mut String,
    stock_only: bool,
}

impl JsonFields<'_> {
    /// `,"name":`, or `false` (and the event to the stock formatter).
    fn name(&mut self, field: &Field) -> bool {
        if self.stock_only || !ordinary(field) {
            self.stock_only = true;
            return false;
        }
        self.line.push(',');
        json_str(self.line, field.name());
        self.line.push(':');
        true
    }

    fn number(&mut self, field: &Field, value: impl itoa::Integer) {
        if self.name(field) {
            self.line.push_str(itoa::Buffer::new().format(value));
        }
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.name(field) {
            json_str(self.line, value);
        }
    }

    same_in_both_formats!();

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.name(field) {
            return;
        }
        let mut text = String::new();
        if write!(text, "{value:?}").is_err() {
            self.stock_only = true;
            return;
        }
        json_str(self.line, &text);
    }
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it.
fn json_str(line: &mut String, text: &str) {
    line.push('"');
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| c < ' ' || c == '"' || c == '\\') {
        line.push_str(&rest[..at]);
        let c = rest.as_bytes()[at];
        match c {
            b'"' => line.push_str("\\\""),
            b'\\' => line.push_str("\\\\"),
            b'\n' => line.push_str("\\n"),
            b'\r' => line.push_str("\\r"),
            b'\t' => line.push_str("\\t"),
            0x08 => line.push_str("\\b"),
            0x0c => line.push_str("\\f"),
            _ => {
                let _ = write!(line, "\\u{c:04x}");
            }
        }
        rest = &rest[at + 1..];
    }
    line.push_str(rest);
    line.push('"');
}

#[cfg(test)]
mod tests;
