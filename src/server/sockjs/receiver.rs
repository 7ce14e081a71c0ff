//! One receiving HTTP request of a SockJS session (`xhr`, `xhr_streaming`, `eventsource`):
//! the framing of its transport, the bounded channel that feeds its response body, and how
//! many bytes it has carried, so that a streaming response ends at its byte limit and the
//! client opens a fresh one (browsers keep a streaming response's bytes until it ends).

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::link::Gone;
use crate::wire::Transport;
use crate::wire::{close, event_data, sockjs};

/// Chunks queued for a response body before a write waits for the client to read: the
/// prelude, a frame, and a few more while the connection catches up.
const BODY_CHUNKS: usize = 8;

/// Bytes of `h` an xhr_streaming response starts with: some browsers show nothing of a
/// streaming response before its first 2 KiB (SockJS protocol 0.3.3).
const XHR_PRELUDE: [u8; 2049] = {
    let mut prelude = [b'h'; 2049];
    prelude[2048] = b'\n';
    prelude
};
static XHR_PRELUDE_BYTES: [u8; 2049] = XHR_PRELUDE;

/// How a receiving request frames what it carries, and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `xhr`: one frame, then the response ends.
    Polling,
    /// `xhr_streaming`: a 2 KiB prelude, then frames each followed by `\n`.
    Streaming,
    /// `eventsource`: a `\r\n` prelude, then `data: FRAME\r\n\r\n` events, the frame
    /// percent-escaped as sockjs-node escapes it (`event_data`).
    EventSource,
}

impl Kind {
    pub fn transport(self) -> Transport {
        match self {
            Kind::Polling => Transport::XhrPolling,
            Kind::Streaming => Transport::XhrStreaming,
            Kind::EventSource => Transport::Eventsource,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Polling | Kind::Streaming => "application/javascript; charset=UTF-8",
            Kind::EventSource => "text/event-stream; charset=UTF-8",
        }
    }

    fn prelude(self) -> Option<&'static [u8]> {
        match self {
            Kind::Polling => None,
            Kind::Streaming => Some(&XHR_PRELUDE_BYTES),
            Kind::EventSource => Some(b"\r\n"),
        }
    }

    fn frame(self, frame: &str) -> Bytes {
        match self {
            Kind::Polling | Kind::Streaming => format!("{frame}\n").into(),
            Kind::EventSource => format!("data: {}\r\n\r\n", event_data::escape(frame)).into(),
        }
    }
}

/// Whether a response goes on after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Open,
    /// The response has ended (a poll after its frame, a stream at its byte limit).
    Finished,
}

type Chunk = Result<Bytes, std::io::Error>;

pub struct Receiver {
    kind: Kind,
    body: mpsc::Sender<Chunk>,
    /// Bytes of frames written, the prelude not counted (as SockJS counts them).
    written: usize,
    /// A streaming response ends once `written` reaches this.
    limit: usize,
}

impl Receiver {
    /// A receiver and the response body it feeds, the prelude already in it.
    pub fn new(kind: Kind, limit: usize) -> (Receiver, Body) {
        let (sender, mut chunks) = mpsc::channel::<Chunk>(BODY_CHUNKS);
        if let Some(prelude) = kind.prelude() {
            // A fresh channel has room.
            let _ = sender.try_send(Ok(Bytes::from_static(prelude)));
        }
        let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
            chunks.poll_recv(cx)
        }));
        (
            Receiver {
                kind,
                body: sender,
                written: 0,
                limit,
            },
            body,
        )
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    fn after(&self) -> After {
        match self.kind {
            Kind::Polling => After::Finished,
            Kind::Streaming | Kind::EventSource if self.written >= self.limit => After::Finished,
            Kind::Streaming | Kind::EventSource => After::Open,
        }
    }

    /// Writes one frame, waiting while the client reads slowly (as a WebSocket send does).
    pub async fn write(&mut self, frame: &str) -> Result<After, Gone> {
        let chunk = self.kind.frame(frame);
        self.written += chunk.len();
        self.body.send(Ok(chunk)).await.map_err(|_| Gone)?;
        Ok(self.after())
    }

    /// Writes one frame without waiting: for a request that has just arrived, whose body
    /// channel still has room. A full channel counts as a client gone.
    pub fn write_now(&mut self, frame: &str) -> Result<After, Gone> {
        let chunk = self.kind.frame(frame);
        self.written += chunk.len();
        self.body.try_send(Ok(chunk)).map_err(|_| Gone)?;
        Ok(self.after())
    }

    /// Turns away a receiving request for a session that has one already (2010).
    pub fn refuse(mut self) {
        let _ = self.write_now(&sockjs::encode_close(close::SESSION_IN_USE));
    }

    /// True once the client has gone away (its response body was dropped).
    pub fn is_closed(&self) -> bool {
        self.body.is_closed()
    }

    /// Completes once the client has gone away.
    pub async fn closed(&self) {
        self.body.closed().await
    }

    /// Cuts the response: the connection ends without the body's proper end, as a crash
    /// would end it (the client cannot tell it from a network failure).
    pub fn abort(self) {
        let _ = self
            .body
            .try_send(Err(std::io::Error::other("session aborted")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_text(body: Body) -> String {
        let bytes = body.collect().await.expect("a body").to_bytes();
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn each_transport_frames_as_sockjs_does() {
        let (mut poll, body) = Receiver::new(Kind::Polling, 10);
        assert_eq!(poll.write_now("o"), Ok(After::Finished));
        drop(poll);
        assert_eq!(body_text(body).await, "o\n");

        let (mut events, body) = Receiver::new(Kind::EventSource, 1000);
        assert_eq!(events.write("a[\"x\"]").await, Ok(After::Open));
        assert_eq!(events.write("a[\"50%off\"]").await, Ok(After::Open));
        drop(events);
        assert_eq!(
            body_text(body).await,
            "\r\ndata: a[\"x\"]\r\n\r\ndata: a[\"50%25off\"]\r\n\r\n"
        );

        let (mut stream, body) = Receiver::new(Kind::Streaming, 4);
        // "o\n" is 2 bytes, below the limit; "h\n" reaches it: the prelude is not counted.
        assert_eq!(stream.write("o").await, Ok(After::Open));
        assert_eq!(stream.write("h").await, Ok(After::Finished));
        drop(stream);
        let text = body_text(body).await;
        assert_eq!(text.len(), 2049 + 4);
        assert!(
            text.starts_with(&"h".repeat(2048)) && text.ends_with("\no\nh\n"),
            "{text:?}"
        );
    }

    #[tokio::test]
    async fn a_client_that_left_is_seen() {
        let (mut stream, body) = Receiver::new(Kind::Streaming, 1000);
        assert!(!stream.is_closed());
        drop(body);
        stream.closed().await;
        assert!(stream.is_closed());
        assert!(stream.write("o").await.is_err());
    }
}
