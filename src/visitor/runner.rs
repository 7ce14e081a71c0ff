//! A running visitor: its tabs, opening sessions, and waiting for replies while answering
//! whatever else arrives (`observe`); lost sessions are brought back by `recover`.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use tokio_util::sync::CancellationToken;

use super::request::{unanswered, END_SETTLE};
use super::tab::{poll_any, Tab};
use super::VisitorContext;
use crate::checks::visitor_side::{FocusExpectation, SignalOrder};
use crate::client::{ClientError, Incoming};
use crate::drill::Loss;
use crate::measure::{Metric, Recorder, Tally};
use crate::session::{self, Identity, Opened, SessionError};
use crate::wire::Transport;
use crate::wire::{ClientMessage, ServerMessage};

/// Why a visitor stopped what it was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The run is over (or this visitor was ramped down).
    Cancelled,
    /// No matching reply before the deadline.
    Timeout,
    /// The tab that was waited on was lost (and recovered or dropped meanwhile). `planned`:
    /// the loss was a move the server announced (a drain) or fell in a drill window, so the
    /// request it carried is not held against the server.
    TabLost { planned: bool },
}

/// How a wait treats the end of the run and the loss of the tab it waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Stops at the end of the run; a lost tab is recovered, then the wait answers `TabLost`.
    Normal,
    /// Deaf to the end of the run: a request's last chance once its visitor was stopped.
    Settle,
    /// Stops at the end of the run; the loss of the awaited tab is not recovered but handed
    /// back in `Visitor::handed_back` (a reconnect's resent presence: the reconnect loop
    /// tries again itself, so that a server that keeps resetting costs no deeper nesting).
    HandBack,
}

/// A session opening still under way when its visitor was stopped: the server had it in hand,
/// so it gets the same short last chance as a request (see `request::request`), then counts
/// unanswered.
async fn abandon(
    recorder: &Recorder,
    opening: Pin<Box<impl Future<Output = Result<Opened, SessionError>>>>,
    metric: Metric,
    started: Instant,
) {
    match tokio::time::timeout(END_SETTLE, opening).await {
        Ok(Ok(opened)) => opened.conn.close().await,
        Ok(Err(err)) => recorder.error(err.kind()),
        Err(_) => unanswered(recorder, Some(metric), started),
    }
}

/// One simulated visitor while it runs.
pub struct Visitor<'a> {
    pub ctx: &'a VisitorContext,
    pub cancel: &'a CancellationToken,
    pub index: u64,
    pub id: String,
    pub rng: SmallRng,
    pub tabs: Vec<Tab>,
    /// Index of the tab the visitor is using.
    pub current: usize,
    tabs_opened: u32,
    local_ip: Option<IpAddr>,
    /// The transport every tab of this visitor connects with.
    pub transport: Transport,
    /// Where `blur` must land after the visitor's last focus change.
    pub focus: FocusExpectation,
    /// Per agent, the newest signal received: signals must keep their order.
    pub(super) order: SignalOrder,
    /// The next presence marker (see `checks::MARKER_KEY`).
    pub next_marker: u64,
    /// The loss a [`WaitMode::HandBack`] send or wait handed back (boxed: rarely set, and
    /// every idle visitor carries the field).
    pub handed_back: Option<Box<ClientError>>,
    /// While a wait is interrupted by the recovery of another tab, what the recovery's own
    /// waits read and did not take (boxed: rare, and every idle visitor carries the field).
    pub(super) nested: Option<Box<Nested>>,
}

/// The waits a recovery interrupted, and the messages read meanwhile that none of the
/// recovery's own waits took. Without it, two tabs lost at once (a killed instance) lost
/// their replies to each other: the recovery of one, nested in the wait for the other's
/// resent presence, read that presence's ack as nobody's and the outer wait never saw it;
/// or a nested recovery brought back the very tab an outer wait was on, which then waited
/// for a reply from a session that was gone.
#[derive(Default)]
pub(super) struct Nested {
    /// Innermost last.
    waits: Vec<Interrupted>,
    /// Messages read and taken by no nested wait, with the id of the tab each came on.
    unclaimed: Vec<(String, ServerMessage)>,
}

