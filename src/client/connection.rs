//! One open session with a Presence server, whichever transport carries it (SockJS or raw
//! WebSocket, or SockJS's HTTP transports, see `http_session.rs`; docs/protocol.md section 1).
//!
//! A [`Connection`] hides the transport and its framing: callers send [`ClientMessage`]s and
//! receive [`ServerMessage`]s whichever transport is in use, so a visitor's logic is the same
//! on all of them. Buffers are sized for presence traffic, not tungstenite's 128 KiB
//! defaults, because a harness holds tens of thousands of these at once; the HTTP
//! transports' state is boxed, so a WebSocket connection does not grow by it.

use std::collections::VecDeque;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::dial::connect_stream;
use super::endpoint::Endpoint;
use super::error::ClientError;
use super::http_session::HttpSession;
use super::options::ConnectOptions;
use super::stream::Stream;
use crate::wire::sockjs::{self, ServerFrame};
use crate::wire::{ClientMessage, ServerMessage, Transport};

/// Something received on a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Message(ServerMessage),
    /// A sign of life that carries no message: a SockJS `h` frame, or a WebSocket ping or
    /// pong. Servers keep a quiet session alive either way (sockjs-node pings its WebSocket
    /// sessions and sends no `h` on them), and both prove the session is alive.
    Heartbeat,
}

/// One open session with a Presence server.
pub struct Connection {
    link: Link,
    transport: Transport,
    /// `ConnectOptions::max_message`, to name the limit a server broke.
    max_message: usize,
    /// Messages of a SockJS `a[...]` frame not handed out yet. Only frames that carry several
    /// messages use it, and it gives its room back once empty: an idle visitor holds none.
    inbox: VecDeque<ServerMessage>,
}

/// How long each phase of [`Connection::open_timed`] took: the `connect_tcp`,
/// `connect_upgrade` and `connect_open` metrics, which tell a slow accept from a slow
/// handshake in a connect storm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenPhases {
    /// TCP connect, and the TLS handshake for `wss://`.
    pub tcp: Duration,
    /// The upgrade request until its `101` response.
    pub upgrade: Duration,
    /// The `101` until SockJS's `o` frame (zero for raw WebSocket).
    pub open: Duration,
}

/// What carries a session: a WebSocket, or HTTP requests (boxed: rarer, and larger). The
/// WebSocket stays inline on purpose: it is what tens of thousands of idle visitors hold.
#[allow(clippy::large_enum_variant)]
enum Link {
    Ws(WebSocketStream<Stream>),
    Http(Box<HttpSession>),
}

impl Connection {
    /// Opens a session: TCP connect, WebSocket upgrade (or the first receiving HTTP
    /// request), and for SockJS the `o` frame.
    pub async fn open(
        endpoint: &Endpoint,
        options: &ConnectOptions,
        rng: &mut impl Rng,
    ) -> Result<Self, ClientError> {
        Self::open_timed(endpoint, options, rng)
            .await
            .map(|(conn, _)| conn)
    }

    /// [`Self::open`], telling how long each phase took. An HTTP transport's first receiving
    /// request connects and opens at once: all of it counts as `open`.
    pub async fn open_timed(
        endpoint: &Endpoint,
        options: &ConnectOptions,
        rng: &mut impl Rng,
    ) -> Result<(Self, OpenPhases), ClientError> {
        let started = Instant::now();
        let (link, connected) = if options.transport.is_http() {
            (
                Link::Http(Box::new(HttpSession::new(
                    endpoint,
                    options,
                    endpoint.session_base(rng),
                ))),
                started,
            )
        } else {
            let (ws, connected) = Self::upgrade(endpoint, options, rng).await?;
            (Link::Ws(ws), connected)
        };
        let upgraded = Instant::now();
        let mut conn = Connection {
            link,
            transport: options.transport,
            max_message: options.max_message,
            inbox: VecDeque::new(),
        };
        if conn.transport.has_sockjs_framing() {
            let first = loop {
                if let Some(text) = std::future::poll_fn(|cx| conn.poll_next_text(cx)).await? {
                    break text;
                }
            };
            if first.as_str() != sockjs::OPEN {
                return Err(ClientError::Protocol(format!(
                    "expected open frame, got {:?}",
                    first.as_str()
                )));
            }
        }
        let phases = OpenPhases {
            tcp: connected - started,
            upgrade: upgraded - connected,
            open: upgraded.elapsed(),
        };
        Ok((conn, phases))
    }

