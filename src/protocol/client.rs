//! Client transports: SockJS over WebSocket, raw WebSocket, and the SockJS HTTP transports
//! (`xhr_streaming`, `xhr_polling`, `eventsource`; see `http_session`) (docs/protocol.md section 1).
//!
//! A [`Connection`] hides the transport and its framing: callers send [`ClientMessage`]s and
//! receive [`ServerMessage`]s whichever transport is in use, so a visitor's logic is the same
//! on all of them. Buffers are sized for presence traffic, not tungstenite's 128 KiB
//! defaults, because a harness holds tens of thousands of these at once; the HTTP
//! transports' state is boxed, so a WebSocket connection does not grow by it.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::headers::Headers;
use super::http_session::HttpSession;
use super::message::{ClientMessage, ServerMessage};
use super::sockjs::{self, ServerFrame};
use super::stream::Stream;

/// Which transport and framing a connection uses.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// SockJS WebSocket transport: `{prefix}/{server}/{session}/websocket`.
    #[default]
    Sockjs,
    /// Raw WebSocket: `{prefix}/websocket`, one message per text frame.
    Websocket,
    /// SockJS `xhr_streaming`: one long POST response carries the frames; sends by `xhr_send`.
    XhrStreaming,
    /// SockJS `xhr` polling: one POST per frame; sends by `xhr_send`.
    XhrPolling,
    /// SockJS `eventsource`: a GET answered with Server-Sent Events; sends by `xhr_send`.
    Eventsource,
}

impl Transport {
    /// Every transport, in the order reports list them.
    pub const ALL: [Transport; 5] = [
        Transport::Sockjs,
        Transport::Websocket,
        Transport::XhrStreaming,
        Transport::XhrPolling,
        Transport::Eventsource,
    ];

    /// The name scenarios, metric labels and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Sockjs => "sockjs",
            Transport::Websocket => "websocket",
            Transport::XhrStreaming => "xhr_streaming",
            Transport::XhrPolling => "xhr_polling",
            Transport::Eventsource => "eventsource",
        }
    }

    /// The transport named `name`, if any.
    pub fn from_name(name: &str) -> Option<Transport> {
        Transport::ALL
            .into_iter()
            .find(|transport| transport.name() == name)
    }

    /// Whether it carries SockJS framing (all but raw WebSocket): an `o` frame first, then
    /// `h`, `a[...]` and `c[...]` frames.
    pub fn has_sockjs_framing(self) -> bool {
        self != Transport::Websocket
    }

    /// Whether it runs over plain HTTP requests rather than a WebSocket.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            Transport::XhrStreaming | Transport::XhrPolling | Transport::Eventsource
        )
    }
}

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

/// Something received on a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Message(ServerMessage),
    /// A sign of life that carries no message: a SockJS `h` frame, or a WebSocket ping or
    /// pong. Servers keep a quiet session alive either way (sockjs-node pings its WebSocket
    /// sessions and sends no `h` on them), and both prove the session is alive.
    Heartbeat,
}

/// A parsed `ws://host:port/prefix` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash, e.g. `/presence`.
    pub prefix: String,
    /// `wss://`: the session runs over TLS.
    pub tls: bool,
}

impl Endpoint {
    /// Parses a `ws://` or `wss://` URL.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|err: http::uri::InvalidUri| invalid(&err.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(invalid("expected a ws:// or wss:// URL")),
        };
        let host = uri
            .host()
            .ok_or_else(|| invalid("no host"))?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Endpoint {
            host,
            port,
            prefix,
            tls,
        })
    }

    /// The endpoint as a URL, `ws://host:port/prefix`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}{}", self.port, self.prefix)
    }

    fn path_for(&self, transport: Transport, rng: &mut impl Rng) -> String {
        match transport {
            Transport::Websocket => format!("{}/websocket", self.prefix),
            _ => format!("{}/websocket", self.session_base(rng)),
        }
    }

    /// A new SockJS session's path, `{prefix}/{server}/{session}`, which each transport's
    /// path ends. The session id is salted per process: an HTTP session outlives its requests
    /// on the server (its disconnect delay), so the same id drawn again by a rerun with the
    /// same seed, or by another shard, would land on a session still held (2010, 1002).
    fn session_base(&self, rng: &mut impl Rng) -> String {
        static SALT: OnceLock<u64> = OnceLock::new();
        let salt = *SALT.get_or_init(|| rand::rng().random());
        let server: u16 = rng.random_range(0..1000);
        let session: u64 = rng.random::<u64>() ^ salt;
        format!("{}/{server:03}/{session:016x}", self.prefix)
    }
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
            Transport::Websocket => encoded,
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
                Transport::Websocket => {
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

/// The TLS settings used when none are given: the public webpki roots, built once.
fn default_tls() -> Arc<rustls::ClientConfig> {
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| super::tls::client_config(None).expect("the built-in roots need no file"))
        .clone()
}

