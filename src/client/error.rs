//! What can go wrong on the harness's client connections, whichever transport: the report
//! files each variant under an error kind (`session/kind_of.rs`).

use tokio_tungstenite::tungstenite;

/// What can go wrong on a client connection.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("TCP connect to {addr} failed: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("WebSocket handshake failed: {0}")]
    Handshake(tungstenite::Error),
    #[error("server closed the session: {code} {reason:?}")]
    Closed { code: u16, reason: String },
    #[error("connection lost: {0}")]
    Lost(String),
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("the server sent a message over the {limit}-byte limit")]
    FrameTooLarge { limit: usize },
    #[error("the server answered {request} with HTTP {status}")]
    Status {
        request: &'static str,
        status: http::StatusCode,
    },
}
