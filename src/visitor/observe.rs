//! What a visitor does with what the server says on its own (signals, focus, drains), and
//! the checks it keeps on it: signals against the agents' ledger, `blur`/`focused` naming the
//! right tab, `blur`s that never came.

use std::time::{Duration, Instant};

use super::runner::{Visitor, WaitMode};
use crate::checks::visitor_side::BlurVerdict;
use crate::checks::{agent_index, Receipt};
use crate::measure::{Check, Counter, ErrorKind, Metric};
use crate::wire::{ClientMessage, ServerMessage};

impl Visitor<'_> {
    /// Takes in a message that arrived on tab `i`: observes it, and answers the ack it calls
    /// for and, when the wait is on this tab (`candidate`), what `matcher` made of it.
    pub(super) fn receive<T>(
        &mut self,
        i: usize,
        message: ServerMessage,
        candidate: bool,
        matcher: impl FnOnce(&ServerMessage) -> Option<T>,
    ) -> (Option<ClientMessage>, Option<T>) {
        self.tabs[i].last_heard = Instant::now();
        self.ctx.recorder.received(message.kind());
        let ack = self.observe(i, &message);
        let found = candidate.then(|| matcher(&message)).flatten();
        if found.is_none() {
            self.keep_unclaimed(i, message);
        }
        (ack, found)
    }

    /// Reacts to what the server says on its own: follows focus, checks signals, and answers
    /// the `signal_ack` that tab `i` must send for a signal or invoke (sent by the caller,
    /// with [`Self::acknowledge`], once it is done with `message`).
    fn observe(&mut self, i: usize, message: &ServerMessage) -> Option<ClientMessage> {
        match message {
            ServerMessage::Signal { id, agent, .. } | ServerMessage::Invoke { id, agent, .. } => {
                self.ctx.recorder.count(Counter::SignalsReceived, 1);
                self.check_signal(i, agent, id);
                return Some(ClientMessage::SignalAck {
                    id: id.clone(),
                    agent: agent.clone(),
                });
            }
            ServerMessage::Blur { tab } => {
                self.check_tab_named(i, tab);
                self.tabs[i].focused = false;
                match self.focus.blurred(&self.tabs[i].id, self.tabs[i].unsettled) {
                    BlurVerdict::Expected(started) => {
                        self.ctx.recorder.since(Metric::Blur, started)
                    }
                    BlurVerdict::Misrouted => {
                        tracing::debug!(
                            visitor = %self.id,
                            tab = %self.tabs[i].id,
                            focus = ?self.focus,
                            "blur misrouted"
                        );
                        self.ctx.recorder.violation(Check::BlurMisrouted);
                    }
                    BlurVerdict::Reordered => {
                        tracing::debug!(
                            visitor = %self.id,
                            tab = %self.tabs[i].id,
                            "blur after a focus the server applied last"
                        );
                    }
                    BlurVerdict::Unsettled => {
                        tracing::debug!(
                            visitor = %self.id,
                            tab = %self.tabs[i].id,
                            "blur to a tab unsettled by another's end"
                        );
                    }
                    BlurVerdict::Unrelated => {}
                }
            }
            ServerMessage::Focused { tab } => {
                self.check_tab_named(i, tab);
                self.tabs[i].focused = true;
                let now = Instant::now();
                self.focus
                    .confirmed(&self.tabs[i].id, now, self.ctx.ledger.grace());
                self.ctx.ledger.focus_moved(&self.id, now);
            }
            ServerMessage::Draining { .. } => self.tabs[i].draining = true,
            ServerMessage::Expired {} => self.tabs[i].expired = true,
            ServerMessage::Error { .. } => self.ctx.recorder.error(ErrorKind::ServerError),
            _ => {}
        }
        None
    }

    /// Sends the `signal_ack` [`Self::observe`] asked for. A lost session is recovered inside
    /// send; the server re-sends unacknowledged signals.
    pub(super) async fn acknowledge(&mut self, i: usize, ack: ClientMessage) {
        let _ = self.send(i, &ack).await;
    }

    /// `blur` and `focused` name the tab they are sent to (docs/protocol.md section 2).
    fn check_tab_named(&self, i: usize, named: &str) {
        if named != self.tabs[i].id {
            self.ctx.recorder.violation(Check::TabMismatch);
        }
    }

    /// Checks a received signal against the ledger: unknown, lost, duplicated, out of order,
    /// unfocused. The harness's agents name themselves `agent-N` and number their signals: a
    /// signal with another sender or id came from no agent of the run.
    fn check_signal(&mut self, i: usize, agent: &str, id: &str) {
        let (Some(agent), Ok(number)) = (agent_index(agent), id.parse::<u64>()) else {
            self.ctx.recorder.violation(Check::SignalsUnknown);
            return;
        };
        let receipt =
            self.ctx
                .ledger
                .signal_received(agent, number, &self.id, self.tabs[i].focused);
        if receipt == Receipt::First && !self.order.in_order(agent, number) {
            self.ctx.recorder.violation(Check::SignalsOutOfOrder);
        }
    }

    /// Counts the `blur`s still missing `patience` past their grace (they went to nobody):
    /// [`crate::checks::visitor_side::MISSING_AFTER`] while the visitor runs, zero when it
    /// stops. What already arrived is read first: a visitor that ran late (a shard starved of
    /// CPU while its visitors stop together) must not take a `blur` waiting unread in its
    /// socket for one that never came. Only then, so the common case costs nothing.
    pub async fn check_missing_blurs(&mut self, patience: Duration) {
        if !self.focus.any_missing(Instant::now(), patience) {
            return;
        }
        // Boxed: rare, and its wait must not size every idle visitor's future.
        Box::pin(self.read_arrived()).await;
        for _ in 0..self.focus.take_missing(Instant::now(), patience) {
            self.ctx.recorder.violation(Check::BlurMissing);
        }
    }

    /// Takes in every message that has arrived on any tab, without waiting for more. The
    /// yield first lets the runtime's I/O driver see what came in while this task was not
    /// running (tokio defers a yielded task until the driver was polled).
    async fn read_arrived(&mut self) {
        tokio::task::yield_now().await;
        let _ = self
            .wait(None, Instant::now(), |_| None::<()>, WaitMode::Settle)
            .await;
    }
}
