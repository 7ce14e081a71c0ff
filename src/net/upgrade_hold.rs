//! A server connection's I/O that sends a `101 Switching Protocols` response together with
//! the first bytes written after it, in one write.
//!
//! hyper writes and flushes the `101` on its own; the WebSocket session then writes its
//! first frame (SockJS `o`) a moment later from another task. That was two writes, two TCP
//! segments and two wakeups of the client per connect, where one does: in a connect storm
//! every segment costs both sides kernel time (BENCHMARKS.md, "Connect storm"). So the head
//! of a `101` is held back, and goes out with whatever is written next. Nothing may wait on
//! it for long: it also goes out before any read (a raw WebSocket session, which writes
//! nothing first, reads next, and its client waits for the `101` before sending) and at
//! shutdown. A flush while it is held is answered at once: the bytes are in hand and leave
//! with the next write, read or shutdown, one of which follows every upgrade.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How every `101` response head hyper writes begins.
const SWITCHING: &[u8] = b"HTTP/1.1 101 ";

/// `io`, with a `101` response head held back until the next write, read or shutdown.
pub struct UpgradeHold<T> {
    io: T,
    /// The held response head, and how much of it has been written.
    held: Option<(Vec<u8>, usize)>,
    /// Whether a `101` may still come: after one the connection speaks WebSocket, whose
    /// bytes (a frame's rest, after a short write) could begin like a response head.
    watching: bool,
}

impl<T> UpgradeHold<T> {
    pub fn new(io: T) -> Self {
        UpgradeHold {
            io,
            held: None,
            watching: true,
        }
    }
}

impl<T: AsyncWrite + Unpin> UpgradeHold<T> {
    /// Writes what is held, if anything, alone.
    fn poll_release(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((head, written)) = &mut self.held {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &head[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
            if *written == head.len() {
                self.held = None;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Writes `bufs` behind what is held, in one vectored write; answers how much of `bufs`
    /// went out (none while only held bytes did).
    fn poll_write_behind(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            let Some((head, written)) = &mut self.held else {
                return Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
            };
            let rest = head.len() - *written;
            let mut slices = Vec::with_capacity(bufs.len() + 1);
            slices.push(IoSlice::new(&head[*written..]));
            slices.extend(bufs.iter().map(|buf| IoSlice::new(buf)));
            let n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n < rest {
                *written += n;
                continue;
            }
            self.held = None;
            if n > rest || bufs.iter().all(|buf| buf.is_empty()) {
                return Poll::Ready(Ok(n - rest));
            }
        }
    }
}

/// Whether `bufs` begin a `101` response head.
fn is_switching(bufs: &[IoSlice<'_>]) -> bool {
    bufs.iter()
        .find(|buf| !buf.is_empty())
        .is_some_and(|first| first.starts_with(SWITCHING))
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for UpgradeHold<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_release(cx))?;
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for UpgradeHold<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.watching && is_switching(bufs) {
            this.watching = false;
            let head = bufs
                .iter()
                .flat_map(|buf| buf.iter().copied())
                .collect::<Vec<u8>>();
            let len = head.len();
            this.held = Some((head, 0));
            return Poll::Ready(Ok(len));
        }
        this.poll_write_behind(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.held.is_some() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_release(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An I/O that records each write call, so a test can tell one write from two.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        reads: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().writes.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let joined: Vec<u8> = bufs.iter().flat_map(|buf| buf.iter().copied()).collect();
            let len = joined.len();
            self.get_mut().writes.push(joined);
            Poll::Ready(Ok(len))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            this.reads += 1;
            buf.put_slice(b"x");
            Poll::Ready(Ok(()))
        }
    }

    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n";
    /// SockJS `o` as a server's WebSocket text frame.
    const OPEN: &[u8] = &[0x81, 1, b'o'];

    #[tokio::test]
    async fn a_101_leaves_with_the_next_write_in_one() {
        let mut io = UpgradeHold::new(Recorder::default());
        io.write_all(HEAD).await.unwrap();
        io.flush().await.unwrap();
        assert!(io.io.writes.is_empty(), "the 101 was held back");
        io.write_all(OPEN).await.unwrap();
        assert_eq!(
            io.io.writes,
            vec![[HEAD, OPEN].concat()],
            "one write of both"
        );
        io.write_all(OPEN).await.unwrap();
        assert_eq!(io.io.writes.len(), 2, "what follows passes as it is");
        io.write_all(HEAD).await.unwrap();
        assert_eq!(
            io.io.writes.len(),
            3,
            "WebSocket bytes that look like a 101 are not held"
        );
    }

    #[tokio::test]
    async fn a_held_101_leaves_before_a_read_and_at_shutdown() {
        let mut io = UpgradeHold::new(Recorder::default());
        io.write_all(HEAD).await.unwrap();
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await.unwrap();
        assert_eq!(
            (io.io.writes.clone(), io.io.reads),
            (vec![HEAD.to_vec()], 1),
            "written before reading"
        );

        let mut io = UpgradeHold::new(Recorder::default());
        io.write_all(HEAD).await.unwrap();
        io.shutdown().await.unwrap();
        assert_eq!(io.io.writes, vec![HEAD.to_vec()]);
    }

    #[tokio::test]
    async fn other_responses_are_not_held() {
        let mut io = UpgradeHold::new(Recorder::default());
        io.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        assert_eq!(io.io.writes.len(), 1);
    }

    /// A write that the socket takes only in part still sends everything, in order.
    #[tokio::test]
    async fn partial_writes_keep_the_order() {
        let (client, mut server) = tokio::io::duplex(16);
        let mut io = UpgradeHold::new(client);
        io.write_all(HEAD).await.unwrap();
        let writing = tokio::spawn(async move {
            io.write_all(OPEN).await.unwrap();
            io.shutdown().await.unwrap();
        });
        let mut received = Vec::new();
        server.read_to_end(&mut received).await.unwrap();
        writing.await.unwrap();
        assert_eq!(received, [HEAD, OPEN].concat());
    }
}
