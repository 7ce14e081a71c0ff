//! A session's link to its client, whichever transport carries it: one WebSocket, or a
//! series of HTTP requests (xhr, xhr_streaming, eventsource) that attach to the session and
//! detach from it. The session logic sees only this: frames in, messages out, heartbeats and
//! a close, so that every docs/protocol.md behaviour is the same on every transport.

use tokio::time::Instant;

use super::http_link::{HttpLink, Linger};
use super::socket::SocketLink;
use crate::wire::close::Close;
use crate::wire::Transport;

/// The peer is gone; nothing more can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// What the client sent next.
#[derive(Debug)]
pub enum Received {
    /// The messages of one client frame (none for an empty frame or a ping).
    Messages(Vec<String>),
    /// The frame cannot be served: close the session with this (1002, 1009).
    Close(Close),
    /// The client is gone: its socket closed, or it stopped polling for the disconnect delay.
    Gone,
}

// One per session, in its task for its whole life: boxing the larger WebSocket side would
// cost every WebSocket session an allocation to save an HTTP session some bytes.
#[allow(clippy::large_enum_variant)]
pub enum Link {
    Socket(SocketLink),
    Http(HttpLink),
}

impl Link {
    /// The transport the session was opened on.
    pub fn transport(&self) -> Transport {
        match self {
            Link::Socket(socket) => socket.transport(),
            Link::Http(http) => http.transport,
        }
    }

    /// Whether the client expects SockJS heartbeats (raw WebSocket has none).
    pub fn wants_heartbeats(&self) -> bool {
        self.transport() != Transport::RawWebsocket
    }

    /// When the last frame went out: a heartbeat is due one interval later.
    pub fn last_sent(&self) -> Instant {
        match self {
            Link::Socket(socket) => socket.last_sent,
            Link::Http(http) => http.last_sent,
        }
    }

    /// Sends `o` (SockJS) or nothing (raw).
    pub async fn open(&mut self) -> Result<(), Gone> {
        match self {
            Link::Socket(socket) => socket.open().await,
            Link::Http(http) => http.open().await,
        }
    }

    /// Sends encoded messages, in one `a[...]` frame for SockJS; nothing for none.
    pub async fn send<S: AsRef<str>>(&mut self, messages: &[S]) -> Result<(), Gone> {
        if messages.is_empty() {
            return Ok(());
        }
        match self {
            Link::Socket(socket) => socket.send(messages).await,
            Link::Http(http) => http.send(messages).await,
        }
    }

    pub async fn heartbeat(&mut self) -> Result<(), Gone> {
        match self {
            Link::Socket(socket) => socket.heartbeat().await,
            Link::Http(http) => http.heartbeat().await,
        }
    }

    /// The next client frame. Cancel safe: it may lose a race in a `select!`.
    pub async fn recv(&mut self) -> Received {
        match self {
            Link::Socket(socket) => socket.recv().await,
            Link::Http(http) => http.recv().await,
        }
    }

    /// Sends `close` and ends the link. An HTTP session then lingers (see [`Linger`]): the
    /// caller runs it outside whatever waits for live sessions.
    pub async fn close(self, close: Close) -> Linger {
        match self {
            Link::Socket(socket) => {
                socket.close(close).await;
                Linger::none()
            }
            Link::Http(http) => http.close(close).await,
        }
    }

    /// Ends the link without a frame (instance killed, slow consumer): the socket or the
    /// receiving request is cut, as a crash would.
    pub fn abort(self) {
        if let Link::Http(http) = self {
            http.abort();
        }
    }
}
