//! What the server tells its operators: log lines (`logs`) and Prometheus metrics
//! (`metrics`).

pub mod exposition;
mod lines;
mod logs;
pub mod metrics;
mod sink;

pub use logs::{DEFAULT_LOG_FILTER, LOG_BUFFER_LINES, LogFormat, LogGuard, dropped_lines, init};
pub use sink::{LOG_BATCH_BYTES, LOG_FLUSH_INTERVAL};
