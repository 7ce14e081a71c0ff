//! Before the load starts: does the target speak the Presence protocol at all, on each
//! transport the scenario uses? A closed port, a web server that is not a Presence directory
//! (404 on `/locate`), an instance URL `/locate` answered that this machine cannot reach, a
//! failed TLS handshake, a socket that never sends the SockJS open frame, or a SockJS server
//! that speaks another message format (it opens sessions and never answers `connect`) would
//! otherwise cost the whole run's duration and end with a vague "no session opened". Each
//! probe costs one `/locate` and one session, in which one visitor of the scenario's group,
//! [`PROBE_VISITOR`], connects and leaves at once: the least a server must serve
//! (docs/protocol.md, "What a server must implement").

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio_tungstenite::tungstenite;

use crate::client::discovery::{Discovery, DiscoveryError};
use crate::client::{ClientError, ConnectOptions, Connection, Endpoint, Incoming};
use crate::net::http_client::HttpError;
use crate::wire::Transport;
use crate::wire::{ClientMessage, ServerMessage};

/// Attempts before the target is declared down: one flaky answer is not a down target.
const ATTEMPTS: u32 = 3;
/// Pause between attempts.
const PAUSE: Duration = Duration::from_millis(200);
/// Longest one attempt may take to open a session (discovery and opening together).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest an open session may take to answer `connect`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// The visitor each probe connects, named so a server's operator can tell it apart.
pub const PROBE_VISITOR: &str = "presence-bench-preflight";

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
        let options = ConnectOptions {
            transport,
            ..options.clone()
        };
        check_one(discovery, &options, group)
            .await
            .map_err(|down| match transports {
                [_] => down,
                _ => Down {
                    found: format!("{}: {}", transport.name(), down.found),
                },
            })?;
    }
    Ok(())
}

/// Answers `Ok` as soon as one attempt opens a connection (then closed at once), else what the
/// last attempt found.
async fn check_one(
    discovery: &Discovery,
    options: &ConnectOptions,
    group: &str,
) -> Result<(), Down> {
    let mut found = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(PAUSE).await;
        }
        match open(discovery, options, group).await {
            Ok(()) => return Ok(()),
            Err(why) => found = why,
        }
    }
    Err(Down { found })
}

async fn open(discovery: &Discovery, options: &ConnectOptions, group: &str) -> Result<(), String> {
    let opening = tokio::time::timeout(ATTEMPT_TIMEOUT, open_session(discovery, options, group));
    let mut conn = opening
        .await
        .map_err(|_| format!("no connection opened within {ATTEMPT_TIMEOUT:?}"))??;
    let answered = match tokio::time::timeout(ANSWER_TIMEOUT, connects(&mut conn, group)).await {
        Ok(answered) => answered,
        Err(_) => Err(format!("{NO_CONNECTED} within {ANSWER_TIMEOUT:?}")),
    };
    conn.close().await;
    answered
}

/// Locates and opens a session, naming what failed and where.
async fn open_session(
    discovery: &Discovery,
    options: &ConnectOptions,
    group: &str,
) -> Result<Connection, String> {
    let endpoint = discovery
        .endpoint(group, PROBE_VISITOR)
        .await
        .map_err(|err| located(&err))?;
    // Any SockJS session path will do, but a fresh one each time: an HTTP session outlives
    // the probe on the server, and the next transport's probe must not land on it.
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    Connection::open(&endpoint, options, &mut rng)
        .await
        .map_err(|err| {
            let located = matches!(discovery, Discovery::Directory { .. }).then_some(&endpoint);
            opened(&err, located)
        })
}

