//! Logging setup: `RUST_LOG` wins, `info` otherwise; human-readable text or JSON lines.
//!
//! Lines are formatted where they happen (`lines`: the stock text or JSON format, written
//! without `core::fmt` where it can be) and written by a thread of their own, in batches
//! when they come fast: the callback never waits for standard output (a pipe to a slow log
//! collector, say). Past `LOG_BUFFER_LINES` waiting (`--log-buffer-lines`), new lines are
//! dropped and counted (`recgate_log_lines_dropped_total`) rather than slow the answers.

use clap::ValueEnum;
use std::io::{BufWriter, IsTerminal};
use std::sync::OnceLock;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;

use super::lines::Lines;

/// Log lines that may wait for the writer thread before new ones are dropped, unless
/// `--log-buffer-lines` says otherwise.
pub const LOG_BUFFER_LINES: usize = 65_536;

/// Lines dropped because the writer thread was too far behind.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Log lines dropped so far because standard output did not keep up.
pub fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

/// Writes the lines still waiting when dropped: keep it until the process ends.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: Option<WorkerGuard>,
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
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(buffer_lines)
        .thread_name("recgate-log")
        .finish(BufWriter::new(std::io::stdout()));
    let dropped = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
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
            let _ = DROPPED.set(dropped);
            LogGuard {
                _writer: Some(guard),
            }
        }
        Err(_) => LogGuard { _writer: None },
    }
}
