//! One session's socket and its framing: SockJS (`o`, `h`, `a[...]`, `c[...]`) or raw
//! WebSocket (one message per text frame, close codes as WebSocket close frames).

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use tokio::time::Instant;

use crate::protocol::close::Close;
use crate::protocol::sockjs::{self, FramingError};

/// Which framing a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sockjs,
    Raw,
}

/// The peer is gone; nothing more can be sent.
#[derive(Debug)]
pub struct Gone;

pub struct Link {
    socket: WebSocket,
    pub framing: Framing,
    /// When the last frame went out: a heartbeat is due one interval later.
    pub last_sent: Instant,
}

impl Link {
    pub fn new(socket: WebSocket, framing: Framing) -> Self {
        Link { socket, framing, last_sent: Instant::now() }
    }

    async fn send_text(&mut self, text: String) -> Result<(), Gone> {
        self.last_sent = Instant::now();
        self.socket.send(Message::Text(Utf8Bytes::from(text))).await.map_err(|_| Gone)
    }

    /// SockJS sessions begin with `o`; raw ones with nothing.
    pub async fn open(&mut self) -> Result<(), Gone> {
        match self.framing {
            Framing::Sockjs => self.send_text(sockjs::OPEN.to_owned()).await,
            Framing::Raw => Ok(()),
        }
    }

    /// Sends encoded messages: one `a[...]` frame for SockJS, one frame each for raw.
    pub async fn send<S: AsRef<str>>(&mut self, messages: &[S]) -> Result<(), Gone> {
        if messages.is_empty() {
            return Ok(());
        }
        match self.framing {
            Framing::Sockjs => self.send_text(sockjs::encode_messages(messages)).await,
            Framing::Raw => {
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
            Framing::Raw => Ok(()),
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
                CloseFrame { code: 1000, reason: Utf8Bytes::from_static("") }
            }
            Framing::Raw => CloseFrame { code: close.code, reason: Utf8Bytes::from_static(close.reason) },
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }

    /// The next frame from the peer; `None` once the socket is closed.
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.socket.recv().await
    }

    /// The message strings a client text frame carries.
    pub fn messages(&self, text: &str) -> Result<Vec<String>, FramingError> {
        match self.framing {
            Framing::Sockjs => sockjs::decode_client_frame(text),
            Framing::Raw if text.trim().is_empty() => Ok(Vec::new()),
            Framing::Raw => {
                // Only a frame that is JSON at all is a message; one that is not breaks framing,
                // like it does for SockJS.
                serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|err| FramingError(err.to_string()))?;
                Ok(vec![text.to_owned()])
            }
        }
    }
}