/// Connects the probe visitor on an open session: `Ok` once `connected` comes, else what
/// came instead (a server that never answers is caught by [`ANSWER_TIMEOUT`]).
async fn connects(conn: &mut Connection, group: &str) -> Result<(), String> {
    let connect = ClientMessage::Connect {
        group: group.to_owned(),
        visitor: PROBE_VISITOR.to_owned(),
        tab: "preflight".into(),
    };
    conn.send(&connect)
        .await
        .map_err(|err| format!("the session was lost before `connect`: {err}"))?;
    loop {
        match conn.recv().await {
            Ok(Incoming::Message(ServerMessage::Connected { .. })) => return Ok(()),
            Ok(Incoming::Message(ServerMessage::Draining { .. }) | Incoming::Heartbeat) => continue,
            Ok(Incoming::Message(ServerMessage::Error { code, message })) => {
                return Err(format!(
                    "{NO_CONNECTED}: it answered error {code:?} ({message})"
                ))
            }
            Ok(Incoming::Message(other)) => {
                return Err(format!("{NO_CONNECTED}: it answered `{}`", other.kind()))
            }
            Err(ClientError::Protocol(reason)) => return Err(format!("{NO_CONNECTED}: {reason}")),
            Err(err) => return Err(format!("{NO_CONNECTED}: {err}")),
        }
    }
}

/// What a SockJS server that does not speak the Presence protocol is found to be.
const NO_CONNECTED: &str =
    "not a Presence server: the SockJS session opened, but `connect` got no `connected`";

/// What a 401 or 403 means to whoever reads the verdict.
const REFUSED: &str =
    "the target refused the request's credentials (none sent, or not these): see target.headers or \
     run --header";

/// Whether `status` is the server refusing the request's credentials.
fn refused(status: u16) -> bool {
    status == 401 || status == 403
}

/// Names what `/locate` answered.
fn located(err: &DiscoveryError) -> String {
    match err {
        DiscoveryError::Locate(HttpError::Status { status, url, .. })
            if refused(status.as_u16()) =>
        {
            format!("HTTP {status} on /locate ({url}): {REFUSED}")
        }
        DiscoveryError::Locate(HttpError::Status { status, url, .. }) => {
            format!(
                "not a Presence server: HTTP {} on /locate ({url})",
                status.as_u16()
            )
        }
        DiscoveryError::Locate(HttpError::Body { url, reason }) => {
            format!(
                "not a Presence server: /locate answered no Presence location ({url}: {reason})"
            )
        }
        DiscoveryError::Locate(other) => format!("the directory did not answer: {other}"),
        DiscoveryError::Endpoint(other) => format!("/locate answered an unusable URL: {other}"),
    }
}

/// Names what opening the session's transport met; `located` is the instance `/locate`
/// answered, named in the message, since the directory may hand out an address that this
/// machine cannot reach (a cluster-internal one) though the directory itself answers.
fn opened(err: &ClientError, located: Option<&Endpoint>) -> String {
    let found = match err {
        ClientError::Connect { addr, source } => format!("cannot connect to {addr}: {source}"),
        ClientError::Tls(reason) => format!("TLS failure: {reason}"),
        ClientError::Handshake(tungstenite::Error::Http(response))
            if refused(response.status().as_u16()) =>
        {
            format!(
                "HTTP {} on the WebSocket upgrade: {REFUSED}",
                response.status()
            )
        }
        ClientError::Handshake(reason) => {
            format!("not a Presence server: WebSocket upgrade failed ({reason})")
        }
        ClientError::Status { status, request } if refused(status.as_u16()) => {
            format!("HTTP {status} on a SockJS {request} request: {REFUSED}")
        }
        ClientError::Protocol(reason) => {
            format!("not a Presence server: no SockJS open frame ({reason})")
        }
        ClientError::Status { status, .. } => {
            format!(
                "not a Presence server: HTTP {} on a SockJS transport",
                status.as_u16()
            )
        }
        other => format!("the session could not be opened: {other}"),
    };
    match located {
        Some(endpoint) => format!(
            "{found} (the instance /locate answered: {})",
            endpoint.url()
        ),
        None => found,
    }
}