/// A wait interrupted by the recovery of another tab.
struct Interrupted {
    /// The id of the tab it waits on (`None`: any).
    awaited: Option<String>,
    /// The id of the tab whose recovery interrupted it.
    recovering: String,
    /// Its own tab was lost and recovered meanwhile (by a recovery nested deeper): whether
    /// that loss was planned.
    lost: Option<bool>,
}

/// What an interrupted wait finds when it resumes.
enum Resumed<T> {
    /// A message kept meanwhile that it was waiting for.
    Claimed(T),
    /// Its tab was lost and recovered meanwhile (planned or not).
    Lost(bool),
    Nothing,
}

impl<'a> Visitor<'a> {
    pub fn new(
        ctx: &'a VisitorContext,
        cancel: &'a CancellationToken,
        index: u64,
        (id, transport): (String, Transport),
        rng: SmallRng,
    ) -> Self {
        let local_ip = ctx.local_ip(index);
        Visitor {
            ctx,
            cancel,
            index,
            id,
            rng,
            tabs: Vec::new(),
            current: 0,
            tabs_opened: 0,
            local_ip,
            transport,
            focus: FocusExpectation::default(),
            order: SignalOrder::default(),
            next_marker: 0,
            handed_back: None,
            nested: None,
        }
    }

    /// A fresh tab id, unique within this visitor.
    pub fn next_tab_id(&mut self) -> String {
        self.tabs_opened += 1;
        format!("t{}", self.tabs_opened)
    }

    /// Opens a session for `tab_id`, retrying with backoff until it works or the run ends.
    pub async fn open_tab(&mut self, tab_id: String, unique: bool) -> Result<usize, Interrupt> {
        // Boxed: opening lives only while a session opens, and must not size every idle
        // visitor's future.
        let conn = Box::pin(self.open_session(&tab_id, unique, None)).await?;
        // Most visitors have one tab: room for exactly the next one, not the four a growing
        // Vec would reserve (a tab is a few hundred bytes).
        self.tabs.reserve_exact(1);
        self.tabs.push(Tab::new(tab_id, conn, unique));
        Ok(self.tabs.len() - 1)
    }

