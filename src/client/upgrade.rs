//! The client's WebSocket opening handshake (RFC 6455 section 4.1) on an open stream.
//!
//! tungstenite builds the request and parses the response (`generate_request`,
//! `Response::try_parse`); only the reading is done here, and that is the point:
//! tungstenite's own client handshake reads into a 4 KiB buffer and hands that buffer on to
//! the connection, which keeps it for life, whatever read buffer size was configured. At
//! tens of thousands of idle visitors that buffer was half of each one's memory. Reading
//! the response into a small buffer of its own lets the connection start with the read
//! buffer `WebSocketConfig` asks for.
//!
//! The run's own headers (`target.headers`) are added to tungstenite's request here rather
//! than handed to it: tungstenite logs the whole request it builds at trace level, and those
//! headers hold secrets.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::handshake::client::{generate_request, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Error;
use tokio_tungstenite::WebSocketStream;

use super::stream::Stream;
use crate::net::headers::Headers;

/// How much of the response is read at a time: a 101 response is about 200 bytes.
const READ_CHUNK: usize = 512;
/// A response head longer than this is not a WebSocket upgrade worth waiting for.
const MAX_RESPONSE: usize = 16 * 1024;

/// Sends the upgrade request for `url`, with `headers`, on `stream` and checks the server's
/// answer. Bytes the server sent after its response (a SockJS `o` frame, often) stay with the
/// connection.
pub async fn upgrade(
    mut stream: Stream,
    url: &str,
    headers: &Headers,
    config: WebSocketConfig,
) -> Result<WebSocketStream<Stream>, Error> {
    let (mut request, key) = generate_request(url.into_client_request()?)?;
    if !headers.is_empty() {
        // The head ends with an empty line: the headers go before it.
        request.truncate(request.len() - 2);
        for (name, value) in headers.iter() {
            request.extend_from_slice(name.as_str().as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(value.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
    }
    stream.write_all(&request).await?;
    let mut received = Vec::with_capacity(READ_CHUNK);
    let (head_len, response) = loop {
        if received.len() >= MAX_RESPONSE {
            return Err(Error::Capacity(CapacityError::TooManyHeaders));
        }
        received.reserve(READ_CHUNK);
        if stream.read_buf(&mut received).await? == 0 {
            return Err(Error::Protocol(ProtocolError::HandshakeIncomplete));
        }
        if let Some(parsed) = Response::try_parse(&received)? {
            break parsed;
        }
    };
    verify(response, &key)?;
    let rest = received.split_off(head_len);
    Ok(WebSocketStream::from_partially_read(stream, rest, Role::Client, Some(config)).await)
}

/// The client's checks of RFC 6455 section 4.1 (steps 1 to 4; no extensions or subprotocols
/// are asked for, so none may be answered).
fn verify(response: Response, key: &str) -> Result<(), Error> {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(Error::Http(Box::new(response)));
    }
    let headers = response.headers();
    let header_is = |name: &str, wanted: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(',')
                    .any(|token| token.trim().eq_ignore_ascii_case(wanted))
            })
    };
    if !header_is("Upgrade", "websocket") {
        return Err(Error::Protocol(
            ProtocolError::MissingUpgradeWebSocketHeader,
        ));
    }
    if !header_is("Connection", "Upgrade") {
        return Err(Error::Protocol(
            ProtocolError::MissingConnectionUpgradeHeader,
        ));
    }
    if headers
        .get("Sec-WebSocket-Accept")
        .is_none_or(|accept| accept != derive_accept_key(key.as_bytes()).as_str())
    {
        return Err(Error::Protocol(
            ProtocolError::SecWebSocketAcceptKeyMismatch,
        ));
    }
    if headers.contains_key("Sec-WebSocket-Protocol") {
        return Err(Error::Protocol(
            ProtocolError::SecWebSocketSubProtocolError(
                SubProtocolError::ServerSentSubProtocolNoneRequested,
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use futures_util::StreamExt;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_tungstenite::tungstenite::Message;

    use super::*;

    /// A one-shot server: reads the request head, writes what `answer` makes of the
    /// request's key and the bytes `then` in one write, and ends its side.
    pub(crate) async fn answering(
        answer: impl FnOnce(&str) -> String + Send + 'static,
        then: Vec<u8>,
    ) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut reader = BufReader::new(socket);
            let mut key = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).await.unwrap();
                if let Some(value) = line.strip_prefix("Sec-WebSocket-Key: ") {
                    key = value.trim().to_owned();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let socket = reader.get_mut();
            socket
                .write_all(&[answer(&key).into_bytes(), then].concat())
                .await
                .unwrap();
            socket.shutdown().await.unwrap();
        });
        addr
    }

    async fn upgrade_at(addr: std::net::SocketAddr) -> Result<WebSocketStream<Stream>, Error> {
        let stream = Stream::Plain(TcpStream::connect(addr).await.unwrap());
        upgrade(
            stream,
            "ws://127.0.0.1/x/websocket",
            &Headers::default(),
            WebSocketConfig::default(),
        )
        .await
    }

    /// The error of an upgrade that must fail.
    async fn refusal(addr: std::net::SocketAddr) -> Error {
        match upgrade_at(addr).await {
            Ok(_) => panic!("the upgrade was accepted"),
            Err(err) => err,
        }
    }

    /// An unmasked WebSocket text frame (a server's), for payloads under 126 bytes.
    pub(crate) fn text_frame(payload: &str) -> Vec<u8> {
        assert!(payload.len() < 126);
        [&[0x81, payload.len() as u8], payload.as_bytes()].concat()
    }

    pub(crate) fn switching(accept: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
    }

    #[tokio::test]
    async fn a_frame_sent_with_the_response_is_kept() {
        // An unmasked text frame "o" (a SockJS open frame) right behind the response head.
        let server = answering(
            |key| switching(&derive_accept_key(key.as_bytes())),
            text_frame("o"),
        )
        .await;
        let mut ws = upgrade_at(server).await.unwrap();
        let first = ws.next().await.unwrap().unwrap();
        assert_eq!(first, Message::text("o"));
    }

    #[tokio::test]
    async fn the_runs_headers_go_with_the_upgrade() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let head = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut reader = BufReader::new(socket);
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).await.unwrap();
                if line == "\r\n" {
                    return lines;
                }
                lines.push(line.trim_end().to_owned());
            }
        });
        let pairs = ["Authorization: Bearer x", "Origin: https://shop.example"].map(|line| {
            let (name, value) = crate::net::headers::parse_line(line).unwrap();
            (name, value.unwrap())
        });
        let headers = Headers::new(pairs.to_vec()).unwrap();
        let stream = Stream::Plain(TcpStream::connect(addr).await.unwrap());
        // The server hangs up after the head: only the request matters here.
        let _ = upgrade(
            stream,
            "ws://127.0.0.1/x/websocket",
            &headers,
            WebSocketConfig::default(),
        )
        .await;
        let lines = head.await.unwrap();
        assert!(
            lines[0].starts_with("GET /x/websocket HTTP/1.1"),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with("Sec-WebSocket-Key: ")),
            "{lines:?}"
        );
        let last = &lines[lines.len() - 2..];
        assert_eq!(
            last,
            ["authorization: Bearer x", "origin: https://shop.example"]
        );
    }

    #[tokio::test]
    async fn a_wrong_accept_key_is_refused() {
        let server = answering(|_| switching("bm90IHRoZSByaWdodCBrZXk="), Vec::new()).await;
        let err = refusal(server).await;
        assert!(
            matches!(
                err,
                Error::Protocol(ProtocolError::SecWebSocketAcceptKeyMismatch)
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_refusal_keeps_its_status() {
        let server = answering(
            |_| "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
            Vec::new(),
        )
        .await;
        let err = refusal(server).await;
        assert!(
            matches!(&err, Error::Http(response) if response.status() == StatusCode::NOT_FOUND),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_server_that_hangs_up_mid_response_is_an_error() {
        let server = answering(|_| "HTTP/1.1 101 Switching".to_owned(), Vec::new()).await;
        let err = refusal(server).await;
        assert!(
            matches!(err, Error::Protocol(ProtocolError::HandshakeIncomplete)),
            "{err}"
        );
    }
}
