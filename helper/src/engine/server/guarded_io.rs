//! The socket as hyper sees it: hyper's empty refusals come out in the JSON shape, and a
//! client that stops reading its answers is dropped after the write timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::canned::Answers;

pub struct GuardedIo<T> {
    inner: T,
    answers: Arc<Answers>,
    write_timeout: Duration,
    /// Running while the socket refuses our bytes (the client is not reading).
    stalled: Option<Pin<Box<Sleep>>>,
    /// A rewritten refusal being written: its bytes, how far, and the length hyper gave.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<T> GuardedIo<T> {
    pub fn new(inner: T, answers: Arc<Answers>, write_timeout: Duration) -> Self {
        Self {
            inner,
            answers,
            write_timeout,
            stalled: None,
            replacing: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    /// One write to the socket, timing how long it has refused our bytes.
    fn write_some(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Pending => {
                let timeout = self.write_timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stalled.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading its answers",
                    )));
                }
                Poll::Pending
            }
            done => {
                self.stalled = None;
                done
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none()
            && let Some(rewritten) = this.answers.rewrite(data)
        {
            this.replacing = Some((rewritten, 0, data.len()));
        }
        let Some((bytes, mut at, claimed)) = this.replacing.take() else {
            return this.write_some(cx, data);
        };
        // hyper is told its bytes went out once ours have (it writes nothing after them).
        while at < bytes.len() {
            match this.write_some(cx, &bytes[at..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => at += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    this.replacing = Some((bytes, at, claimed));
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(claimed))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then hands each response over as one buffer, which is what lets
    // `Answers::rewrite` see a refusal whole.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_refusal_is_rewritten_and_hyper_told_its_length() {
        let (client, server) = tokio::io::duplex(64);
        let answers = Arc::new(Answers::new(16 * 1024, 8 * 1024));
        let mut io = GuardedIo::new(server, answers, Duration::from_secs(5));
        let refusal = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut all = Vec::new();
            client.read_to_end(&mut all).await.unwrap();
            all
        });
        // The duplex holds 64 bytes: the longer answer goes out over several writes.
        let n = io.write(refusal).await.unwrap();
        assert_eq!(n, refusal.len());
        io.shutdown().await.unwrap();
        drop(io);
        let all = String::from_utf8(reader.await.unwrap()).unwrap();
        assert!(all.starts_with("HTTP/1.1 431"), "{all}");
        assert!(all.contains("\"error\":\"headers_too_large\""), "{all}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
        let (_client, server) = tokio::io::duplex(16);
        let answers = Arc::new(Answers::new(16 * 1024, 8 * 1024));
        let mut io = GuardedIo::new(server, answers, Duration::from_secs(30));
        let err = io.write_all(&[b'x'; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
