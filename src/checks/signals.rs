//! Signals and invokes: sent by agents, received by visitors, matched here.
//!
//! A signal is *due* once the server has confirmed it (`signal_status`: delivered or
//! queued) and the visitor is known to be online with it: online at the confirmation, or
//! replayed by a later `connect`. A due signal that has not arrived `grace` later is lost.
//! One never confirmed (the agent's session was lost with it in flight) may never have
//! reached the server: it cannot be lost, and is counted undeliverable if it never arrives.
//! Receiving one that is no longer tracked means it was received before: a duplicate.

use std::sync::Arc;
use std::time::Instant;

use super::{Ledger, State, FOCUS_MOVE_WITHIN, UNDELIVERABLE_AFTER};
use crate::measure::{Check, Counter, Metric};
use crate::wire::Status;

/// (agent index, the agent's running number of the signal).
pub(super) type SignalKey = (u32, u64);

/// What was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Signal,
    Invoke,
}

pub(super) struct SignalEntry {
    visitor: Arc<str>,
    /// When the agent meant to send it (latencies are timed from intent).
    intended: Instant,
    kind: SignalKind,
    /// The visitor was offline when it was sent: delivery waits for its next connect.
    queued: bool,
    /// The server answered its status (delivered or queued): it reached the server.
    pub(super) confirmed: bool,
    /// When it must have arrived; `None` while unconfirmed or the visitor is offline.
    pub(super) due_by: Option<Instant>,
    /// The drill event whose window was open when it was sent.
    drill: Option<usize>,
}

/// How a visitor's receipt of a signal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Received for the first time.
    First,
    /// Received before (at-least-once delivery allows this).
    Duplicate,
    /// No agent of the run sent it to this visitor: the server made it up or misdelivered it.
    Unknown,
}

impl Ledger {
    /// An agent sent signal `number` to `visitor`, intended at `intended`.
    pub fn signal_sent(
        &self,
        agent: u32,
        number: u64,
        visitor: Arc<str>,
        kind: SignalKind,
        intended: Instant,
    ) {
        let mut state = self.lock();
        let state = &mut *state;
        let entry = state.visitors.entry(visitor.clone()).or_default();
        let online = entry.online_at.is_some();
        entry.outstanding.push((agent, number));
        let newest = state.newest_signal.entry(agent).or_insert(0);
        *newest = (*newest).max(number);
        let drill = self.drills.current_event();
        let signal = SignalEntry {
            visitor,
            intended,
            kind,
            queued: !online,
            confirmed: false,
            due_by: None,
            drill,
        };
        state.signals.insert((agent, number), signal);
    }

    /// The server answered a signal's status: it reached the server, and is due now if the
    /// visitor is online; a rejected one will never arrive.
    pub fn signal_status(&self, agent: u32, number: u64, status: Status) {
        let mut state = self.lock();
        let state = &mut *state;
        if status == Status::Rejected {
            self.recorder.count(Counter::SignalsRejected, 1);
            if let Some(entry) = state.signals.remove(&(agent, number)) {
                forget_outstanding(state, &entry.visitor, (agent, number));
            }
            return;
        }
        let Some(entry) = state.signals.get_mut(&(agent, number)) else {
            return;
        };
        entry.confirmed = true;
        let Some(visitor) = state
            .visitors
            .get(&entry.visitor)
            .filter(|visitor| visitor.online_at.is_some())
        else {
            return;
        };
        if entry.due_by.is_none() {
            let now = Instant::now();
            let from = visitor.focus_moves_by.map_or(now, |by| by.max(now));
            entry.due_by = Some(from + self.grace);
        }
    }

