//! The client side of the SockJS HTTP transports (SockJS protocol 0.3.3): `xhr_streaming`,
//! `xhr` (polling) and `eventsource` to receive, `xhr_send` to send, all over hyper.
//!
//! A session holds up to two HTTP/1.1 connections, as a browser does: one for the
//! receiving request (a long stream, or one poll after another) and one for sends, each
//! kept alive and reused. They are opened like a WebSocket's (same source address, same TLS
//! settings: `dial::connect_stream`). Receiving is a state machine polled from
//! `Connection::poll_recv`, so it is cancel-safe and one task can wait on several tabs.
//!
//! Every way a server can misbehave ends in an error, never a hang or unbounded memory:
//! a frame over the limit or a response that ends inside one (see `http_frames`), a
//! response with no frame at all (a server answering empty bodies would otherwise be
//! polled in a hot loop), a status other than 200, a send unanswered within the send
//! timeout. A receiving request that stays silent is the visitor's heartbeat timeout's to
//! catch, as for WebSocket.
//!
//! Every request carries the run's headers (`target.headers`) and the session's cookies: a
//! `Set-Cookie` on any answer is kept in the session's [`Jar`] and sent back on its later
//! requests, as a browser does, so a load balancer that pins sessions by cookie sees each
//! session's requests as one.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::cookies::Jar;
use super::dial::connect_stream;
use super::endpoint::Endpoint;
use super::error::ClientError;
use super::options::ConnectOptions;
use crate::wire::http_frames::{FrameError, FrameReader, Framing};
use crate::wire::Transport;

/// Smallest read of an HTTP connection: a response head must not take many reads.
const MIN_READ: usize = 1024;
/// Largest body read from an `xhr_send` answer (it should be empty).
const MAX_SEND_ANSWER: usize = 1024;

type Sender = SendRequest<Full<Bytes>>;
type Exchange =
    Pin<Box<dyn Future<Output = Result<(Sender, Response<Incoming>), ClientError>> + Send + Sync>>;

/// How to reach the session's server: shared by the requests in flight.
struct Dial {
    endpoint: Endpoint,
    options: ConnectOptions,
}

/// The receiving side: between requests, waiting for a response's head, reading its body
/// (`framed`: it held a frame), or failed for good (the session is over).
enum Receiving {
    Idle(Option<Sender>),
    Requesting(Exchange),
    Reading {
        body: Incoming,
        conn: Sender,
        framed: bool,
    },
    Failed,
}

/// One SockJS session over HTTP.
pub struct HttpSession {
    dial: Arc<Dial>,
    transport: Transport,
    /// `{prefix}/{server}/{session}`: the transports' paths end it.
    base: String,
    receiving: Receiving,
    /// The connection sends go on, kept between sends.
    sender: Option<Sender>,
    reader: FrameReader,
    /// Frames read and not handed out yet (a response piece may complete several).
    frames: VecDeque<String>,
    /// A receiving request was answered: the session exists on the server.
    opened: bool,
    /// Cookies the server set on this session's answers.
    jar: Jar,
}

impl HttpSession {
    /// A session at `base`; nothing is sent until the first frame is asked for.
    pub fn new(endpoint: &Endpoint, options: &ConnectOptions, base: String) -> Self {
        let framing = match options.transport {
            Transport::Eventsource => Framing::EventSource,
            _ => Framing::Lines,
        };
        HttpSession {
            dial: Arc::new(Dial {
                endpoint: endpoint.clone(),
                options: options.clone(),
            }),
            transport: options.transport,
            base,
            receiving: Receiving::Idle(None),
            sender: None,
            reader: FrameReader::new(framing, options.max_message),
            frames: VecDeque::new(),
            opened: false,
            jar: Jar::default(),
        }
    }

    /// Polls for the next frame, issuing receiving requests as they end. After an error the
    /// session stays failed: it is never revived by a request of its own.
    pub fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<String, ClientError>> {
        let polled = self.poll_receiving(cx);
        if let Poll::Ready(Err(_)) = &polled {
            self.receiving = Receiving::Failed;
        }
        polled
    }

