//! Opening a session for a visitor's tab or an agent: discovery, transport, and the
//! `connect`, `connect_unique` or `agent_connect` handshake; visitors' openings are timed as
//! the `connect` / `unique_assign` metrics. [`kind_of`] names each way it fails for the
//! report.

pub mod kind_of;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::client::discovery::{Discovery, DiscoveryError};
use crate::client::{ClientError, ConnectOptions, Connection, Incoming, OpenPhases};
use crate::measure::{label, Check, ErrorKind, Metric, Recorder, Tally};
use crate::scenario::Backoff;
use crate::wire::Transport;
use crate::wire::{close, ClientMessage, ServerMessage};

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("no answer to {0} within {1:?}")]
    Timeout(&'static str, Duration),
    #[error("unexpected answer to {request}: {answer:?}")]
    Unexpected {
        request: &'static str,
        answer: Box<ServerMessage>,
    },
}

impl SessionError {
    /// Whether the instance sent the opening away because it drains (docs/protocol.md section 4:
    /// new connections to a draining instance get `c[3000,"Go away!"]` at once): a move the
    /// server asked for, to be tried again elsewhere, not an error.
    pub fn is_drain(&self) -> bool {
        matches!(
            self,
            SessionError::Client(ClientError::Closed { code, .. }) if close::is_drain(*code)
        )
    }

    /// A short, low-cardinality name for reports.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SessionError::Discovery(err) => kind_of::discovery(err),
            SessionError::Client(err) => kind_of::client(err),
            SessionError::Timeout(..) => ErrorKind::Timeout,
            SessionError::Unexpected { .. } => ErrorKind::UnexpectedReply,
        }
    }
}

