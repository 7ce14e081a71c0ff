//! The small HTTP client of both sides: discovery (`GET /locate`, docs/protocol.md section 4)
//! for visitors and for a partitioned server's directory, admin requests and drill actions.
//!
//! It speaks plain JSON over HTTP/1 with a timeout per request and pooled keep-alive connections:
//! thousands of visitors locating at once must not each open a socket. Every answer is read up to
//! [`MAX_BODY`] bytes and no further: a broken server's endless body ends in an error,
//! not in gigabytes held by the harness.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::headers::Headers;
use crate::wire::locate::{locate_url, Located};

/// Longest answer read, in bytes. A `/locate` or admin answer is a few hundred bytes;
/// 64 KiB leaves room for a drill action's chattier endpoint.
pub const MAX_BODY: usize = 64 * 1024;

/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(5);

/// Most requests in flight at once, per client. The pool opens a connection for every
/// request that finds none idle, so a ramp of 19,000 visitors opened about one HTTP connection
/// to the directory per visitor, each with hyper's 16 KiB of buffers kept for `POOL_IDLE`: a
/// TCP handshake on both sides per `/locate`, and tens of MiB of the harness's peak RSS.
/// Requests past this many wait for a pooled keep-alive connection (inside their timeout)
/// instead. The cap is wide enough that a partitioned server's directory, which forwards
/// every `/locate` to its owner with this client too, keeps 32 per child in flight with 8
/// children.
const MAX_IN_FLIGHT: usize = 256;

/// What can go wrong with an HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    #[error("request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("{url} answered with unexpected JSON: {reason}")]
    Body { url: String, reason: String },
    #[error("{url} answered a body over the {limit}-byte limit")]
    BodyTooLarge { url: String, limit: usize },
}

/// A pooled HTTP/1 client (`http://` and `https://`) for discovery and admin requests.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    /// [`MAX_IN_FLIGHT`] permits, shared by the clones.
    in_flight: Arc<Semaphore>,
    /// Sent on every request: the target's `target.headers` for discovery, none for admin
    /// and drill requests (another host must not be handed the target's credentials).
    headers: Headers,
}

impl HttpClient {
    /// A client trusting the public webpki roots for `https://`.
    pub fn new(timeout: Duration) -> Self {
        Self::with_tls(
            timeout,
            super::tls::client_config(None).expect("the built-in roots need no file"),
        )
    }

    /// A client trusting what `tls` trusts for `https://`.
    pub fn with_tls(timeout: Duration, tls: Arc<rustls::ClientConfig>) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // Idle connections are dropped before servers drop them (the reference server closes
        // a connection that sends no request for 10 s), so a request is rarely sent on a
        // connection the server is closing.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        HttpClient {
            client,
            timeout,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            headers: Headers::default(),
        }
    }

    /// The same client, sending `headers` on every request.
    pub fn with_headers(self, headers: Headers) -> Self {
        HttpClient { headers, ..self }
    }

    /// Sends a request without a body; answers the status and body.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        self.send(method, url, Bytes::new()).await
    }

    /// Sends a request with `body` (drill actions post whatever the scenario says).
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(body))
            .map_err(|_| HttpError::InvalidUrl(url.to_owned()))?;
        self.headers.add_to(request.headers_mut(), None);
        let failed = |reason: String| HttpError::Request {
            url: url.to_owned(),
            reason,
        };
        let exchange = async {
            // Never closed, so acquiring cannot fail; the permit is held until the body is read.
            let _permit = self
                .in_flight
                .acquire()
                .await
                .map_err(|err| failed(err.to_string()))?;
            let response = self
                .client
                .request(request)
                .await
                .map_err(|err| failed(with_causes(&err)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|err| {
                    if err.is::<LengthLimitError>() {
                        HttpError::BodyTooLarge {
                            url: url.to_owned(),
                            limit: MAX_BODY,
                        }
                    } else {
                        failed(err.to_string())
                    }
                })?;
            Ok((status, body.to_bytes()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout {
                url: url.to_owned(),
                timeout: self.timeout,
            })?
    }

    /// Sends a request and decodes a JSON answer; any status but 2xx is an error.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
    ) -> Result<T, HttpError> {
        let (status, body) = self.request(method, url).await?;
        if !status.is_success() {
            let body = String::from_utf8_lossy(&body).into_owned();
            return Err(HttpError::Status {
                url: url.to_owned(),
                status,
                body,
            });
        }
        serde_json::from_slice(&body).map_err(|err| HttpError::Body {
            url: url.to_owned(),
            reason: err.to_string(),
        })
    }

    /// Asks the directory at `base` (`http://HOST:PORT`) where `visitor` of `group` belongs.
    pub async fn locate(
        &self,
        base: &str,
        group: &str,
        visitor: &str,
    ) -> Result<Located, HttpError> {
        let url = locate_url(base, group, visitor)
            .ok_or_else(|| HttpError::InvalidUrl(base.to_owned()))?;
        self.json(Method::GET, &url).await
    }
}

/// An error with its causes (`client error (Connect): tcp connect error: Connection refused`):
/// hyper's own message alone does not say what went wrong.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A directory that reads requests and never answers; counts the requests that arrive
    /// before `until`.
    async fn silent_directory(until: Instant) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut socket = BufReader::new(socket);
                    let mut line = String::new();
                    while socket.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                        if line == "\r\n" && Instant::now() < until {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        line.clear();
                    }
                });
            }
        });
        (base, received)
    }

    #[tokio::test]
    async fn a_burst_of_locates_keeps_a_bounded_number_of_requests_in_flight() {
        let timeout = Duration::from_secs(1);
        // Requests sent after the first timeouts (into the permits they free) are not counted.
        let (base, received) = silent_directory(Instant::now() + timeout * 9 / 10).await;
        // A small cap, so the burst stays well within the listener's backlog.
        let cap = 8;
        let client = HttpClient {
            in_flight: Arc::new(Semaphore::new(cap)),
            ..HttpClient::new(timeout)
        };
        // All started at once: an unbounded pool opens a connection and sends a request for
        // each; the directory answers none, so every one stays in flight until its timeout.
        let burst = 3 * cap;
        let locates = (0..burst).map(|i| {
            let (client, base) = (client.clone(), base.clone());
            async move { client.locate(&base, "1", &format!("v{i}")).await }
        });
        for located in futures_util::future::join_all(locates).await {
            assert!(
                matches!(located, Err(HttpError::Timeout { .. })),
                "{located:?}"
            );
        }
        assert_eq!(
            received.load(Ordering::Relaxed),
            cap,
            "requests in flight at once"
        );
    }
}
