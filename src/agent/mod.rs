//! Simulated agents: each holds one session, watches a share of the live visitors with
//! `lookup`, and sends signals and invokes at the scenario's rates (an open model: sends are
//! scheduled, and timed from when they were scheduled). What they see goes to the ledger.
//!
//! Everything an agent waits for has a deadline, as a visitor's requests do: each status and
//! lookup its reply timeout, each send the same (a server that stopped reading must not stall
//! the agent, and with it every deadline), the end of the run a last chance of
//! [`END_SETTLE`], the closing its bound.

mod schedule;
mod statuses;
mod watching;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use tokio_util::sync::CancellationToken;

use crate::checks::{agent_name, Ledger, SignalKind, MARKER_KEY};
use crate::client::{ClientError, Connection, Incoming};
use crate::drill::Drills;
use crate::measure::ErrorKind;
use crate::measure::{charged_start, Counter, Recorder};
use crate::scenario::{Agents, Backoff};
use crate::session::{self, Identity, Opener};
use crate::visitor::END_SETTLE;
use crate::wire::close;
use crate::wire::{ClientMessage, ServerMessage};
use schedule::Schedule;
use statuses::Statuses;
use watching::Watches;

/// What every agent of a run shares.
pub struct AgentContext {
    pub opener: Arc<Opener>,
    pub ledger: Arc<Ledger>,
    /// Agents that share this ledger (this agent's group): they split its visitors to watch.
    pub group_agents: u32,
    pub recorder: Recorder,
    pub agents: Agents,
    pub backoff: Backoff,
    pub seed: u64,
    /// Agents send nothing after this instant, so that what they sent can arrive (and be
    /// judged) before the run ends.
    pub send_until: Instant,
    /// Tells whether a lost session fell in a drill window (then it is no error).
    pub drills: Drills,
}

/// Runs agent number `index` until `cancel`.
pub async fn run(ctx: Arc<AgentContext>, index: u32, cancel: CancellationToken) {
    let mut agent = Agent {
        name: agent_name(index),
        index,
        rng: crate::scenario::agent_rng(ctx.seed, index),
        next_number: 0,
        statuses: Statuses::default(),
        watches: Watches::default(),
        signals: ctx
            .agents
            .signals_per_second
            .map(|rate| Schedule::new(rate / f64::from(ctx.agents.count), index, ctx.agents.count)),
        invokes: ctx.agents.invokes.as_ref().map(|invokes| {
            Schedule::new(
                invokes.per_second / f64::from(ctx.agents.count),
                index,
                ctx.agents.count,
            )
        }),
        ctx: &ctx,
    };
    let mut attempt = 0;
    while !cancel.is_cancelled() {
        if !session::back_off(&ctx.backoff, attempt, &mut agent.rng, &cancel).await {
            break;
        }
        let opening = ctx.opener.open(
            Identity::Agent(&agent.name),
            &agent.name,
            "",
            (None, ctx.opener.options.transport),
            &mut agent.rng,
        );
        let mut conn = tokio::select! {
            _ = cancel.cancelled() => break,
            opened = opening => match opened {
                Ok(opened) => opened.conn,
                Err(err) => {
                    ctx.recorder.error(err.kind());
                    attempt += 1;
                    continue;
                }
            },
        };
        match agent.serve(&mut conn, &cancel).await {
            Ok(()) => {
                agent.settle(&mut conn).await;
                // Bounded: a close that cannot be written (a server that stopped reading) is
                // given up, and the connection dropped.
                let _ = tokio::time::timeout(ctx.opener.reply_timeout, conn.close()).await;
                break;
            }
            Err(err) => {
                tracing::debug!(agent = %agent.name, error = %err, "agent session lost");
                let planned = matches!(
                    err,
                    ClientError::Closed { code, .. } if close::is_drain(code)
                ) || ctx.drills.current_event().is_some();
                agent
                    .watches
                    .lost(&ctx.ledger, index, &ctx.recorder, planned);
                if planned {
                    // A move the server or the drill made: what the session carried can never
                    // be answered, and that is no error (docs/reports.md).
                    agent.statuses.forget();
                } else {
                    ctx.recorder.error(ErrorKind::SessionLost);
                    agent.statuses.unanswered(&ctx.recorder);
                }
                attempt = 1;
            }
        }
    }
    agent.statuses.unanswered(&ctx.recorder);
    agent.watches.end_all(&ctx.ledger, index, &ctx.recorder);
}

struct Agent<'a> {
    ctx: &'a AgentContext,
    name: String,
    index: u32,
    rng: SmallRng,
    /// The agent's running number: signal and invoke ids.
    next_number: u64,
    /// Signals and invokes whose status has not come back.
    statuses: Statuses,
    watches: Watches,
    signals: Option<Schedule>,
    invokes: Option<Schedule>,
}

