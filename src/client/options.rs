//! Where and how the harness opens a connection: the settings every transport shares.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::net::headers::Headers;
use crate::wire::Transport;

/// Where and how to open a connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub transport: Transport,
    /// Source address to bind, so client sockets can be spread over 127.0.0.2, .3, ...
    pub local_ip: Option<IpAddr>,
    /// Read buffer per connection, in bytes. It is held for the connection's whole life,
    /// and grows (for good) only when a bigger frame arrives.
    pub read_buffer: usize,
    /// Largest message accepted from the server, in bytes.
    pub max_message: usize,
    /// TLS settings for `wss://` endpoints; `None` trusts the public webpki roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// How long an HTTP transport's `xhr_send` may wait for its answer (a WebSocket send
    /// waits for nobody); `target.reply_timeout`.
    pub send_timeout: Duration,
    /// Sent on the upgrade and on every HTTP-transport request (`target.headers`); one list
    /// shared by every connection, never copied into one.
    pub headers: Headers,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            transport: Transport::Sockjs,
            local_ip: None,
            // A SockJS frame with a presence ack is about 45 bytes, `connected` about 100; a
            // larger frame (a signal with data) grows the buffer to its size (tungstenite
            // reserves a frame's length from its header). 4 KiB (tungstenite's chunk) was half
            // of an idle visitor's memory, 1 KiB a quarter.
            read_buffer: 256,
            max_message: 1 << 20,
            tls: None,
            send_timeout: Duration::from_secs(10),
            headers: Headers::default(),
        }
    }
}