    pub(super) async fn open_session(
        &mut self,
        tab_id: &str,
        unique: bool,
        reconnecting: Option<(&Loss, u32)>,
    ) -> Result<(crate::client::Connection, &'static str), Interrupt> {
        // A reconnect waits before its first try, so a herd does not come back at once; one
        // whose earlier sessions were lost again at once goes on backing off from there.
        let mut attempt = reconnecting.map_or(0, |(_, failed_before)| 1 + failed_before);
        loop {
            if !session::back_off(&self.ctx.backoff, attempt, &mut self.rng, self.cancel).await {
                return Err(Interrupt::Cancelled);
            }
            if let Some((loss, _)) = reconnecting {
                loss.attempt();
            }
            let identity = if unique {
                Identity::Unique
            } else {
                Identity::Visitor(&self.id)
            };
            let metric = if unique {
                Metric::UniqueAssign
            } else {
                Metric::Connect
            };
            let started = Instant::now();
            let _waiting = self.ctx.recorder.waiting();
            // Boxed: the handshake's state is large and only lives while a session opens, so it
            // must not make every idle visitor's future that large.
            let mut opening = Box::pin(self.ctx.opener.open(
                identity,
                &self.id,
                tab_id,
                (self.local_ip, self.transport),
                &mut self.rng,
            ));
            let result = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => {
                    // Boxed: the last chance's timer and close live only at the end, and must
                    // not make every idle visitor's future that large.
                    Box::pin(abandon(&self.ctx.recorder, opening, metric, started)).await;
                    return Err(Interrupt::Cancelled);
                }
                result = &mut opening => result,
            };
            drop(opening);
            match result {
                Ok(opened) => {
                    if unique {
                        self.id = opened.visitor;
                        self.ctx.ledger.unique_assigned(&self.id, self.index);
                    }
                    self.ctx.ledger.visitor_connected(&self.id, Instant::now());
                    if reconnecting.is_some() {
                        self.ctx.recorder.tally(Tally::ReconnectAttempt, "ok");
                    }
                    return Ok((opened.conn, opened.server));
                }
                Err(err) => {
                    // A draining instance sends new sessions away: try again (elsewhere, after
                    // a new /locate) as after any move, not an error.
                    if !err.is_drain() {
                        self.record_session_error(&err);
                    }
                    if matches!(err, SessionError::Timeout(..)) {
                        // Unanswered within the reply timeout: the wait is a sample, as for
                        // requests.
                        self.ctx.recorder.since(metric, started);
                    }
                    if reconnecting.is_some() {
                        self.ctx.recorder.tally(Tally::ReconnectAttempt, "failed");
                    }
                    attempt += 1;
                }
            }
        }
    }

    fn record_session_error(&self, err: &SessionError) {
        tracing::debug!(visitor = %self.id, error = %err, "session did not open");
        self.ctx.recorder.error(err.kind());
    }

    /// Sends on tab `i`, waiting for its socket at most the reply timeout; a failed send is a
    /// lost session, recovered before answering.
    pub async fn send(&mut self, i: usize, message: &ClientMessage) -> Result<(), Interrupt> {
        let deadline = Instant::now() + self.ctx.opener.reply_timeout;
        self.send_with(i, message, WaitMode::Normal, deadline).await
    }

    /// Sends on tab `i`; a failed send is a lost session, recovered before answering, or
    /// handed back with [`WaitMode::HandBack`]. A send the socket has not taken by `deadline`
    /// (a server that stopped reading) is a `Timeout`: a WebSocket frame stays buffered and
    /// goes out once the socket drains, an HTTP send is dropped. Only the send is bounded,
    /// never the recovery of a lost session.
    pub async fn send_with(
        &mut self,
        i: usize,
        message: &ClientMessage,
        mode: WaitMode,
        deadline: Instant,
    ) -> Result<(), Interrupt> {
        let sent =
            match tokio::time::timeout_at(deadline.into(), self.tabs[i].conn.send(message)).await {
                Ok(sent) => sent,
                Err(_) => return Err(Interrupt::Timeout),
            };
        match sent {
            Ok(()) => {
                self.ctx.recorder.sent(message.kind());
                Ok(())
            }
            Err(err) if mode == WaitMode::HandBack => {
                self.handed_back = Some(Box::new(err));
                Err(Interrupt::TabLost { planned: false })
            }
            Err(err) => {
                let planned = Box::pin(self.recover(i, err)).await?;
                Err(Interrupt::TabLost { planned })
            }
        }
    }

    /// Waits until `matcher` accepts a message from tab `on` (any tab when `None`) or the
    /// deadline passes, handling everything else that arrives meanwhile. A tab from which
    /// nothing arrived for the heartbeat timeout is lost: one timer serves the whole wait,
    /// set to the earliest of the deadline and the tabs' silence limits (a message only
    /// updates its tab's `last_heard`; the timer is moved when it fires early).
    pub async fn wait_for<T>(
        &mut self,
        on: Option<usize>,
        deadline: Instant,
        matcher: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> Result<T, Interrupt> {
        self.wait(on, deadline, matcher, WaitMode::Normal).await
    }

    /// [`Self::wait_for`] in the given mode.
    pub async fn wait<T>(
        &mut self,
        on: Option<usize>,
        deadline: Instant,
        mut matcher: impl FnMut(&ServerMessage) -> Option<T>,
        mode: WaitMode,
    ) -> Result<T, Interrupt> {
        let cancellable = mode != WaitMode::Settle;
        let sleep = tokio::time::sleep_until(self.wake_at(deadline).into());
        tokio::pin!(sleep);
        loop {
            let (i, result) = tokio::select! {
                biased;
                _ = self.cancel.cancelled(), if cancellable => return Err(Interrupt::Cancelled),
                event = std::future::poll_fn(|cx| poll_any(&mut self.tabs, cx)) => event,
                _ = &mut sleep => match self.silent_tab() {
                    Some((i, silence)) => {
                        (i, Err(ClientError::Lost(format!("nothing heard for {silence:?}"))))
                    }
                    None if Instant::now() >= deadline => return Err(Interrupt::Timeout),
                    None => {
                        sleep.as_mut().reset(self.wake_at(deadline).into());
                        continue;
                    }
                },
            };
            // No guard and no borrow of `result` or the message here: rustc keeps room for a
            // borrowed local across every later await of its scope, and these are the largest
            // values of an idle visitor's future. The message is handed on by value, and the ack
            // it calls for is sent boxed.
            match result {
                Ok(Incoming::Heartbeat) => {
                    let tab = &mut self.tabs[i];
                    tab.last_heard = Instant::now();
                    // The first heartbeat puts the tab under watch: the timer must see it.
                    if !std::mem::replace(&mut tab.heartbeats, true) {
                        sleep.as_mut().reset(self.wake_at(deadline).into());
                    }
                }
                Ok(Incoming::Message(message)) => {
                    let candidate = on.is_none_or(|tab| tab == i);
                    let (ack, found) = self.receive(i, message, candidate, &mut matcher);
                    if let Some(ack) = ack {
                        Box::pin(self.acknowledge(i, ack)).await;
                    }
                    if let Some(found) = found {
                        return Ok(found);
                    }
                }
                Err(err) => {
                    if mode == WaitMode::HandBack && on == Some(i) {
                        self.handed_back = Some(Box::new(err));
                        return Err(Interrupt::TabLost { planned: false });
                    }
                    self.interrupt_wait(on, i);
                    let recovered = Box::pin(self.recover(i, err)).await;
                    let resumed = self.resume_wait(recovered.as_ref().ok().copied(), &mut matcher);
                    let planned = recovered?;
                    sleep.as_mut().reset(self.wake_at(deadline).into());
                    if on == Some(i) {
                        return Err(Interrupt::TabLost { planned });
                    }
                    match resumed {
                        Resumed::Claimed(found) => return Ok(found),
                        Resumed::Lost(planned) => return Err(Interrupt::TabLost { planned }),
                        Resumed::Nothing => {}
                    }
                }
            }
        }
    }

    /// A wait on tab `on` (any tab: `None`) is about to be interrupted by the recovery of tab
    /// `i`: from now on, what the recovery's waits do not take is kept for it.
    fn interrupt_wait(&mut self, on: Option<usize>, i: usize) {
        let awaited = on.map(|on| self.tabs[on].id.clone());
        let interrupted = Interrupted {
            awaited,
            recovering: self.tabs[i].id.clone(),
            lost: None,
        };
        self.nested
            .get_or_insert_with(Default::default)
            .waits
            .push(interrupted);
    }

    /// The interrupted wait resumes after the recovery, which answered `recovered` (whether
    /// the loss was planned; `None` when it was stopped). The waits further out on the
    /// recovered tab learn that it was lost; this one takes the first message kept meanwhile
    /// that `matcher` takes from its tab, else learns whether its own tab was lost. The
    /// outermost wait lets go of the rest.
    fn resume_wait<T>(
        &mut self,
        recovered: Option<bool>,
        matcher: &mut impl FnMut(&ServerMessage) -> Option<T>,
    ) -> Resumed<T> {
        let Some(nested) = self.nested.as_mut() else {
            return Resumed::Nothing;
        };
        let Some(this) = nested.waits.pop() else {
            return Resumed::Nothing;
        };
        if let Some(planned) = recovered {
            for outer in nested
                .waits
                .iter_mut()
                .filter(|w| w.awaited.as_ref() == Some(&this.recovering))
            {
                outer.lost = Some(outer.lost.unwrap_or(true) && planned);
            }
        }
        let mut resumed = this.lost.map_or(Resumed::Nothing, Resumed::Lost);
        for at in 0..nested.unclaimed.len() {
            let (tab, message) = &nested.unclaimed[at];
            if this.awaited.as_ref().is_none_or(|id| id == tab) {
                if let Some(found) = matcher(message) {
                    nested.unclaimed.remove(at);
                    resumed = Resumed::Claimed(found);
                    break;
                }
            }
        }
        if nested.waits.is_empty() {
            self.nested = None;
        }
        resumed
    }

    /// Keeps `message`, read on tab `i` and taken by no wait, for the waits a recovery
    /// interrupted; dropped when there are none.
    pub(super) fn keep_unclaimed(&mut self, i: usize, message: ServerMessage) {
        if let Some(nested) = self.nested.as_mut() {
            nested.unclaimed.push((self.tabs[i].id.clone(), message));
        }
    }

    /// When a wait ending at `deadline` must look at the tabs again: the deadline, or the
    /// moment the quietest watched tab has been silent for the heartbeat timeout.
    fn wake_at(&self, deadline: Instant) -> Instant {
        let Some(silence) = self.ctx.heartbeat_timeout else {
            return deadline;
        };
        self.watched_tabs()
            .map(|tab| tab.last_heard + silence)
            .fold(deadline, Instant::min)
    }

    /// The first watched tab that has been silent for the heartbeat timeout, if any.
    fn silent_tab(&self) -> Option<(usize, Duration)> {
        let silence = self.ctx.heartbeat_timeout?;
        let now = Instant::now();
        self.tabs
            .iter()
            .position(|tab| tab.heartbeats && now >= tab.last_heard + silence)
            .map(|i| (i, silence))
    }

    /// The tabs whose silence is judged: those whose server has sent a heartbeat on them, on
    /// any transport. A session that never had one is merely quiet when nothing arrives; it
    /// is found dead by its socket's close or reset, or by a request's reply timeout.
    fn watched_tabs(&self) -> impl Iterator<Item = &Tab> {
        self.tabs.iter().filter(|tab| tab.heartbeats)
    }

    /// Stays connected until `deadline`, answering what arrives.
    pub async fn idle_until(&mut self, deadline: Instant) -> Result<(), Interrupt> {
        match self.wait_for(None, deadline, |_| None::<()>).await {
            Err(Interrupt::Timeout) => Ok(()),
            other => other,
        }
    }

    /// The next `presence` sequence number of tab `i`.
    pub fn next_seq(&mut self, i: usize) -> u64 {
        let tab = &mut self.tabs[i];
        tab.seq += 1;
        tab.seq
    }

    /// Tells the checks that tab `i`'s session is over (closed, or lost).
    pub(super) fn leave_tab(&mut self, i: usize, now: Instant) {
        for (j, other) in self.tabs.iter_mut().enumerate() {
            if j != i {
                other.unsettled = true;
            }
        }
        let tab = &self.tabs[i];
        self.focus.forget(&tab.id);
        if tab.unique {
            self.ctx.ledger.unique_released(&self.id, self.index);
        }
        if self.tabs.len() == 1 {
            self.ctx.ledger.visitor_disconnected(&self.id, now);
        } else if tab.focused {
            // Another tab takes focus once the server notices (`focused`).
            self.ctx.ledger.focused_tab_closed(&self.id, now);
        }
    }

    /// Forgets tab `i` without closing it (its session is already gone).
    pub(super) fn drop_tab(&mut self, i: usize) {
        self.remove_tab(i);
    }

    /// Closes tab `i` politely.
    pub async fn close_tab(&mut self, i: usize) {
        self.leave_tab(i, Instant::now());
        // Only the connection lives on into the close, boxed: a closing handshake is rare and
        // its state (the connection and tungstenite's close) must not be inlined in every
        // visitor's future. Bounded: a close the server does not take (it stopped reading) is
        // given up, and the connection dropped.
        let closing = Box::pin(tokio::time::timeout(
            self.ctx.opener.reply_timeout,
            self.remove_tab(i).conn.close(),
        ));
        let _ = closing.await;
    }

    /// Takes tab `i` out; `current` stays on the tab it was on (the last one if that was `i`).
    fn remove_tab(&mut self, i: usize) -> Tab {
        let tab = self.tabs.remove(i);
        if self.current >= self.tabs.len() {
            self.current = self.tabs.len().saturating_sub(1);
        } else if self.current > i {
            self.current -= 1;
        }
        tab
    }

    /// Focus moves to tab `to` (opened, switched to, or reconnected: the server gives it
    /// focus): the ledger expects a `blur` on the tab that had it.
    pub(super) fn focus_moves_to(&mut self, to: &str) {
        let from = self
            .tabs
            .iter()
            .find(|tab| tab.focused && tab.id != to)
            .map(|tab| tab.id.as_str());
        let contested = self
            .tabs
            .iter()
            .any(|tab| tab.focus_unanswered && tab.id != to);
        tracing::trace!(visitor = %self.id, to, ?from, contested, "focus moves");
        self.focus.moved(from, to, Instant::now(), contested);
    }

    /// Tab `to`'s session opened: the server has seen the move to it, and owes its `blur`
    /// within the grace from now (a `focus` is confirmed by its `focused`, in `observe`).
    pub(super) fn focus_confirmed(&mut self, to: &str) {
        self.focus
            .confirmed(to, Instant::now(), self.ctx.ledger.grace());
    }

    /// Closes every tab.
    pub async fn close_all(&mut self) {
        while !self.tabs.is_empty() {
            self.close_tab(self.tabs.len() - 1).await;
        }
    }
}
