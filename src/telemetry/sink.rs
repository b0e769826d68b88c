//! Where log lines go: a shared buffer that a thread of its own writes to standard output
//! in batches.
//!
//! A line is copied into the buffer under a short lock and the callback goes on. The
//! writer thread is woken only when a batch of `LOG_BATCH_BYTES` is full, and otherwise
//! writes what is there every `LOG_FLUSH_INTERVAL` (as nginx's `access_log ... buffer=64k
//! flush=`): at a steady rate of callbacks it is not woken per line, so it neither costs a
//! wake-up per line nor takes the core from the callbacks each time. Past `limit` lines
//! waiting (a reader that stopped, say), new lines are dropped and counted, never waited
//! for. Lines keep the order in which they were written, across threads.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// A batch handed to the writer once it holds this many bytes: one `write(2)` each when
/// lines come fast.
pub const LOG_BATCH_BYTES: usize = 64 * 1024;

/// Longest a line waits in the buffer before the writer writes it.
pub const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// The log's writer, as the fmt layer sees it: each `write` is one whole line.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Lines that may wait before new ones are dropped.
    limit: usize,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    /// The batch being filled.
    current: Vec<u8>,
    /// Full batches, oldest first.
    full: VecDeque<Vec<u8>>,
    /// Lines in `current`.
    current_lines: usize,
    /// Lines in `full`.
    full_lines: usize,
    /// Written batches, kept for reuse.
    spare: Vec<Vec<u8>>,
    /// Set when the writer is told to write what is left and end.
    closed: bool,
}

/// Writes what is buffered and stops the writer thread when dropped.
pub struct SinkGuard {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

impl LogSink {
    /// A sink for `out`, written by a thread named `name`, holding at most `limit` lines.
    pub fn start(
        out: impl Write + Send + 'static,
        limit: usize,
        name: &str,
    ) -> io::Result<(LogSink, SinkGuard)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            limit: limit.max(1),
            dropped: AtomicU64::new(0),
        });
        let writing = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || writing.write_until_closed(out))?;
        let guard = SinkGuard {
            shared: Arc::clone(&shared),
            writer: Some(writer),
        };
        Ok((LogSink { shared }, guard))
    }

    /// Lines dropped so far because too many were waiting.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves nothing half-done that matters to a log.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, line: &[u8]) {
        let mut pending = self.lock();
        if pending.closed || pending.current_lines + pending.full_lines >= self.limit {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if pending.current.capacity() == 0 {
            let fresh = pending
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(LOG_BATCH_BYTES + 1024));
            pending.current = fresh;
        }
        pending.current.extend_from_slice(line);
        pending.current_lines += 1;
        if pending.current.len() >= LOG_BATCH_BYTES {
            let batch = std::mem::take(&mut pending.current);
            pending.full.push_back(batch);
            pending.full_lines += std::mem::take(&mut pending.current_lines);
            drop(pending);
            self.wake.notify_one();
        }
    }

    /// The writer thread: every full batch as it comes, the rest every
    /// `LOG_FLUSH_INTERVAL`, everything once closed.
    fn write_until_closed(&self, mut out: impl Write) {
        let mut batches = Vec::new();
        loop {
            let closed = {
                let mut pending = self.lock();
                if pending.full.is_empty() && !pending.closed {
                    pending = match self.wake.wait_timeout(pending, LOG_FLUSH_INTERVAL) {
                        Ok((pending, _)) => pending,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
                }
                // Woken for full batches, it leaves the one being filled to fill up; at a
                // tick or at the end, that one goes too.
                let tick = pending.full.is_empty();
                batches.extend(pending.full.drain(..));
                pending.full_lines = 0;
                if (tick || pending.closed) && !pending.current.is_empty() {
                    batches.push(std::mem::take(&mut pending.current));
                    pending.current_lines = 0;
                }
                pending.closed
            };
            for batch in &batches {
                // A log that cannot be written is not worth stopping the server for.
                let _ = out.write_all(batch);
            }
            let _ = out.flush();
            if closed {
                return;
            }
            let mut pending = self.lock();
            for mut batch in batches.drain(..) {
                if pending.spare.len() < 4 {
                    batch.clear();
                    pending.spare.push(batch);
                }
            }
        }
    }
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Write for &LogSink {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.shared.push(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = &'a LogSink;

    fn make_writer(&'a self) -> &'a LogSink {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Output that hands each write to the test, and can be held shut.
    struct Out {
        writes: mpsc::Sender<Vec<u8>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Out {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let _open = self.gate.lock();
            let _ = self.writes.send(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn sink(limit: usize) -> (LogSink, SinkGuard, mpsc::Receiver<Vec<u8>>, Arc<Mutex<()>>) {
        let (writes, written) = mpsc::channel();
        let gate = Arc::new(Mutex::new(()));
        let out = Out {
            writes,
            gate: Arc::clone(&gate),
        };
        let (sink, guard) = LogSink::start(out, limit, "test-log").expect("a writer thread");
        (sink, guard, written, gate)
    }

    fn line(n: usize) -> Vec<u8> {
        format!("line {n:06} {}\n", "x".repeat(100)).into_bytes()
    }

    #[test]
    fn every_line_is_written_in_order_and_in_few_writes() {
        let (sink, guard, written, _gate) = sink(1_000_000);
        let lines = 5_000;
        let started = std::time::Instant::now();
        for n in 0..lines {
            (&sink).write_all(&line(n)).expect("written");
        }
        // Each flush interval that passed may have written a part batch.
        let ticks = started.elapsed().as_millis() / LOG_FLUSH_INTERVAL.as_millis() + 1;
        drop(guard);
        let writes: Vec<Vec<u8>> = written.try_iter().collect();
        let all: Vec<u8> = writes.concat();
        let expected: Vec<u8> = (0..lines).flat_map(line).collect();
        assert_eq!(all, expected);
        let bytes = expected.len();
        let most = bytes / LOG_BATCH_BYTES + 1 + ticks as usize;
        assert!(
            writes.len() <= most,
            "{} writes for {bytes} bytes, at most {most}",
            writes.len()
        );
        assert_eq!(sink.dropped_lines(), 0);
    }

    #[test]
    fn a_line_is_written_within_the_flush_interval_when_no_more_come() {
        let (sink, _guard, written, _gate) = sink(100);
        (&sink).write_all(b"alone\n").expect("written");
        let write = written
            .recv_timeout(LOG_FLUSH_INTERVAL * 20)
            .expect("written without another line or the end");
        assert_eq!(write, b"alone\n");
    }

    #[test]
    fn lines_past_the_limit_are_dropped_and_counted_while_the_output_is_stuck() {
        let (sink, guard, written, gate) = sink(10);
        let shut = gate.lock().expect("the gate");
        (&sink).write_all(b"first\n").expect("written");
        // The writer takes the first line and waits at the gate.
        std::thread::sleep(LOG_FLUSH_INTERVAL * 3);
        for n in 0..100 {
            (&sink).write_all(&line(n)).expect("never waits");
        }
        assert_eq!(sink.dropped_lines(), 90, "ten wait, the rest are counted");
        drop(shut);
        drop(guard);
        let all: Vec<u8> = written.try_iter().collect::<Vec<_>>().concat();
        let expected: Vec<u8> = [b"first\n".to_vec()]
            .into_iter()
            .chain((0..10).map(line))
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(all, expected);
    }
}