    /// TCP (and TLS) connect, then the WebSocket upgrade; answers when the connect was done.
    async fn upgrade(
        endpoint: &Endpoint,
        options: &ConnectOptions,
        rng: &mut impl Rng,
    ) -> Result<(WebSocketStream<Stream>, Instant), ClientError> {
        let stream = connect_stream(endpoint, options).await?;
        let connected = Instant::now();
        let path = endpoint.path_for(options.transport, rng);
        let url = format!("{}{}", endpoint.url(), &path[endpoint.prefix.len()..]);
        let config = WebSocketConfig::default()
            .read_buffer_size(options.read_buffer)
            .write_buffer_size(0)
            .max_message_size(Some(options.max_message))
            .max_frame_size(Some(options.max_message));
        let ws = super::upgrade::upgrade(stream, &url, &options.headers, config)
            .await
            .map_err(ClientError::Handshake)?;
        Ok((ws, connected))
    }

    /// The transport the session runs on.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Sends one message.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        let encoded = message.encode();
        let frame = match self.transport {
            Transport::RawWebsocket => encoded,
            _ => sockjs::encode_client_frame(&[encoded]),
        };
        self.send_text(frame).await
    }

    /// Sends a raw text frame as is (for tests of the server's handling of bad input): a
    /// WebSocket text frame, or the body of an `xhr_send`.
    pub async fn send_text(&mut self, frame: String) -> Result<(), ClientError> {
        match &mut self.link {
            Link::Ws(ws) => ws
                .send(Message::text(frame))
                .await
                .map_err(|err| ClientError::Lost(err.to_string())),
            Link::Http(http) => http.send(frame).await,
        }
    }

    /// Receives the next message or heartbeat. A close by the server is `Err(Closed)`.
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Result<Incoming, ClientError> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message or heartbeat, so one task can wait on several connections.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, ClientError>> {
        loop {
            if let Some(message) = self.inbox.pop_front() {
                if self.inbox.is_empty() {
                    self.inbox = VecDeque::new();
                }
                return Poll::Ready(Ok(Incoming::Message(message)));
            }
            let text = match ready!(self.poll_next_text(cx)) {
                Ok(Some(text)) => text,
                Ok(None) => return Poll::Ready(Ok(Incoming::Heartbeat)),
                Err(err) => return Poll::Ready(Err(err)),
            };
            match self.transport {
                Transport::RawWebsocket => {
                    return Poll::Ready(decode_message(&text).map(Incoming::Message))
                }
                _ => match sockjs::decode_server_frame(&text) {
                    Ok(ServerFrame::Heartbeat) => return Poll::Ready(Ok(Incoming::Heartbeat)),
                    Ok(ServerFrame::Messages(items)) => {
                        if let [only] = items.as_slice() {
                            return Poll::Ready(decode_message(only).map(Incoming::Message));
                        }
                        for item in items {
                            match decode_message(&item) {
                                Ok(message) => self.inbox.push_back(message),
                                Err(err) => return Poll::Ready(Err(err)),
                            }
                        }
                    }
                    Ok(ServerFrame::Close { code, reason }) => {
                        return Poll::Ready(Err(ClientError::Closed { code, reason }))
                    }
                    Ok(ServerFrame::Open) => {
                        return Poll::Ready(Err(ClientError::Protocol("second open frame".into())))
                    }
                    Err(err) => return Poll::Ready(Err(ClientError::Protocol(err.to_string()))),
                },
            }
        }
    }

    /// Closes the session politely (WebSocket close 1000), ignoring errors: the caller is done.
    /// An HTTP session ends its requests; SockJS has no close from the client, and the server
    /// forgets the session after its disconnect delay.
    pub async fn close(self) {
        if let Link::Ws(mut ws) = self.link {
            let _ = ws.close(None).await;
        }
    }

    /// The next text frame, or `None` for a WebSocket ping or pong (a sign of life the
    /// caller hands out as [`Incoming::Heartbeat`]; tungstenite answers pings itself).
    fn poll_next_text(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Utf8Bytes>, ClientError>> {
        let ws = match &mut self.link {
            Link::Ws(ws) => ws,
            Link::Http(http) => {
                return http
                    .poll_frame(cx)
                    .map_ok(|frame| Some(Utf8Bytes::from(frame)))
            }
        };
        loop {
            let frame = match ready!(ws.poll_next_unpin(cx)) {
                None => {
                    return Poll::Ready(Err(ClientError::Lost(
                        "connection closed without a close frame".into(),
                    )))
                }
                // tungstenite refuses a frame by its header, before buffering its payload.
                Some(Err(tungstenite::Error::Capacity(_))) => {
                    return Poll::Ready(Err(ClientError::FrameTooLarge {
                        limit: self.max_message,
                    }))
                }
                Some(Err(err)) => return Poll::Ready(Err(read_error(err))),
                Some(Ok(frame)) => frame,
            };
            return Poll::Ready(match frame {
                Message::Text(text) => Ok(Some(text)),
                Message::Close(frame) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (f.code.into(), f.reason.as_str().to_owned())
                    });
                    Err(ClientError::Closed { code, reason })
                }
                Message::Binary(_) => Err(ClientError::Protocol("unexpected binary frame".into())),
                Message::Ping(_) | Message::Pong(_) => Ok(None),
                Message::Frame(_) => continue,
            });
        }
    }
}

