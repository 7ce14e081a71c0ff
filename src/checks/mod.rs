//! The ledger of delivery guarantees (docs/protocol.md section 3), checked while the load runs.
//!
//! Visitors and agents report what they send and receive; the ledger matches the two sides,
//! records the cross-party latencies (signal delivery, presence propagation) and counts
//! violations through the [`Recorder`]. Everything it holds is bounded: settled entries are
//! dropped at once, and what can never settle (signals for visitors that left for good)
//! expires. Critical sections are a few map operations; nothing blocks on I/O.

mod presence;
mod roster;
mod signals;
mod unique;
pub mod visitor_side;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::drill::Drills;
use crate::measure::Recorder;
use presence::PresenceDue;
use signals::{SignalEntry, SignalKey};

pub use presence::MARKER_KEY;
pub use signals::{Receipt, SignalKind};
pub use visitor_side::{agent_index, agent_name};

/// How long a signal for a visitor that never comes back is kept before it is written off
/// as undeliverable (not lost: nobody was there to receive it).
const UNDELIVERABLE_AFTER: Duration = Duration::from_secs(300);
/// Offline visitors remembered for agents' "offline" signals.
const RECENTLY_LEFT: usize = 4096;
/// Presence markers remembered per visitor, to time propagation.
const MARKERS_KEPT: usize = 8;
/// How long after a visitor closed its focused tab (another staying open) the server may take
/// to notice and move focus (`focused`), before the visitor's signals are due all the same:
/// an HTTP tab the client stopped polling is gone only after the server's disconnect delay
/// (5 s by default in SockJS and the reference server).
const FOCUS_MOVE_WITHIN: Duration = Duration::from_secs(30);

/// The shared ledger of one run.
pub struct Ledger {
    state: Mutex<State>,
    recorder: Recorder,
    /// How long a due delivery is awaited before it is counted lost or missed.
    grace: Duration,
    /// Where signals sent or received during a drill window are accounted as well.
    drills: Drills,
    /// Whether visitors' comings and goings are tracked: only agents need the roster (to
    /// pick whom to signal, and to judge deliveries), so a run without agents saves the
    /// entry per visitor.
    roster: bool,
}

#[derive(Default)]
struct State {
    visitors: HashMap<Arc<str>, VisitorEntry>,
    /// Visitors online now, for agents to pick from (position kept in the entry).
    online: Vec<Arc<str>>,
    /// Visitors that went offline lately, newest last.
    recently_left: VecDeque<Arc<str>>,
    signals: HashMap<SignalKey, SignalEntry>,
    /// Per agent, the highest signal number it sent: a receipt above it was never sent.
    newest_signal: HashMap<u32, u64>,
    presence_dues: VecDeque<PresenceDue>,
    /// Live unique ids and the visitor index holding each.
    uniques: HashMap<String, u64>,
}

/// What the ledger knows of one visitor.
#[derive(Default)]
struct VisitorEntry {
    /// Position in `State::online`, while online.
    online_at: Option<usize>,
    /// Last change of `online`, for online propagation.
    transition: Option<(bool, Instant)>,
    /// Signals sent to this visitor and not received yet.
    outstanding: Vec<SignalKey>,
    /// Recent presence markers and when each was sent.
    markers: VecDeque<(u64, Instant)>,
    /// Recent acknowledged markers and when each was acknowledged, oldest first.
    acked: VecDeque<(u64, Instant)>,
    /// Agents watching: (agent, newest marker seen, online as last seen).
    watchers: Vec<Watcher>,
    /// Set when the visitor closed (or lost) its focused tab while another stayed open: the
    /// server may go on sending to the closed tab until it notices, and sends again what that
    /// tab left unacknowledged when it does (`focused` on the tab that takes focus). Until
    /// then, or this instant, signals are not due.
    focus_moves_by: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Watcher {
    agent: u32,
    seen_marker: u64,
    seen_online: bool,
}

impl VisitorEntry {
    fn is_empty(&self) -> bool {
        self.online_at.is_none() && self.outstanding.is_empty() && self.watchers.is_empty()
    }
}

impl Ledger {
    pub fn new(recorder: Recorder, grace: Duration) -> Self {
        let drills = Drills::new(None, recorder.clone(), Instant::now());
        Ledger {
            state: Mutex::new(State::default()),
            recorder,
            grace,
            drills,
            roster: true,
        }
    }

    /// No roster: for runs without agents, where nothing would read it.
    pub fn without_roster(mut self) -> Self {
        self.roster = false;
        self
    }

    /// Accounts signals to the run's drill events too.
    pub fn with_drills(mut self, drills: Drills) -> Self {
        self.drills = drills;
        self
    }

    /// The grace period this ledger allows.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Counts what became due and did not happen, and writes off what never can: called
    /// periodically during the run and once at its end.
    pub fn sweep(&self, now: Instant) {
        let mut state = self.lock();
        self.sweep_signals(&mut state, now);
        self.sweep_presence(&mut state, now);
    }

    /// How many signals are tracked right now (for memory accounting).
    pub fn outstanding_signals(&self) -> usize {
        self.lock().signals.len()
    }

    /// A panic in one task must not disable the checks of all the others.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn forget_if_empty(&mut self, visitor: &str) {
        if self
            .visitors
            .get(visitor)
            .is_some_and(VisitorEntry::is_empty)
        {
            self.visitors.remove(visitor);
        }
    }
}
