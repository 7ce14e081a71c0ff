//! The WebSocket transports' side of a link: SockJS framing over a WebSocket (`o`, `h`,
//! `a[...]`, `c[...]` as text frames) or raw WebSocket (one message per text frame, close
//! codes as WebSocket close frames).

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::time::Instant;

use super::link::{Gone, Received};
use super::registry::Claim;
use crate::wire::close::{self, Close};
use crate::wire::sockjs::{self, FramingError};
use crate::wire::Transport;

/// Which framing a WebSocket session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sockjs,
    /// One JSON message per frame; a frame that is not JSON breaks framing.
    Raw,
    /// One message per frame, any text: the test echo service (`/echo/websocket`).
    RawText,
}

pub struct SocketLink {
    socket: WebSocket,
    pub framing: Framing,
    /// Largest client frame accepted; a larger one closes the session with 1009.
    max_frame_bytes: usize,
    /// When the last frame went out: a heartbeat is due one interval later.
    pub last_sent: Instant,
    /// The SockJS session id this socket holds, released when the link is dropped.
    _claim: Option<Claim>,
}

impl SocketLink {
    pub fn new(
        socket: WebSocket,
        framing: Framing,
        max_frame_bytes: usize,
        claim: Option<Claim>,
    ) -> Self {
        SocketLink {
            socket,
            framing,
            max_frame_bytes,
            last_sent: Instant::now(),
            _claim: claim,
        }
    }

    pub fn transport(&self) -> Transport {
        match self.framing {
            Framing::Sockjs => Transport::Sockjs,
            Framing::Raw | Framing::RawText => Transport::RawWebsocket,
        }
    }

    async fn send_text(&mut self, text: String) -> Result<(), Gone> {
        self.last_sent = Instant::now();
        self.socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .map_err(|_| Gone)
    }

    /// SockJS sessions begin with `o`; raw ones with nothing.
    pub async fn open(&mut self) -> Result<(), Gone> {
        match self.framing {
            Framing::Sockjs => self.send_text(sockjs::OPEN.to_owned()).await,
            Framing::Raw | Framing::RawText => Ok(()),
        }
    }

    /// Sends encoded messages: one `a[...]` frame for SockJS, one frame each for raw.
    pub async fn send<S: AsRef<str>>(&mut self, messages: &[S]) -> Result<(), Gone> {
        match self.framing {
            Framing::Sockjs => self.send_text(sockjs::encode_messages(messages)).await,
            Framing::Raw | Framing::RawText => {
                for message in messages {
                    self.send_text(message.as_ref().to_owned()).await?;
                }
                Ok(())
            }
        }
    }

    /// SockJS `h`; raw WebSocket has no heartbeat frame of its own.
    pub async fn heartbeat(&mut self) -> Result<(), Gone> {
        match self.framing {
            Framing::Sockjs => self.send_text(sockjs::HEARTBEAT.to_owned()).await,
            Framing::Raw | Framing::RawText => Ok(()),
        }
    }

    /// Closes with `close`: SockJS sends `c[code,"reason"]` and then a normal WebSocket
    /// close (SockJS codes such as 2010 are not valid WebSocket close codes); raw sends the
    /// code in the WebSocket close frame itself. Best effort: the peer may be gone.
    pub async fn close(mut self, close: Close) {
        let frame = match self.framing {
            Framing::Sockjs => {
                if self.send_text(sockjs::encode_close(close)).await.is_err() {
                    return;
                }
                CloseFrame {
                    code: 1000,
                    reason: Utf8Bytes::from_static(""),
                }
            }
            Framing::Raw | Framing::RawText => CloseFrame {
                code: close.code,
                reason: Utf8Bytes::from_static(close.reason),
            },
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }

    /// The next client frame, checked for size and decoded into messages.
    pub async fn recv(&mut self) -> Received {
        match self.socket.recv().await {
            Some(Ok(Message::Text(text))) => self.decode(text.as_str()),
            Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.decode(text),
                Err(_) => Received::Close(close::BROKEN_FRAMING),
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Received::Messages(Vec::new()),
            Some(Ok(Message::Close(_)) | Err(_)) | None => Received::Gone,
        }
    }

    fn decode(&self, text: &str) -> Received {
        if text.len() > self.max_frame_bytes {
            return Received::Close(close::MESSAGE_TOO_BIG);
        }
        match self.messages(text) {
            Ok(messages) => Received::Messages(messages),
            Err(_) => Received::Close(close::BROKEN_FRAMING),
        }
    }

    /// The message strings a client text frame carries.
    fn messages(&self, text: &str) -> Result<Vec<String>, FramingError> {
        match self.framing {
            Framing::Sockjs => sockjs::decode_client_frame(text),
            Framing::RawText => Ok(vec![text.to_owned()]),
            Framing::Raw if text.trim().is_empty() => Ok(Vec::new()),
            Framing::Raw => {
                // Only a frame that is JSON at all is a message; one that is not breaks framing,
                // like it does for SockJS.
                serde_json::from_str::<serde::de::IgnoredAny>(text)
                    .map_err(|err| FramingError(err.to_string()))?;
                Ok(vec![text.to_owned()])
            }
        }
    }
}
