//! The one shared state of a cluster: who is online where, page and data, kept signals,
//! watchers and unique ids.
//!
//! It lives outside every instance so that draining or killing an instance loses nothing but
//! sockets. One `Mutex` guards plain maps: every critical section is a few map operations and
//! non-blocking pushes into session outboxes, never an `.await`, so contention stays low.

mod agent;
mod retention;
mod session_handle;
mod sparse;
mod unique;
mod visitor;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::wire::data::Data;
use crate::wire::{Page, ServerMessage};

use super::faults::Faults;
use super::settings::Settings;

pub use retention::sweep;
pub use session_handle::{Outgoing, SessionHandle};

/// A visitor is scoped by its group: `(group, visitor id)`.
pub type VisitorKey = (String, String);

/// Everything the cluster shares between its instances.
pub struct Shared {
    state: Mutex<State>,
    queue_bound: usize,
    faults: Faults,
    /// How long a visitor with no open tab is remembered (`visitor_retention`).
    retention: std::time::Duration,
    /// Times the sweep handed free memory back to the system (`retention::Trimming`).
    trims: AtomicU64,
}

struct State {
    visitors: HashMap<VisitorKey, Visitor>,
    /// Unique ids held by live unique connections, with how many hold each (more than one
    /// only under the `duplicate_unique` fault).
    uniques: HashMap<String, usize>,
    /// Drives unique ids and fault decisions; behind the same lock as what it decides about.
    rng: SmallRng,
    /// Visitors that went offline, with when they may be forgotten, in that order.
    offline: VecDeque<(Instant, VisitorKey)>,
    /// What the `leak_per_visitor` fault keeps.
    leaked: Vec<Box<[u8]>>,
}

/// One visitor of one group.
#[derive(Default)]
struct Visitor {
    /// Open tabs in connect order: the last one is the most recently connected.
    tabs: Vec<Tab>,
    /// Session id of the focused tab; `Some` whenever `tabs` is not empty.
    focused: Option<u64>,
    page: Option<Page>,
    data: Data,
    /// Signals and invokes not acknowledged yet, oldest first.
    kept: VecDeque<Kept>,
    /// Agent sessions watching this visitor.
    watchers: Vec<SessionHandle>,
    /// When the visitor was last seen with no open tab while holding something (`None` while
    /// a tab is open): it is forgotten `visitor_retention` after this.
    offline_at: Option<Instant>,
}

struct Tab {
    tab: String,
    session: SessionHandle,
}

/// A signal or invoke kept until the visitor acknowledges it.
struct Kept {
    agent: String,
    id: String,
    /// The encoded `signal`/`invoke` message, re-sent as is on the next `connect`.
    message: Arc<str>,
    /// The session it was last sent to (`None`: kept for a visitor offline). When that
    /// session ends without the acknowledgement and another tab stays open, the copy goes to
    /// the tab that has focus then: the visitor makes no new `connect` to replay it.
    sent_to: Option<u64>,
}

impl Visitor {
    fn focused_tab(&self) -> Option<&Tab> {
        let focused = self.focused?;
        self.tabs.iter().find(|tab| tab.session.id == focused)
    }

    /// Sends the kept copies last sent to the ended session `gone` to the focused tab, if
    /// any, oldest first; they are that tab's to acknowledge from now on.
    fn resend_kept(&mut self, gone: u64) {
        let Some(focused) = self.focused_tab().map(|tab| tab.session.clone()) else {
            return;
        };
        for kept in self
            .kept
            .iter_mut()
            .filter(|kept| kept.sent_to == Some(gone))
        {
            kept.sent_to = Some(focused.id);
            focused.push(Outgoing::Message(kept.message.clone()));
        }
    }

    /// Nothing left worth remembering: the entry can go.
    fn is_empty(&self) -> bool {
        self.tabs.is_empty()
            && self.kept.is_empty()
            && self.watchers.is_empty()
            && self.page.is_none()
            && self.data.is_empty()
    }

    fn snapshot(&self, visitor: &str) -> ServerMessage {
        ServerMessage::Presence {
            visitor: visitor.to_owned(),
            online: !self.tabs.is_empty(),
            focus_tab: self.focused_tab().map(|tab| tab.tab.clone()),
            page: self.page.clone(),
            data: self.data.clone(),
            at_ms: now_ms(),
        }
    }

    /// Tells every watching agent the visitor's presence now; encoded once for all of them.
    fn notify_watchers(&self, visitor: &str, faults: &Faults) {
        if self.watchers.is_empty() {
            return;
        }
        let mut snapshot = self.snapshot(visitor);
        if faults.stale_presence() {
            if let ServerMessage::Presence { data, .. } = &mut snapshot {
                data.clear();
            }
        }
        let message: Arc<str> = snapshot.encode().into();
        for watcher in &self.watchers {
            watcher.push(Outgoing::Message(message.clone()));
        }
    }
}

impl Shared {
    pub fn new(settings: &Settings) -> Self {
        let state = State {
            visitors: HashMap::new(),
            uniques: HashMap::new(),
            rng: SmallRng::from_os_rng(),
            offline: VecDeque::new(),
            leaked: Vec::new(),
        };
        Shared {
            state: Mutex::new(state),
            queue_bound: settings.queue_bound,
            faults: Faults::from_settings(settings),
            retention: settings.visitor_retention,
            trims: AtomicU64::new(0),
        }
    }

    /// The fault switches in force (`server::faults`), for the sessions that apply them.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Messages waiting in the outboxes of visitor sessions: the total and the longest.
    /// Walks every tab under the lock, so it is for scrapes, not for every message.
    pub fn outbox_depth(&self) -> (u64, u64) {
        let state = self.lock();
        let tabs = state.visitors.values().flat_map(|visitor| &visitor.tabs);
        tabs.fold((0, 0), |(total, max), tab| {
            let queued = tab.session.queued() as u64;
            (total + queued, max.max(queued))
        })
    }

    /// A panic elsewhere must not take every session down with it: the maps stay usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Drops a visitor entry that holds nothing any more, so churned ids do not accumulate.
    fn forget_if_empty(&mut self, key: &VisitorKey) {
        if self.visitors.get(key).is_some_and(Visitor::is_empty) {
            self.visitors.remove(key);
        }
    }
}

/// Milliseconds since the UNIX epoch, as `at_ms` reports them.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
