//! What a visitor does with what the server says on its own (signals, focus, drains), and
//! the checks it keeps on it: signals against the agents' ledger, `blur`/`focused` naming the
//! right tab, `blur`s that never came.

use std::time::Instant;

use super::runner::{Interrupt, Visitor};
use crate::checks::visitor_side::BlurVerdict;
use crate::checks::{agent_index, Receipt};
use crate::measure::{Check, Counter, ErrorKind, Metric};
use crate::protocol::{ClientMessage, ServerMessage};

impl Visitor<'_> {
    /// Reacts to what the server says on its own: acknowledges signals, follows focus.
    pub(super) async fn observe(&mut self, i: usize, message: &ServerMessage) -> Result<(), Interrupt> {
        match message {
            ServerMessage::Signal { id, agent, .. } | ServerMessage::Invoke { id, agent, .. } => {
                self.ctx.recorder.count(Counter::SignalsReceived, 1);
                self.check_signal(i, agent, id);
                let ack = ClientMessage::SignalAck { id: id.clone(), agent: agent.clone() };
                // A lost session is recovered inside send; the server re-sends unacked signals.
                let _ = self.send(i, &ack).await;
            }
            ServerMessage::Blur { tab } => {
                self.check_tab_named(i, tab);
                self.tabs[i].focused = false;
                match self.focus.blurred(&self.tabs[i].id) {
                    BlurVerdict::Expected(started) => self.ctx.recorder.since(Metric::Blur, started),
                    BlurVerdict::Misrouted => self.ctx.recorder.violation(Check::BlurMisrouted),
                    BlurVerdict::Unrelated => {}
                }
            }
            ServerMessage::Focused { tab } => {
                self.check_tab_named(i, tab);
                self.tabs[i].focused = true;
            }
            ServerMessage::Draining { .. } => self.tabs[i].draining = true,
            ServerMessage::Expired {} => self.tabs[i].expired = true,
            ServerMessage::Error { .. } => self.ctx.recorder.error(ErrorKind::ServerError),
            _ => {}
        }
        Ok(())
    }

    /// `blur` and `focused` name the tab they are sent to (PROTOCOL.md section 2).
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
        let receipt = self.ctx.ledger.signal_received(agent, number, &self.id, self.tabs[i].focused);
        if receipt == Receipt::First && !self.order.in_order(agent, number) {
            self.ctx.recorder.violation(Check::SignalsOutOfOrder);
        }
    }

    /// Counts a `blur` that should have come by now and did not (it went to nobody).
    pub fn check_overdue_blur(&mut self) {
        for _ in 0..self.focus.overdue(Instant::now()) {
            self.ctx.recorder.violation(Check::BlurMisrouted);
        }
    }
}