fn decode_message(text: &str) -> Result<ServerMessage, ClientError> {
    ServerMessage::decode(text)
        .map_err(|err| ClientError::Protocol(format!("undecodable message {text:?}: {err}")))
}

/// Opens the byte stream under a session: TCP from the chosen source address, then TLS for
/// `wss://`. Every transport connects this way.
pub(super) async fn connect_stream(
    endpoint: &Endpoint,
    options: &ConnectOptions,
) -> Result<Stream, ClientError> {
    let tcp = connect_tcp(endpoint, options.local_ip).await?;
    if endpoint.tls {
        let tls = options.tls.clone().unwrap_or_else(default_tls);
        Stream::tls(tcp, &endpoint.host, tls)
            .await
            .map_err(|err| ClientError::Tls(err.to_string()))
    } else {
        Ok(Stream::Plain(tcp))
    }
}

async fn connect_tcp(
    endpoint: &Endpoint,
    local_ip: Option<IpAddr>,
) -> Result<TcpStream, ClientError> {
    let target = format!("{}:{}", endpoint.host, endpoint.port);
    let connect_err = |source| ClientError::Connect {
        addr: target.clone(),
        source,
    };
    let addr: SocketAddr = match target.parse() {
        Ok(addr) => addr,
        Err(_) => tokio::net::lookup_host(&target)
            .await
            .map_err(connect_err)?
            .next()
            .ok_or_else(|| connect_err(std::io::Error::other("host has no address")))?,
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(connect_err)?;
    if let Some(ip) = local_ip {
        defer_port_choice(&socket);
        socket.bind(SocketAddr::new(ip, 0)).map_err(connect_err)?;
    }
    let stream = socket.connect(addr).await.map_err(connect_err)?;
    stream.set_nodelay(true).map_err(connect_err)?;
    Ok(stream)
}

/// Lets the kernel pick the local port at `connect`, by the whole 4-tuple, rather than at
/// `bind` (`IP_BIND_ADDRESS_NO_PORT`): a `bind(ip, 0)` must find a port no other socket on
/// that address holds, a search that grows with every socket already bound there (thousands
/// per source address in a large run) and that caps an address at one socket per port
/// whatever the destination. Best effort: without it, `bind` works as before. Public for the
/// bare client (examples/bare_storm.rs), which must bind as the harness does.
pub fn defer_port_choice(socket: &TcpSocket) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: setsockopt(2) on a socket this function borrows, with a pointer to a live
        // c_int and its size; the kernel copies the value and keeps no pointer.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                std::ptr::from_ref(&on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the port choice deferred, `bind(ip, 0)` takes no port (the search a large run
    /// paid for at every connect); `connect` picks one.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_bound_source_address_takes_its_port_at_connect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        defer_port_choice(&socket);
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(
            socket.local_addr().unwrap().port(),
            0,
            "no port taken at bind"
        );
        let stream = socket
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert_ne!(
            stream.local_addr().unwrap().port(),
            0,
            "a port chosen at connect"
        );
    }

    #[test]
    fn endpoints_parse_host_port_and_prefix() {
        let endpoint = Endpoint::parse("ws://127.0.0.1:8080/presence/").unwrap();
        assert_eq!(
            endpoint,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 8080,
                prefix: "/presence".into(),
                tls: false
            }
        );
        assert!(matches!(
            Endpoint::parse("http://x/presence"),
            Err(ClientError::InvalidUrl { .. })
        ));
        let secure = Endpoint::parse("wss://x/presence").unwrap();
        assert!(secure.tls && secure.port == 443);
        assert_eq!(secure.url(), "wss://x:443/presence");
        assert_eq!(
            Endpoint::parse("ws://[::1]:9/p").unwrap().url(),
            "ws://[::1]:9/p"
        );
    }

    #[tokio::test]
    async fn every_message_of_a_sockjs_frame_arrives_in_order() {
        use crate::protocol::upgrade::tests::{answering, switching, text_frame};
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
        use crate::protocol::upgrade::tests::{answering, switching, text_frame};
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

    #[test]
    fn sockjs_paths_are_valid() {
        let endpoint = Endpoint::parse("ws://h:1/presence").unwrap();
        let mut rng = rand::rng();
        let path = endpoint.path_for(Transport::Sockjs, &mut rng);
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(parts[1], "presence");
        assert!(sockjs::is_valid_server_id(parts[2]) && sockjs::is_valid_session_id(parts[3]));
        assert_eq!(parts[4], "websocket");
        assert_eq!(
            endpoint.path_for(Transport::Websocket, &mut rng),
            "/presence/websocket"
        );
    }
}
