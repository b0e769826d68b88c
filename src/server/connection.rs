//! One connection: plain callbacks answered straight from the socket, everything else by
//! hyper.
//!
//! The callback is nearly all of a public listener's traffic, and a plain one (`GET` of
//! the callback path over HTTP/1.1, no body) needs little of a general HTTP server. So a
//! connection starts here: request heads are parsed with `httparse` (hyper's own parser)
//! from one buffer, each plain callback is answered by `Edge::answer_raw` into one output
//! buffer, and the answers to every head read at once go out in one `write(2)`. The first
//! head that is anything else (another path or method, HTTP/1.0, a body, an upgrade, a
//! malformed or over-long head) hands the connection, with the bytes read and not yet
//! answered, to hyper, which serves it from then on exactly as it serves a connection
//! from the start. A callback that asks to close (`Connection: close`) is answered, and
//! the connection closed, as hyper would. `tests` hold the two ways to the same bytes.
//!
//! The limits are hyper's: a head must be complete within `header_read_timeout` of the
//! previous answer (or of the connection's start), which also closes idle keep-alive
//! connections; a head over `max_head_bytes` goes to hyper, which answers 431. On a
//! graceful stop, a connection ends once what it has read is answered.

use crate::config::Limits;
use crate::http::{App, Edge, MAX_RAW_HEADERS, RawAnswer};
use bytes::{Buf, Bytes, BytesMut};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use pin_project_lite::pin_project;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Bytes a connection's read buffer starts with: several callback heads.
const READ_BUFFER_BYTES: usize = 4096;

/// Serves `stream` with `service` until the client is done or `stopping` fires.
pub async fn serve<A: App>(
    mut stream: TcpStream,
    service: Edge<A>,
    limits: Limits,
    stopping: CancellationToken,
) {
    let mut read = BytesMut::with_capacity(READ_BUFFER_BYTES);
    if service.answers_callbacks() {
        match answer_plain_callbacks(&mut stream, &service, &mut read, limits, &stopping).await {
            Ok(Handed::ToHyper) => {}
            Ok(Handed::Nothing) | Err(_) => return,
        }
    }
    serve_with_hyper(stream, read, service, limits, stopping).await;
}

/// Serves the rest of `stream` with hyper, which reads `read` first.
async fn serve_with_hyper<A: App>(
    stream: TcpStream,
    read: BytesMut,
    service: Edge<A>,
    limits: Limits,
    stopping: CancellationToken,
) {
    let io = TokioIo::new(Rewind {
        read: read.freeze(),
        stream,
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // A client may send its request and shut down its write side at once (probes,
        // scripted clients): the request is still answered, as nginx does.
        .half_close(true)
        .max_buf_size(limits.max_head_bytes)
        // Head and a ~100-byte body go out in one buffer and one write(2); measured
        // 2-3% more callbacks per second than writev(2) of two pieces.
        .writev(false)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopping.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// What is left for hyper once the plain callbacks are answered.
enum Handed {
    /// The connection is over.
    Nothing,
    /// A head the edge does not answer itself: hyper takes the connection.
    ToHyper,
}

/// Answers plain callbacks until the connection ends or a head needs hyper; `read` then
/// holds what hyper is to read first.
async fn answer_plain_callbacks<A: App>(
    stream: &mut TcpStream,
    service: &Edge<A>,
    read: &mut BytesMut,
    limits: Limits,
    stopping: &CancellationToken,
) -> io::Result<Handed> {
    let mut out = Vec::with_capacity(1024);
    let timeout = limits.header_read_timeout;
    // The next head is due `header_read_timeout` after the last answer; a head read piece
    // by piece never moves its deadline. (Arming the timer only when it fired early, not
    // at every answer, measured 1.02x the CPU per request.)
    let timer = tokio::time::sleep(timeout);
    let mut timer = std::pin::pin!(timer);
    let stop = stopping.cancelled();
    let mut stop = std::pin::pin!(stop);
    loop {
        let mut answered = None;
        let next = loop {
            match answer_one(service, read, &mut out, limits.max_head_bytes) {
                Next::Answered(answer) if answer.close => break Next::Answered(answer),
                Next::Answered(answer) => answered = Some(answer.at),
                other => break other,
            }
        };
        if let Some(at) = answered {
            timer.as_mut().reset((at + timeout).into());
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if matches!(next, Next::Answered(_)) {
            // The client asked to close: what follows its request is not read, as hyper
            // does not read it.
            stream.shutdown().await?;
            return Ok(Handed::Nothing);
        }
        if matches!(next, Next::Other) || read.len() >= limits.max_head_bytes {
            return Ok(Handed::ToHyper);
        }
        tokio::select! {
            got = stream.read_buf(read) => match got? {
                // The client is done: what it sent is answered; a partial head left is
                // hyper's to refuse, as it would have.
                0 if read.is_empty() => return Ok(Handed::Nothing),
                0 => return Ok(Handed::ToHyper),
                _ => {}
            },
            () = &mut timer => {
                tracing::debug!("no request head within the header read timeout; closing");
                return Ok(Handed::Nothing);
            }
            // On a graceful stop, once what was read is answered.
            () = &mut stop, if read.is_empty() => return Ok(Handed::Nothing),
        }
    }
}

/// What the head at the start of the read buffer led to.
enum Next {
    /// A plain callback, answered and taken off the buffer.
    Answered(RawAnswer),
    /// No complete head yet.
    Partial,
    /// A head for hyper (or bytes that are no head), left in the buffer.
    Other,
}

/// Answers the head at the start of `read` if it is a plain callback no longer than
/// `max_head`.
fn answer_one<A: App>(
    service: &Edge<A>,
    read: &mut BytesMut,
    out: &mut Vec<u8>,
    max_head: usize,
) -> Next {
    if read.is_empty() {
        return Next::Partial;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_RAW_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let length = match head.parse(read) {
        Ok(httparse::Status::Complete(length)) if length < max_head => length,
        Ok(httparse::Status::Complete(_)) => return Next::Other,
        Ok(httparse::Status::Partial) => return Next::Partial,
        Err(_) => return Next::Other,
    };
    let Some(answered) = service.answer_raw(&head, out) else {
        return Next::Other;
    };
    read.advance(length);
    Next::Answered(answered)
}

pin_project! {
    /// The connection as hyper reads it: first the bytes read before it took over.
    struct Rewind {
        read: Bytes,
        #[pin]
        stream: TcpStream,
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if !this.read.is_empty() {
            let n = this.read.len().min(buf.remaining());
            buf.put_slice(&this.read[..n]);
            this.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        this.stream.poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests;