    fn poll_receiving(&mut self, cx: &mut Context<'_>) -> Poll<Result<String, ClientError>> {
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return Poll::Ready(Ok(frame));
            }
            match &mut self.receiving {
                Receiving::Idle(conn) => {
                    let (method, name) = match self.transport {
                        Transport::Eventsource => (Method::GET, "eventsource"),
                        Transport::XhrPolling => (Method::POST, "xhr"),
                        _ => (Method::POST, "xhr_streaming"),
                    };
                    let path = format!("{}/{name}", self.base);
                    let cookie = cookie(&self.jar, &self.dial);
                    let exchange = exchange(
                        self.dial.clone(),
                        conn.take(),
                        method,
                        path,
                        Bytes::new(),
                        cookie,
                    );
                    self.receiving = Receiving::Requesting(Box::pin(exchange));
                }
                Receiving::Requesting(exchange) => {
                    let opened = self.opened;
                    let (conn, response) = ready!(exchange.as_mut().poll(cx))
                        .map_err(|err| lost_once_open(err, opened))?;
                    self.opened = true;
                    self.jar.keep(response.headers());
                    if response.status() != StatusCode::OK {
                        return Poll::Ready(Err(ClientError::Status {
                            request: "receive",
                            status: response.status(),
                        }));
                    }
                    self.reader.start();
                    self.receiving = Receiving::Reading {
                        body: response.into_body(),
                        conn,
                        framed: false,
                    };
                }
                Receiving::Reading { body, framed, .. } => {
                    match ready!(Pin::new(body).poll_frame(cx)) {
                        Some(Ok(piece)) => {
                            if let Ok(data) = piece.into_data() {
                                self.reader
                                    .feed(&data, &mut self.frames)
                                    .map_err(|err| framing_error(&err))?;
                                *framed |= !self.frames.is_empty();
                            }
                        }
                        Some(Err(err)) => {
                            return Poll::Ready(Err(ClientError::Lost(format!("receiving: {err}"))))
                        }
                        None => {
                            self.reader.finish().map_err(|err| framing_error(&err))?;
                            if !*framed {
                                return Poll::Ready(Err(ClientError::Protocol(
                                    "a response ended without a frame".into(),
                                )));
                            }
                            // A poll answered, or a stream ended at its byte limit: ask again, on
                            // the same connection.
                            if let Receiving::Reading { conn, .. } =
                                std::mem::replace(&mut self.receiving, Receiving::Failed)
                            {
                                self.receiving = Receiving::Idle(Some(conn));
                            }
                        }
                    }
                }
                Receiving::Failed => {
                    return Poll::Ready(Err(ClientError::Lost("the session failed before".into())))
                }
            }
        }
    }

    /// Sends a client frame with `xhr_send`, waiting for the server's answer at most the
    /// send timeout.
    ///
    /// A 404 (the server no longer knows the session) is not an error here: the server ended
    /// the session, and why (`c[3000]` after `draining`, say) is on its way on the receiving
    /// side, which sends do not share. Failing the send instead would lose the session before
    /// its reason arrived, and a planned move would count as a loss. The message is not
    /// delivered, so its reply never comes: the receiving side ends the session, or the
    /// reply timeout does.
    pub async fn send(&mut self, frame: String) -> Result<(), ClientError> {
        let timeout = self.dial.options.send_timeout;
        let path = format!("{}/xhr_send", self.base);
        let cookie = cookie(&self.jar, &self.dial);
        let exchange = exchange(
            self.dial.clone(),
            self.sender.take(),
            Method::POST,
            path,
            Bytes::from(frame),
            cookie,
        );
        let jar = &mut self.jar;
        let answered = async {
            let (conn, response) = exchange.await?;
            jar.keep(response.headers());
            let status = response.status();
            // Read to its end, so the connection can carry the next send.
            let body = Limited::new(response.into_body(), MAX_SEND_ANSWER)
                .collect()
                .await;
            match status {
                StatusCode::NO_CONTENT | StatusCode::OK | StatusCode::NOT_FOUND if body.is_ok() => {
                    Ok(conn)
                }
                StatusCode::NO_CONTENT | StatusCode::OK | StatusCode::NOT_FOUND => {
                    Err(ClientError::Protocol(format!(
                        "xhr_send answered {status} with a body over {MAX_SEND_ANSWER} bytes"
                    )))
                }
                status => Err(ClientError::Status {
                    request: "xhr_send",
                    status,
                }),
            }
        };
        let conn = tokio::time::timeout(timeout, answered)
            .await
            .map_err(|_| ClientError::Lost(format!("xhr_send unanswered within {timeout:?}")))?
            .map_err(|err| lost_once_open(err, true))?;
        self.sender = Some(conn);
        Ok(())
    }
}