    /// `visitor` closed or lost its focused tab, and another tab of it stays open. The server
    /// may not know yet (an HTTP tab the client stopped polling is gone only after the
    /// server's disconnect delay), and what it sent to the closed tab comes again on the tab
    /// that takes focus once it knows: the visitor's signals are due from the `focused` that
    /// says so ([`Self::focus_moved`]), or from [`FOCUS_MOVE_WITHIN`] at the latest. What was
    /// overdue already stays so.
    pub fn focused_tab_closed(&self, visitor: &str, now: Instant) {
        if !self.roster {
            return;
        }
        let mut state = self.lock();
        let state = &mut *state;
        let Some(entry) = state
            .visitors
            .get_mut(visitor)
            .filter(|entry| entry.online_at.is_some())
        else {
            return;
        };
        let by = now + FOCUS_MOVE_WITHIN;
        entry.focus_moves_by = Some(by);
        for signal in &entry.outstanding {
            if let Some(kept) = state
                .signals
                .get_mut(signal)
                .filter(|kept| kept.due_by.is_some_and(|due| due >= now))
            {
                kept.due_by = Some(by + self.grace);
            }
        }
    }

    /// A tab of `visitor` was told it has focus (`focused`): after [`Self::focused_tab_closed`],
    /// the server has moved focus, and sent again what the closed tab left unacknowledged, so
    /// every confirmed signal is due a grace from now.
    pub fn focus_moved(&self, visitor: &str, now: Instant) {
        if !self.roster {
            return;
        }
        let mut state = self.lock();
        let state = &mut *state;
        let Some(entry) = state.visitors.get_mut(visitor) else {
            return;
        };
        if entry.focus_moves_by.take().is_none() {
            return;
        }
        let due = now + self.grace;
        for signal in &entry.outstanding {
            let waiting =
                |kept: &&mut SignalEntry| kept.confirmed && kept.due_by.is_none_or(|by| by >= now);
            if let Some(kept) = state.signals.get_mut(signal).filter(waiting) {
                kept.due_by = Some(due);
            }
        }
    }

    /// `visitor` received signal `number` of `agent` on a tab that has focus (or not). One
    /// that is not tracked was received before, unless its agent never sent that number:
    /// agents number their signals 1, 2, 3, ... and report each before sending it.
    pub fn signal_received(
        &self,
        agent: u32,
        number: u64,
        visitor: &str,
        focused: bool,
    ) -> Receipt {
        let mut state = self.lock();
        let receipt = match state.signals.get(&(agent, number)) {
            Some(entry) if *entry.visitor == *visitor => Receipt::First,
            Some(_) => Receipt::Unknown,
            None if state
                .newest_signal
                .get(&agent)
                .is_some_and(|newest| number <= *newest) =>
            {
                Receipt::Duplicate
            }
            None => Receipt::Unknown,
        };
        match receipt {
            Receipt::First if !focused => self.recorder.violation(Check::SignalsUnfocused),
            Receipt::First => {}
            Receipt::Duplicate => self.recorder.violation(Check::SignalsDuplicated),
            Receipt::Unknown => self.recorder.violation(Check::SignalsUnknown),
        }
        if receipt != Receipt::First {
            return receipt;
        }
        let Some(entry) = state.signals.remove(&(agent, number)) else {
            return receipt;
        };
        forget_outstanding(&mut state, visitor, (agent, number));
        drop(state);
        let metric = match (entry.kind, entry.queued) {
            (SignalKind::Invoke, _) => Metric::InvokeDelivery,
            (SignalKind::Signal, true) => Metric::QueuedSignalDelivery,
            (SignalKind::Signal, false) => Metric::SignalDelivery,
        };
        self.drills
            .signal_delivered(metric, entry.drill, entry.intended);
        Receipt::First
    }

    pub(super) fn sweep_signals(&self, state: &mut State, now: Instant) {
        let mut settled = Vec::new();
        for (key, entry) in &state.signals {
            if entry.due_by.is_some_and(|due| due < now) {
                self.recorder.violation(Check::SignalsLost);
                self.drills.signal_lost(entry.drill);
                settled.push((*key, entry.visitor.clone()));
            } else if entry.due_by.is_none()
                && now.saturating_duration_since(entry.intended) > UNDELIVERABLE_AFTER
            {
                self.recorder.count(Counter::SignalsUndeliverable, 1);
                settled.push((*key, entry.visitor.clone()));
            }
        }
        for (key, visitor) in settled {
            state.signals.remove(&key);
            forget_outstanding(state, &visitor, key);
        }
    }

