//! Logging setup: `RUST_LOG` wins, `info` otherwise; human-readable text or JSON lines.
//!
//! Lines are formatted where they happen (`lines`: the stock text or JSON format, written
//! without `core::fmt` where it can be) and written by a thread of their own (`sink`), in
//! 64 KiB batches or every 100 ms: the callback never waits for standard output (a pipe to
//! a slow log collector, say). Past `LOG_BUFFER_LINES` waiting (`--log-buffer-lines`), new
//! lines are dropped and counted (`recgate_log_lines_dropped_total`) rather than slow the
//! answers.

use super::lines::Lines;
use super::sink::{LogSink, SinkGuard};
use clap::ValueEnum;
use std::io::IsTerminal;
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;

/// Log lines that may wait for the writer thread before new ones are dropped, unless
/// `--log-buffer-lines` says otherwise.
pub const LOG_BUFFER_LINES: usize = 65_536;

/// The installed log writer, for its count of dropped lines.
static SINK: OnceLock<LogSink> = OnceLock::new();

/// Log lines dropped so far because standard output did not keep up.
pub fn dropped_lines() -> u64 {
    SINK.get().map_or(0, LogSink::dropped_lines)
}

/// Writes the lines still waiting when dropped: keep it until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<SinkGuard>,
}

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber, writing to standard output through a writer thread.
pub fn init(format: LogFormat, buffer_lines: usize) -> LogGuard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let ansi = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (sink, guard) = match LogSink::start(std::io::stdout(), buffer_lines, "recgate-log") {
        Ok(started) => started,
        Err(error) => {
            eprintln!("recgate: cannot start the log writer ({error}); logging to standard error");
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
            return LogGuard { _writer: None };
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(sink.clone());
    let installed = match format {
        LogFormat::Text => builder.event_format(Lines::text()).try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(Lines::json())
            .try_init(),
    };
    // A second init keeps the first subscriber and its writer.
    match installed {
        Ok(()) => {
            let _ = SINK.set(sink);
            LogGuard {
                _writer: Some(guard),
            }
        }
        Err(_) => LogGuard { _writer: None },
    }
}