impl Agent<'_> {
    /// Serves one session until the run ends (`Ok`) or the session is lost.
    async fn serve(
        &mut self,
        conn: &mut Connection,
        cancel: &CancellationToken,
    ) -> Result<(), ClientError> {
        for message in self.watches.resume(self.ctx) {
            self.send(conn, &message).await?;
        }
        let mut review = tokio::time::interval(watching::REVIEW_EVERY);
        loop {
            let next_signal = next_due(self.signals.as_ref(), self.ctx.send_until);
            let next_invoke = next_due(self.invokes.as_ref(), self.ctx.send_until);
            let next_deadline = self.next_deadline();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(()),
                received = conn.recv() => self.handle(received?),
                _ = tokio::time::sleep_until(next_deadline.into()) => {
                    for message in self.expire(Instant::now()) {
                        self.send(conn, &message).await?;
                    }
                }
                _ = tokio::time::sleep_until(next_signal.into()) => {
                    self.send_signal(conn, SignalKind::Signal).await?
                }
                _ = tokio::time::sleep_until(next_invoke.into()) => {
                    self.send_signal(conn, SignalKind::Invoke).await?
                }
                _ = review.tick() => {
                    for message in self.watches.review(self.ctx, self.index, &mut self.rng) {
                        self.send(conn, &message).await?;
                    }
                }
            }
        }
    }

    /// Sends `message`, waiting for the socket at most until `deadline`: a send the server does
    /// not take by then (it stopped reading) is left to the transport (a WebSocket frame stays
    /// buffered, an HTTP send is dropped), and the request it carried times out as any other.
    async fn send_by(
        &self,
        conn: &mut Connection,
        message: &ClientMessage,
        deadline: Instant,
    ) -> Result<(), ClientError> {
        match tokio::time::timeout_at(deadline.into(), conn.send(message)).await {
            Ok(sent) => sent?,
            Err(_) => tracing::debug!(agent = %self.name, "a send waited past its reply timeout"),
        }
        self.ctx.recorder.sent(message.kind());
        Ok(())
    }

    async fn send(
        &self,
        conn: &mut Connection,
        message: &ClientMessage,
    ) -> Result<(), ClientError> {
        self.send_by(
            conn,
            message,
            Instant::now() + self.ctx.opener.reply_timeout,
        )
        .await
    }

    /// The earliest deadline of a status or lookup awaited; far away when none is.
    fn next_deadline(&self) -> Instant {
        let deadlines = [self.statuses.next_deadline(), self.watches.next_deadline()];
        deadlines
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    /// Counts what was not answered by its deadline at `now`; answers the `unwatch`es of the
    /// lookups given up.
    fn expire(&mut self, now: Instant) -> Vec<ClientMessage> {
        self.statuses.expire(now, &self.ctx.recorder);
        self.watches.expire(now, &self.ctx.recorder)
    }

    /// The run is over: statuses and lookups still awaited get a last chance of
    /// [`END_SETTLE`] (within their reply timeouts), as a stopped visitor's request does;
    /// whatever is still awaited after it is `unanswered`.
    async fn settle(&mut self, conn: &mut Connection) {
        let until = Instant::now() + END_SETTLE;
        while !self.statuses.is_empty() || self.watches.awaiting_any() {
            let wake = self.next_deadline().min(until);
            tokio::select! {
                biased;
                received = conn.recv() => match received {
                    Ok(incoming) => self.handle(incoming),
                    Err(_) => return,
                },
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if now >= until {
                        return;
                    }
                    // Given-up watches need no `unwatch`: the session is about to close.
                    let _ = self.expire(now);
                }
            }
        }
    }

    async fn send_signal(
        &mut self,
        conn: &mut Connection,
        kind: SignalKind,
    ) -> Result<(), ClientError> {
        let schedule = match kind {
            SignalKind::Signal => self.signals.as_mut(),
            SignalKind::Invoke => self.invokes.as_mut(),
        };
        let Some(schedule) = schedule else {
            return Ok(());
        };
        let scheduled = schedule.advance();
        let Some((visitor, _online)) = self
            .ctx
            .ledger
            .pick_visitor(self.ctx.agents.offline_signals, &mut self.rng)
        else {
            return Ok(());
        };
        self.next_number += 1;
        let number = self.next_number;
        let intended = charged_start(scheduled, Instant::now());
        let id = number.to_string();
        let message = match kind {
            SignalKind::Signal => ClientMessage::Signal {
                visitor: visitor.to_string(),
                id,
                data: serde_json::json!({ "n": number }),
            },
            SignalKind::Invoke => ClientMessage::Invoke {
                visitor: visitor.to_string(),
                id,
                action: self
                    .ctx
                    .agents
                    .invokes
                    .as_ref()
                    .map_or_else(String::new, |invokes| invokes.action.clone()),
                args: serde_json::json!({}),
            },
        };
        self.ctx
            .ledger
            .signal_sent(self.index, number, visitor, kind, intended);
        let deadline = Instant::now() + self.ctx.opener.reply_timeout;
        self.statuses
            .sent(number, intended, deadline, self.ctx.recorder.waiting());
        self.ctx.recorder.count(Counter::SignalsSent, 1);
        self.send_by(conn, &message, deadline).await
    }

    fn handle(&mut self, incoming: Incoming) {
        let Incoming::Message(message) = incoming else {
            return;
        };
        self.ctx.recorder.received(message.kind());
        match message {
            ServerMessage::SignalStatus { id, status, .. }
            | ServerMessage::InvokeStatus { id, status, .. } => {
                let Ok(number) = id.parse::<u64>() else {
                    return;
                };
                self.statuses.answered(number, &self.ctx.recorder);
                self.ctx.ledger.signal_status(self.index, number, status);
            }
            ServerMessage::Presence {
                visitor,
                online,
                data,
                ..
            } => {
                let marker = data.get(MARKER_KEY).and_then(serde_json::Value::as_u64);
                self.watches
                    .presence(&self.ctx.ledger, self.index, &visitor, marker, online);
            }
            ServerMessage::Error { .. } => self.ctx.recorder.error(ErrorKind::ServerError),
            _ => {}
        }
    }
}

/// When the next send of `schedule` is due; far away when there is none or sending is over.
fn next_due(schedule: Option<&Schedule>, send_until: Instant) -> Instant {
    let never = Instant::now() + std::time::Duration::from_secs(3600);
    match schedule {
        Some(schedule) if schedule.next() < send_until => schedule.next(),
        _ => never,
    }
}