    /// The end of the run: what is due is judged as usual; what is not due (the visitor
    /// left and never came back) could not be delivered.
    pub fn finish(&self, now: Instant) {
        let mut state = self.lock();
        self.sweep_signals(&mut state, now);
        self.sweep_presence(&mut state, now);
        let undeliverable = state
            .signals
            .values()
            .filter(|entry| entry.due_by.is_none())
            .count();
        self.recorder
            .count(Counter::SignalsUndeliverable, undeliverable as u64);
    }
}

fn forget_outstanding(state: &mut State, visitor: &str, key: SignalKey) {
    if let Some(entry) = state.visitors.get_mut(visitor) {
        entry.outstanding.retain(|known| *known != key);
    }
    state.forget_if_empty(visitor);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Recorder, Totals};
    use std::time::Duration;

    fn totals(recorder: &Recorder) -> Totals {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let cancel = tokio_util::sync::CancellationToken::new();
            cancel.cancel();
            crate::measure::collector::collect(
                recorder.clone(),
                Duration::from_secs(60),
                Vec::new(),
                cancel,
            )
            .await
        })
    }

    #[test]
    fn delivered_signals_are_timed_and_duplicates_counted() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_secs(1));
        let now = Instant::now();
        ledger.visitor_connected("v", now);
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Signal, now);
        ledger.signal_status(0, 1, Status::Delivered);
        assert_eq!(ledger.signal_received(0, 1, "v", true), Receipt::First);
        assert_eq!(ledger.signal_received(0, 1, "v", true), Receipt::Duplicate);
        ledger.finish(Instant::now());
        let totals = totals(&recorder);
        assert_eq!(totals.histogram(Metric::SignalDelivery).len(), 1);
        assert_eq!(totals.violations(Check::SignalsDuplicated), 1);
        assert_eq!(totals.violations(Check::SignalsLost), 0);
        assert_eq!(
            ledger.outstanding_signals(),
            0,
            "settled signals are forgotten"
        );
    }

    #[test]
    fn signals_no_agent_sent_to_this_visitor_are_unknown() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_secs(1));
        let now = Instant::now();
        ledger.visitor_connected("v", now);
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Signal, now);
        ledger.signal_sent(0, 2, "w".into(), SignalKind::Signal, now);
        assert_eq!(
            ledger.signal_received(0, 3, "v", true),
            Receipt::Unknown,
            "a number agent 0 never used"
        );
        assert_eq!(
            ledger.signal_received(1, 1, "v", true),
            Receipt::Unknown,
            "an agent that sent nothing"
        );
        assert_eq!(
            ledger.signal_received(0, 2, "v", true),
            Receipt::Unknown,
            "sent to another visitor"
        );
        assert_eq!(
            ledger.signal_received(0, 2, "w", true),
            Receipt::First,
            "and still due to that one"
        );
        assert_eq!(ledger.signal_received(0, 1, "v", true), Receipt::First);
        assert_eq!(ledger.signal_received(0, 1, "v", true), Receipt::Duplicate);
        let totals = totals(&recorder);
        assert_eq!(totals.violations(Check::SignalsUnknown), 3);
        assert_eq!(totals.violations(Check::SignalsDuplicated), 1);
    }

    #[test]
    fn a_due_signal_that_never_arrives_is_lost() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_millis(10));
        let start = Instant::now();
        ledger.visitor_connected("v", start);
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Signal, start);
        ledger.signal_status(0, 1, Status::Delivered);
        ledger.sweep(start + Duration::from_secs(1));
        assert_eq!(totals(&recorder).violations(Check::SignalsLost), 1);
    }

    #[test]
    fn a_signal_the_server_never_confirmed_cannot_be_lost() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_millis(10));
        let start = Instant::now();
        ledger.visitor_connected("v", start);
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Signal, start);
        ledger.visitor_connected("v", start + Duration::from_millis(5));
        ledger.finish(start + Duration::from_secs(1));
        let totals = totals(&recorder);
        assert_eq!(totals.violations(Check::SignalsLost), 0);
        assert_eq!(totals.counter(Counter::SignalsUndeliverable), 1);
    }

    #[test]
    fn a_queued_signal_is_due_only_after_the_next_connect() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_millis(10));
        let start = Instant::now();
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Signal, start);
        ledger.signal_status(0, 1, Status::Queued);
        ledger.sweep(start + Duration::from_secs(1));
        ledger.visitor_connected("v", start + Duration::from_secs(2));
        assert_eq!(ledger.signal_received(0, 1, "v", false), Receipt::First);
        ledger.signal_sent(0, 2, "w".into(), SignalKind::Signal, start);
        ledger.finish(start + Duration::from_secs(3));
        let totals = totals(&recorder);
        assert_eq!(totals.violations(Check::SignalsLost), 0);
        assert_eq!(totals.violations(Check::SignalsUnfocused), 1);
        assert_eq!(totals.histogram(Metric::QueuedSignalDelivery).len(), 1);
        assert_eq!(
            totals.counter(Counter::SignalsUndeliverable),
            1,
            "w never came"
        );
    }

    #[test]
    fn closing_the_focused_tab_stops_the_clock_until_focus_moves() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_millis(10));
        let start = Instant::now();
        ledger.visitor_connected("v", start);
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Signal, start);
        ledger.signal_status(0, 1, Status::Delivered);
        ledger.focused_tab_closed("v", Instant::now());
        ledger.signal_sent(0, 2, "v".into(), SignalKind::Signal, start);
        ledger.signal_status(0, 2, Status::Delivered);
        // An HTTP tab the client stopped polling: the server notices after its disconnect delay.
        let moved = Instant::now() + Duration::from_secs(5);
        ledger.sweep(moved);
        assert_eq!(
            totals(&recorder).violations(Check::SignalsLost),
            0,
            "nothing is due before the focus moved"
        );
        ledger.focus_moved("v", moved);
        assert_eq!(ledger.signal_received(0, 1, "v", true), Receipt::First);
        ledger.sweep(moved + Duration::from_secs(1));
        assert_eq!(
            totals(&recorder).violations(Check::SignalsLost),
            1,
            "2 was due from the focus move"
        );
    }

    #[test]
    fn a_focus_that_never_moves_is_waited_for_a_bounded_time() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_millis(10));
        let start = Instant::now();
        ledger.visitor_connected("v", start);
        ledger.focused_tab_closed("v", start);
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Signal, start);
        ledger.signal_status(0, 1, Status::Delivered);
        ledger.sweep(start + FOCUS_MOVE_WITHIN);
        assert_eq!(totals(&recorder).violations(Check::SignalsLost), 0);
        ledger.sweep(start + FOCUS_MOVE_WITHIN + Duration::from_secs(1));
        assert_eq!(totals(&recorder).violations(Check::SignalsLost), 1);
    }

    #[test]
    fn leaving_before_the_grace_is_over_is_not_a_loss() {
        let recorder = Recorder::new();
        let ledger = Ledger::new(recorder.clone(), Duration::from_secs(5));
        let start = Instant::now();
        ledger.visitor_connected("v", start);
        ledger.signal_sent(0, 1, "v".into(), SignalKind::Invoke, start);
        ledger.signal_status(0, 1, Status::Delivered);
        ledger.visitor_disconnected("v", start + Duration::from_millis(1));
        ledger.finish(start + Duration::from_secs(10));
        let totals = totals(&recorder);
        assert_eq!(totals.violations(Check::SignalsLost), 0);
        assert_eq!(totals.counter(Counter::SignalsUndeliverable), 1);
    }
}