/// What a failed read means: the server broke the WebSocket protocol (invalid UTF-8 in a
/// text frame, bad framing, a frame over the limit), which a reconnect would only repeat,
/// or the connection went away, which a reconnect may cure.
fn read_error(err: tungstenite::Error) -> ClientError {
    use tungstenite::error::ProtocolError;
    use tungstenite::Error;
    match err {
        // An abrupt stop (a killed instance, a reset) is a loss, though tungstenite files it
        // under protocol errors.
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            ClientError::Lost(err.to_string())
        }
        Error::Utf8(_) | Error::Protocol(_) | Error::Capacity(_) | Error::AttackAttempt => {
            ClientError::Protocol(err.to_string())
        }
        other => ClientError::Lost(other.to_string()),
    }
}

fn decode_message(text: &str) -> Result<ServerMessage, ClientError> {
    ServerMessage::decode(text)
        .map_err(|err| ClientError::Protocol(format!("undecodable message {text:?}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_message_of_a_sockjs_frame_arrives_in_order() {
        use crate::client::upgrade::tests::{answering, switching, text_frame};
        use tungstenite::handshake::derive_accept_key;
        let sent = [
            ServerMessage::PresenceAck { seq: 1 },
            ServerMessage::Expired {},
            ServerMessage::PresenceAck { seq: 2 },
        ];
        let encoded = sent.clone().map(|message| message.encode());
        // `o`, then a frame of two messages and a frame of one, right behind the 101 response.
        let frames = [
            sockjs::OPEN.to_owned(),
            sockjs::encode_messages(&encoded[..2]),
            sockjs::encode_messages(&encoded[2..]),
        ];
        let bytes = frames.iter().flat_map(|frame| text_frame(frame)).collect();
        let server = answering(|key| switching(&derive_accept_key(key.as_bytes())), bytes).await;
        let endpoint = Endpoint::parse(&format!("ws://{server}/presence")).unwrap();
        let mut conn = Connection::open(&endpoint, &ConnectOptions::default(), &mut rand::rng())
            .await
            .unwrap();
        let mut received = Vec::new();
        for _ in 0..3 {
            received.push(conn.recv().await.unwrap());
        }
        assert_eq!(received, sent.map(Incoming::Message));
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_refused_by_its_header_naming_the_limit() {
        use crate::client::upgrade::tests::{answering, switching, text_frame};
        use tungstenite::handshake::derive_accept_key;
        // `o`, then a text frame that announces 4 KiB (a 16-bit length) over a 1 KiB limit.
        let mut bytes = [text_frame("o"), vec![0x81, 126, 0x10, 0x00]].concat();
        bytes.resize(bytes.len() + 4096, b' ');
        let server = answering(|key| switching(&derive_accept_key(key.as_bytes())), bytes).await;
        let endpoint = Endpoint::parse(&format!("ws://{server}/presence")).unwrap();
        let options = ConnectOptions {
            max_message: 1024,
            ..ConnectOptions::default()
        };
        let mut conn = Connection::open(&endpoint, &options, &mut rand::rng())
            .await
            .unwrap();
        let err = conn.recv().await.unwrap_err();
        assert!(
            matches!(err, ClientError::FrameTooLarge { limit: 1024 }),
            "{err}"
        );
        assert!(err.to_string().contains("1024-byte limit"), "{err}");
    }

    #[test]
    fn http_transports_do_not_make_a_websocket_session_larger() {
        assert_eq!(
            std::mem::size_of::<Link>(),
            std::mem::size_of::<WebSocketStream<Stream>>()
        );
    }
}