/// The `Cookie` header of a session's next request, when the server set cookies: the
/// configured one's merged with them. `None`: the configured headers go as given.
fn cookie(jar: &Jar, dial: &Dial) -> Option<http::HeaderValue> {
    jar.header(dial.options.headers.get(&header::COOKIE))
}

/// One request (with the run's headers, and `cookie` for the configured `Cookie` when the
/// session has cookies of its own) and its response's head, on `reused` if it is still open,
/// else on a new connection. A reused connection that fails before the head arrived (the server
/// closed it while idle) gets the request again once, on a new connection.
async fn exchange(
    dial: Arc<Dial>,
    reused: Option<Sender>,
    method: Method,
    path: String,
    body: Bytes,
    cookie: Option<http::HeaderValue>,
) -> Result<(Sender, Response<Incoming>), ClientError> {
    let authority = format!("{}:{}", dial.endpoint.host, dial.endpoint.port);
    let request = || {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path.as_str())
            .header(header::HOST, authority.as_str())
            .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
            .body(Full::new(body.clone()))
            .map_err(|err| ClientError::Protocol(format!("request {path:?}: {err}")))?;
        dial.options
            .headers
            .add_to(request.headers_mut(), cookie.clone());
        Ok(request)
    };
    if let Some(mut conn) = reused.filter(|conn| !conn.is_closed()) {
        if conn.ready().await.is_ok() {
            if let Ok(response) = conn.send_request(request()?).await {
                return Ok((conn, response));
            }
        }
    }
    let mut conn = connect(&dial).await?;
    conn.ready()
        .await
        .map_err(|err| ClientError::Lost(err.to_string()))?;
    let response = conn
        .send_request(request()?)
        .await
        .map_err(|err| ClientError::Lost(err.to_string()))?;
    Ok((conn, response))
}

/// Opens an HTTP/1.1 connection. Its driver runs as a task of its own, which ends when the
/// session lets go of the connection (or the server closes it).
async fn connect(dial: &Dial) -> Result<Sender, ClientError> {
    let stream = connect_stream(&dial.endpoint, &dial.options).await?;
    // Reads of a fixed, small size instead of hyper's 8 KiB buffer that grows: a receiving
    // connection is held for the session's whole life, by thousands of visitors at once.
    let (sender, driver) = http1::Builder::new()
        .read_buf_exact_size(Some(dial.options.read_buffer.max(MIN_READ)))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|err| ClientError::Lost(format!("HTTP handshake: {err}")))?;
    tokio::spawn(async move {
        if let Err(err) = driver.await {
            tracing::trace!(error = %err, "HTTP connection ended");
        }
    });
    Ok(sender)
}

/// An error of a request made once the session is open: a connection that cannot be made
/// (the instance stopped listening, as at the end of a drain) loses the session, as a
/// dropped WebSocket does, so the visitor reconnects; before, it is the opening's error.
fn lost_once_open(err: ClientError, opened: bool) -> ClientError {
    match err {
        ClientError::Connect { .. } | ClientError::Tls(_) if opened => {
            ClientError::Lost(err.to_string())
        }
        other => other,
    }
}

/// A body that broke the framing: over the limit names the limit, as on WebSocket.
fn framing_error(err: &FrameError) -> ClientError {
    match err {
        FrameError::TooLarge { limit } => ClientError::FrameTooLarge { limit: *limit },
        other => ClientError::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_refused_once_open_is_a_lost_session() {
        let refused = || ClientError::Connect {
            addr: "x".into(),
            source: std::io::Error::from_raw_os_error(111),
        };
        // The instance stopped listening (a drain's end): the visitor reconnects elsewhere.
        assert!(matches!(
            lost_once_open(refused(), true),
            ClientError::Lost(_)
        ));
        // Opening: the opener's own error, retried with backoff there.
        assert!(matches!(
            lost_once_open(refused(), false),
            ClientError::Connect { .. }
        ));
    }
}
