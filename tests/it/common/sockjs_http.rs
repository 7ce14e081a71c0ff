//! A minimal client of the server's SockJS HTTP transports for the tests: one receiving
//! request at a time (`xhr`, `xhr_streaming`, `eventsource`) and `xhr_send`. The harness's
//! own HTTP-transport visitors live elsewhere; this only has to speak the frames plainly.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming as Body;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use presence_bench::wire::sockjs::{self, ServerFrame};
use presence_bench::wire::{ClientMessage, ServerMessage};

use super::within;

/// The receiving requests of the HTTP transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiving {
    Xhr,
    XhrStreaming,
    EventSource,
}

pub use Receiving::{EventSource, Xhr, XhrStreaming};

impl Receiving {
    fn path(self) -> &'static str {
        match self {
            Xhr => "xhr",
            XhrStreaming => "xhr_streaming",
            EventSource => "eventsource",
        }
    }

    fn method(self) -> Method {
        match self {
            EventSource => Method::GET,
            Xhr | XhrStreaming => Method::POST,
        }
    }
}

/// One SockJS session over HTTP.
pub struct HttpSession {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `http://HOST:PORT/presence/000/SESSION`
    base: String,
}

/// One open receiving request and the frames it carried so far.
pub struct Stream {
    kind: Receiving,
    body: Body,
    buffer: String,
}

impl HttpSession {
    /// A new session id on the instance at `url` (`ws://HOST:PORT/presence`).
    pub fn new(url: &str) -> Self {
        let id: u64 = rand::random();
        let base = format!("{}/000/{id:x}", url.replacen("ws://", "http://", 1));
        HttpSession {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base,
        }
    }

    async fn request(&self, method: Method, path: &str, body: &str) -> Response<Body> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}/{path}", self.base))
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a request");
        within("an answer", self.client.request(request))
            .await
            .expect("the server answers")
    }

    /// Opens a receiving request; its frames are read with [`Stream::next`].
    pub async fn receive(&self, kind: Receiving) -> Stream {
        let response = self.request(kind.method(), kind.path(), "").await;
        assert_eq!(response.status(), StatusCode::OK);
        Stream {
            kind,
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// One `xhr` poll: the frame it answers.
    pub async fn poll(&self) -> ServerFrame {
        let mut stream = self.receive(Xhr).await;
        let frame = stream.next().await.expect("a frame");
        assert!(stream.next().await.is_none(), "a poll answers one frame");
        frame
    }

    /// `xhr_send` with `body` as it is: the status and the answer's text.
    pub async fn send_raw(&self, body: &str) -> (StatusCode, String) {
        let response = self.request(Method::POST, "xhr_send", body).await;
        let status = response.status();
        let text = within("the answer's body", response.into_body().collect())
            .await
            .expect("a body")
            .to_bytes();
        (status, String::from_utf8_lossy(&text).into_owned())
    }

    /// `xhr_send` of `messages`, which the server must take (204).
    pub async fn send(&self, messages: &[ClientMessage]) {
        let encoded: Vec<String> = messages.iter().map(ClientMessage::encode).collect();
        let (status, _) = self.send_raw(&sockjs::encode_client_frame(&encoded)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
}

impl Stream {
    /// The next frame; `None` once the response has ended.
    pub async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            if let Some(frame) = self.take_frame() {
                return Some(frame);
            }
            let chunk = within("a frame", self.body.frame())
                .await?
                .expect("the response goes on");
            if let Ok(data) = chunk.into_data() {
                self.buffer
                    .push_str(std::str::from_utf8(&data).expect("UTF-8 frames"));
            }
        }
    }

    fn take_frame(&mut self) -> Option<ServerFrame> {
        let (separator, prefix) = match self.kind {
            Xhr | XhrStreaming => ("\n", ""),
            EventSource => ("\r\n\r\n", "data: "),
        };
        loop {
            let end = self.buffer.find(separator)?;
            let line: String = self.buffer.drain(..end + separator.len()).collect();
            // The preludes: 2 KiB of `h` on xhr_streaming, an empty line before the first event.
            let line = line[..end].trim_start_matches("\r\n");
            if line.is_empty() || (line.len() == 2048 && line.bytes().all(|b| b == b'h')) {
                continue;
            }
            let frame = line.strip_prefix(prefix).expect("an event's data");
            return Some(sockjs::decode_server_frame(frame).expect("a SockJS frame"));
        }
    }

    /// The next frame, which must carry messages: them, decoded.
    pub async fn messages(&mut self) -> Vec<ServerMessage> {
        messages_of(self.next().await.expect("a frame"))
    }
}

/// The messages of a frame that must carry some.
pub fn messages_of(frame: ServerFrame) -> Vec<ServerMessage> {
    match frame {
        ServerFrame::Messages(messages) => messages
            .iter()
            .map(|text| ServerMessage::decode(text).expect("a server message"))
            .collect(),
        other => panic!("expected messages, got {other:?}"),
    }
}
