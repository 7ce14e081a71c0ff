//! Before the load starts: can a session be opened on the target at all, on each transport
//! the scenario uses? A
//! closed port, a web server that is not a Presence directory (404 on `/locate`), a failed TLS
//! handshake or a socket that never sends the SockJS open frame would otherwise cost the
//! whole run's duration and end with a vague "no session opened". This costs one `/locate`
//! and one connection per transport; it sends no Presence message, so the server sees no
//! visitor.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio_tungstenite::tungstenite;

use crate::protocol::client::{ClientError, ConnectOptions, Connection, Transport};
use crate::protocol::discovery::{Discovery, DiscoveryError};
use crate::protocol::locate::HttpError;

/// Attempts before the target is declared down: one flaky answer is not a down target.
const ATTEMPTS: u32 = 3;
/// Pause between attempts.
const PAUSE: Duration = Duration::from_millis(200);
/// Longest one attempt may take (discovery and opening together).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// What was found where a Presence server was expected.
#[derive(Debug, thiserror::Error)]
#[error("target down: {found}")]
pub struct Down {
    pub found: String,
}

/// Answers `Ok` when a connection opens on every one of `transports`, else what the last
/// attempt on the first that failed found (naming the transport when there are several).
pub async fn check(
    discovery: &Discovery,
    options: &ConnectOptions,
    transports: &[Transport],
    group: &str,
) -> Result<(), Down> {
    for &transport in transports {
        let options = ConnectOptions { transport, ..options.clone() };
        check_one(discovery, &options, group).await.map_err(|down| match transports {
            [_] => down,
            _ => Down { found: format!("{}: {}", transport.name(), down.found) },
        })?;
    }
    Ok(())
}

/// Answers `Ok` as soon as one attempt opens a connection (then closed at once), else what the
/// last attempt found.
async fn check_one(discovery: &Discovery, options: &ConnectOptions, group: &str) -> Result<(), Down> {
    let mut found = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(PAUSE).await;
        }
        match tokio::time::timeout(ATTEMPT_TIMEOUT, open(discovery, options, group)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(why)) => found = why,
            Err(_) => found = format!("no connection opened within {ATTEMPT_TIMEOUT:?}"),
        }
    }
    Err(Down { found })
}

async fn open(discovery: &Discovery, options: &ConnectOptions, group: &str) -> Result<(), String> {
    let endpoint = discovery.endpoint(group, "presence-bench-preflight").await.map_err(|err| located(&err))?;
    // Any SockJS session path will do, but a fresh one each time: an HTTP session outlives
    // the probe on the server, and the next transport's probe must not land on it.
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let conn = Connection::open(&endpoint, options, &mut rng).await.map_err(|err| opened(&err))?;
    conn.close().await;
    Ok(())
}

/// What a 401 or 403 means to whoever reads the verdict.
const REFUSED: &str =
    "the target refused the request's credentials (none sent, or not these): see target.headers or run --header";

/// Whether `status` is the server refusing the request's credentials.
fn refused(status: u16) -> bool {
    status == 401 || status == 403
}

/// Names what `/locate` answered.
fn located(err: &DiscoveryError) -> String {
    match err {
        DiscoveryError::Locate(HttpError::Status { status, url, .. }) if refused(status.as_u16()) => {
            format!("HTTP {status} on /locate ({url}): {REFUSED}")
        }
        DiscoveryError::Locate(HttpError::Status { status, url, .. }) => {
            format!("not a Presence server: HTTP {} on /locate ({url})", status.as_u16())
        }
        DiscoveryError::Locate(HttpError::Body { url, reason }) => {
            format!("not a Presence server: /locate answered no Presence location ({url}: {reason})")
        }
        DiscoveryError::Locate(other) => format!("the directory did not answer: {other}"),
        DiscoveryError::Endpoint(other) => format!("/locate answered an unusable URL: {other}"),
    }
}

/// Names what opening the session's transport met.
fn opened(err: &ClientError) -> String {
    match err {
        ClientError::Connect { addr, source } => format!("cannot connect to {addr}: {source}"),
        ClientError::Tls(reason) => format!("TLS failure: {reason}"),
        ClientError::Handshake(tungstenite::Error::Http(response)) if refused(response.status().as_u16()) => {
            format!("HTTP {} on the WebSocket upgrade: {REFUSED}", response.status())
        }
        ClientError::Handshake(reason) => format!("not a Presence server: WebSocket upgrade failed ({reason})"),
        ClientError::Status { status, request } if refused(status.as_u16()) => {
            format!("HTTP {status} on a SockJS {request} request: {REFUSED}")
        }
        ClientError::Protocol(reason) => format!("not a Presence server: no SockJS open frame ({reason})"),
        ClientError::Status { status, .. } => {
            format!("not a Presence server: HTTP {} on a SockJS transport", status.as_u16())
        }
        other => format!("the session could not be opened: {other}"),
    }
}