/// The pause before try number `attempt` at opening a session, for visitors and agents
/// alike: none before the first, then `backoff`'s delay for the retry, cut short by
/// `cancel`. Answers whether to go on trying.
pub async fn back_off(
    backoff: &Backoff,
    attempt: u32,
    rng: &mut impl Rng,
    cancel: &CancellationToken,
) -> bool {
    if attempt == 0 {
        return true;
    }
    let delay = backoff.delay(attempt - 1, rng);
    tokio::select! {
        biased;
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

/// How a tab identifies itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity<'a> {
    /// `connect` as this visitor id.
    Visitor(&'a str),
    /// `connect_unique`: the server assigns a 6-digit id.
    Unique,
    /// `agent_connect` as this agent.
    Agent(&'a str),
}

/// What the server said when the session opened.
pub struct Opened {
    pub conn: Connection,
    /// The visitor id the session holds (assigned by the server for unique sessions; the
    /// agent's name for agent sessions).
    pub visitor: String,
    /// The instance that serves the session, as a label (`unknown` when the answer names
    /// none), interned once here: interning takes a process-wide lock.
    pub server: &'static str,
}

/// Everything needed to open sessions, shared by all visitors.
pub struct Opener {
    pub discovery: Discovery,
    pub options: ConnectOptions,
    pub group: String,
    pub recorder: Recorder,
    /// How long to wait for the server's answer to a request.
    pub reply_timeout: Duration,
}

impl Opener {
    /// Opens a session for `tab` on `transport` and completes the handshake. `locate_as` is
    /// the id used for discovery (for unique sessions, the previous id or any stable key).
    pub async fn open(
        &self,
        identity: Identity<'_>,
        locate_as: &str,
        tab: &str,
        (local_ip, transport): (Option<IpAddr>, Transport),
        rng: &mut impl Rng,
    ) -> Result<Opened, SessionError> {
        let started = Instant::now();
        let endpoint = self.discovery.endpoint(&self.group, locate_as).await?;
        let located = Instant::now();
        let options = ConnectOptions {
            local_ip,
            transport,
            ..self.options.clone()
        };
        let (mut conn, phases) = tokio::time::timeout(
            self.reply_timeout,
            Connection::open_timed(&endpoint, &options, rng),
        )
        .await
        .map_err(|_| SessionError::Timeout("open", self.reply_timeout))??;
        let opened = Instant::now();
        let group = self.group.clone();
        let (request, name, metric) = match identity {
            Identity::Visitor(visitor) => (
                ClientMessage::Connect {
                    group,
                    visitor: visitor.to_owned(),
                    tab: tab.to_owned(),
                },
                "connect",
                Some(Metric::Connect),
            ),
            Identity::Unique => (
                ClientMessage::ConnectUnique {
                    group,
                    tab: tab.to_owned(),
                },
                "connect_unique",
                Some(Metric::UniqueAssign),
            ),
            Identity::Agent(agent) => (
                ClientMessage::AgentConnect {
                    group,
                    agent: agent.to_owned(),
                },
                "agent_connect",
                None,
            ),
        };
        conn.send(&request).await?;
        self.recorder.sent(request.kind());
        // One deadline for the answer: heartbeats meanwhile do not move it, or a server that
        // keeps the session alive and never answers would hold the opening for ever.
        let answer_by = tokio::time::Instant::now() + self.reply_timeout;
        let answer = loop {
            match tokio::time::timeout_at(answer_by, conn.recv()).await {
                Err(_) => return Err(SessionError::Timeout(name, self.reply_timeout)),
                Ok(Err(err)) => return Err(err.into()),
                Ok(Ok(Incoming::Heartbeat)) => continue,
                // The instance began to drain before it answered: its go-away close follows,
                // and ends this opening as a move ([`SessionError::is_drain`]).
                Ok(Ok(Incoming::Message(draining @ ServerMessage::Draining { .. }))) => {
                    self.recorder.received(draining.kind());
                    continue;
                }
                Ok(Ok(Incoming::Message(message))) => break message,
            }
        };
        // One instant ends the connect and its last phase, so that no phase can outlast the
        // whole when the bookkeeping below waits for a lock or the CPU.
        let answered = Instant::now();
        self.recorder.received(answer.kind());
        // A session that names someone else is used as the one asked for, and counted: the
        // server mixed up who is who, and every later check of this session would be misled.
        let (visitor, server) = match (identity, answer) {
            (
                Identity::Visitor(asked),
                ServerMessage::Connected {
                    visitor, server, ..
                },
            ) => {
                self.check_named(asked, &visitor);
                (visitor, Some(server))
            }
            (Identity::Unique, ServerMessage::Unique { visitor, .. }) => (visitor, None),
            (Identity::Agent(asked), ServerMessage::AgentConnected { agent, server }) => {
                self.check_named(asked, &agent);
                (agent, Some(server))
            }
            (_, other) => {
                return Err(SessionError::Unexpected {
                    request: name,
                    answer: Box::new(other),
                })
            }
        };
        let server = server.as_deref().map_or("unknown", label::intern);
        if let Some(metric) = metric {
            self.recorder.latency(metric, answered - started);
            if metric == Metric::Connect {
                self.record_phases(located - started, phases, answered - opened);
            }
            self.recorder.session_opened();
            self.recorder.tally(Tally::SessionOpened, server);
        }
        Ok(Opened {
            conn,
            visitor,
            server,
        })
    }

    /// Records where a visitor's `connect` spent its time (the `connect_*` metrics); a phase
    /// this target does not have (`/locate` of an instance, `o` of raw WebSocket) is left out
    /// rather than recorded as zero.
    fn record_phases(&self, locate: Duration, phases: OpenPhases, handshake: Duration) {
        let located = matches!(self.discovery, Discovery::Directory { .. });
        let sockjs = self.options.transport == Transport::Sockjs;
        self.recorder.latency_each(
            [
                located.then_some((Metric::ConnectLocate, locate)),
                Some((Metric::ConnectTcp, phases.tcp)),
                Some((Metric::ConnectUpgrade, phases.upgrade)),
                sockjs.then_some((Metric::ConnectOpen, phases.open)),
                Some((Metric::ConnectHandshake, handshake)),
            ]
            .into_iter()
            .flatten(),
        );
    }

    fn check_named(&self, asked: &str, named: &str) {
        if asked != named {
            self.recorder.violation(Check::ConnectedMismatch);
        }
    }
}
