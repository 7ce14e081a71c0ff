//! Serving HTTP/1 and WebSocket upgrades with every wait bounded, for the reference server
//! and the harness's `/metrics` endpoint alike.
//!
//! axum's own `serve` reads request heads with no deadline, and its graceful shutdown waits
//! for every connection to close: a client that sent half a request kept `serve`, a run
//! against the embedded cluster, and a run's `/metrics` endpoint alive after SIGTERM, for
//! good. Here a request head must arrive within [`Bounds::header_read_timeout`], and after
//! `stop` open connections get [`Bounds::grace`] to finish before they are closed.
//!
//! A connection that upgrades to a WebSocket leaves this server's hands at the upgrade:
//! the session's own task is bounded by whoever runs it (the cluster, for its sessions).

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::upgrade_hold::UpgradeHold;

/// How long a server waits on its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// A request head (request line and headers) must arrive within this, counted from the
    /// connection's start or from the end of the previous answer; otherwise the connection
    /// is closed, so a slow or stalled client cannot hold it.
    pub header_read_timeout: Duration,
    /// After `stop`, how long open connections get to finish their request before they are
    /// closed.
    pub grace: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            header_read_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
        }
    }
}

/// Serves `router` on `listener` until `stop`; then stops accepting, lets open connections
/// finish for `bounds.grace`, closes those left, and returns.
pub async fn serve(listener: TcpListener, router: Router, stop: CancellationToken, bounds: Bounds) {
    let mut connections = JoinSet::new();
    let closing = CancellationToken::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            // Finished connections are reaped as they go, so the set stays as large as
            // what is open.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(
                        stream,
                        router.clone(),
                        closing.clone(),
                        bounds.header_read_timeout,
                    ));
                }
                Err(err) => accept_failed(err).await,
            },
        }
    }
    drop(listener);
    closing.cancel();
    if tokio::time::timeout(bounds.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace; closing them"
        );
        connections.shutdown().await;
    }
}

/// One connection, answered until the client leaves, its head times out, or `closing` asks
/// it to finish what it is doing and close.
async fn connection(
    stream: TcpStream,
    router: Router,
    closing: CancellationToken,
    header_read_timeout: Duration,
) {
    // Small frames must leave at once: Nagle's algorithm would hold them for the peer's
    // delayed ACK (tens of milliseconds) and show up as server latency.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "could not set TCP_NODELAY");
    }
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    // A `101` leaves with the session's first frame (SockJS `o`), in one write (upgrade_hold).
    let io = TokioIo::new(UpgradeHold::new(stream));
    let connection = builder
        .serve_connection(io, TowerToHyperService::new(router))
        .with_upgrades();
    tokio::pin!(connection);
    let mut asked_to_close = false;
    let result = loop {
        tokio::select! {
            result = connection.as_mut() => break result,
            () = closing.cancelled(), if !asked_to_close => {
                asked_to_close = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(err) = result {
        tracing::debug!(%err, "HTTP connection ended with an error");
    }
}

/// Errors of one incoming connection (the peer gave up) are not the listener's; others (out
/// of file descriptors, mostly) pass with time, so accepting pauses a moment, as axum does.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::warn!(%err, "accepting a connection failed; pausing for a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Longest wait in these tests; far above the bounds they set.
    const WAIT: Duration = Duration::from_secs(5);

    async fn started(
        bounds: Bounds,
    ) -> (
        std::net::SocketAddr,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let router = Router::new().route("/", get(|| async { "ok" }));
        let task = tokio::spawn(serve(listener, router, stop.clone(), bounds));
        (addr, stop, task)
    }

    /// A client that sent a request line and one header, and nothing more.
    async fn half_a_request(addr: std::net::SocketAddr) -> TcpStream {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stream
    }

    #[tokio::test]
    async fn a_half_sent_request_is_closed_when_its_head_times_out() {
        let bounds = Bounds {
            header_read_timeout: Duration::from_millis(200),
            grace: WAIT,
        };
        let (addr, _stop, _task) = started(bounds).await;
        let mut slow = half_a_request(addr).await;
        let mut rest = Vec::new();
        // The server closes the connection (after a 408 answer, or none): end of stream.
        let read = tokio::time::timeout(WAIT, slow.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "the connection is still open after the header timeout"
        );
    }

    #[tokio::test]
    async fn shutdown_ends_within_the_grace_with_a_half_sent_request_open() {
        let bounds = Bounds {
            header_read_timeout: Duration::from_secs(3600),
            grace: Duration::from_millis(200),
        };
        let (addr, stop, task) = started(bounds).await;
        let _slow = half_a_request(addr).await;
        // An answered request on another connection: the server is up and serving.
        let mut fine = TcpStream::connect(addr).await.unwrap();
        fine.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        fine.read_to_string(&mut answer).await.unwrap();
        assert!(answer.ends_with("ok"), "{answer}");
        stop.cancel();
        tokio::time::timeout(WAIT, task)
            .await
            .expect("serve returns after its grace")
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed"
        );
    }
}
