//! Forgetting visitors who left: what a server keeps for a visitor with no open tab (page,
//! data, kept signals and invokes) lasts `visitor_retention`, then goes.
//!
//! Without it, every visitor who ever sent a presence stayed in the map for the life of the
//! process (about 1.5 KiB each, 262 MiB an hour at 40 new visitors a second). Retention is
//! the same for every visitor, so the moments they may be forgotten come in the order they
//! went offline: a queue, whose front is all a sweep looks at.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::sparse::Sparse;
use super::{Shared, State, VisitorKey};
use crate::heap;

/// How often the sweep runs at most; shorter retentions (tests) sweep four times per retention.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
const SWEEP_AT_LEAST: Duration = Duration::from_millis(10);

impl State {
    /// The visitor `key` has no open tab now: it is forgotten `retention` from `now` unless a
    /// tab connects meanwhile. Called when its last tab leaves, and when something is kept for
    /// a visitor that was never online (a signal queued for it).
    fn went_offline(&mut self, key: &VisitorKey, now: Instant, retention: Duration) {
        let Some(visitor) = self.visitors.get_mut(key) else {
            return;
        };
        if visitor.tabs.is_empty() && !visitor.is_empty() {
            visitor.offline_at = Some(now);
            self.offline.push_back((now + retention, key.clone()));
        }
    }

    /// Gives back the room of the maps and the queue once most of their entries went, so
    /// that a server whose visitors left holds little more than before the first came.
    fn shrink_if_sparse(&mut self) {
        self.visitors.shrink_if_sparse();
        self.offline.shrink_if_sparse();
        self.uniques.shrink_if_sparse();
    }
}

impl Shared {
    /// Notes that `key` has no open tab (see [`State::went_offline`]), under the lock held.
    pub(super) fn note_offline(&self, state: &mut State, key: &VisitorKey) {
        state.went_offline(key, Instant::now(), self.retention);
    }

    /// Forgets every visitor offline for the retention at `now`: page, data and kept signals
    /// go; an agent still watching keeps the (now empty) entry and is told. Answers how many
    /// were forgotten.
    pub fn forget_departed(&self, now: Instant) -> usize {
        let mut state = self.lock();
        let mut forgotten = 0;
        while state.offline.front().is_some_and(|(due, _)| *due <= now) {
            let Some((_, key)) = state.offline.pop_front() else {
                break;
            };
            let Some(visitor) = state.visitors.get_mut(&key) else {
                continue;
            };
            // Came back meanwhile, or left again later (a later entry of the queue is its own).
            let due = visitor
                .offline_at
                .is_some_and(|at| at + self.retention <= now);
            if !visitor.tabs.is_empty() || !due {
                continue;
            }
            visitor.offline_at = None;
            visitor.page = None;
            visitor.data.clear();
            visitor.kept.clear();
            visitor.notify_watchers(&key.1, &self.faults);
            state.forget_if_empty(&key);
            forgotten += 1;
        }
        state.shrink_if_sparse();
        forgotten
    }

    /// Visitor entries held now, online or not.
    pub fn visitors_held(&self) -> usize {
        self.lock().visitors.len()
    }
}

/// Visitors forgotten between two returns of free memory to the system while visitors keep
/// coming and going.
const TRIM_AFTER: usize = 1000;

/// When the sweep hands free memory back to the system (`heap::trim`): after every
/// [`TRIM_AFTER`] visitors forgotten, and once each time the server becomes idle (no visitor
/// held). Counting alone missed the end of a run: the last few hundred visitors forgotten
/// never made a thousand, and the heap they had used stayed resident.
struct Trimming {
    untrimmed: usize,
    idle: bool,
}

impl Default for Trimming {
    /// A server that never held a visitor has nothing to give back.
    fn default() -> Self {
        Trimming {
            untrimmed: 0,
            idle: true,
        }
    }
}

impl Trimming {
    /// Whether to trim after a sweep that forgot `forgotten` visitors and left `held`.
    fn due(&mut self, forgotten: usize, held: usize) -> bool {
        self.untrimmed += forgotten;
        let became_idle = held == 0 && !self.idle;
        self.idle = held == 0;
        if self.untrimmed >= TRIM_AFTER || became_idle {
            self.untrimmed = 0;
            return true;
        }
        false
    }
}

impl Shared {
    /// One round of the sweep at `now`: forgets the visitors due, and trims when due.
    fn sweep_once(&self, now: Instant, trimming: &mut Trimming) {
        let forgotten = self.forget_departed(now);
        if trimming.due(forgotten, self.visitors_held()) {
            heap::trim();
            self.trims.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Times the sweep has handed free memory back to the system.
    pub fn heap_trims(&self) -> u64 {
        self.trims.load(Ordering::Relaxed)
    }
}

/// Forgets departed visitors until `stop`: a task of the cluster.
pub async fn sweep(state: Arc<Shared>, stop: CancellationToken) {
    let mut every = tokio::time::interval((state.retention / 4).clamp(SWEEP_AT_LEAST, SWEEP_EVERY));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut trimming = Trimming::default();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => state.sweep_once(Instant::now(), &mut trimming),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::settings::Settings;
    use crate::server::state::SessionHandle;
    use crate::wire::{Page, ServerMessage};

    const RETENTION: Duration = Duration::from_secs(60);

    fn shared() -> Shared {
        Shared::new(&Settings {
            visitor_retention: RETENTION,
            ..Settings::default()
        })
    }

    fn key(visitor: &str) -> VisitorKey {
        ("1".to_owned(), visitor.to_owned())
    }

    fn signal(id: &str) -> ServerMessage {
        ServerMessage::Signal {
            id: id.to_owned(),
            agent: "a".to_owned(),
            data: Default::default(),
        }
    }

    #[test]
    fn a_departed_visitor_is_remembered_for_the_retention_then_forgotten() {
        let state = shared();
        let (tab, _outbox) = SessionHandle::new(8);
        state.attach(&key("v"), "t1", &tab);
        state
            .presence(&key("v"), true, None, Some(Page::default()))
            .unwrap();
        state.detach(&key("v"), tab.id);
        let left = Instant::now();
        assert_eq!(
            state.visitors_held(),
            1,
            "page and data are kept while the visitor is offline"
        );
        assert_eq!(state.forget_departed(left + RETENTION / 2), 0);
        assert_eq!(
            state.forget_departed(left + RETENTION + Duration::from_millis(1)),
            1
        );
        assert_eq!(state.visitors_held(), 0);
    }

    #[test]
    fn the_room_of_departed_visitors_is_given_back_once_they_are_forgotten() {
        let state = shared();
        for n in 0..5_000 {
            let (tab, _outbox) = SessionHandle::new(8);
            state.attach(&key(&n.to_string()), "t1", &tab);
            state
                .presence(&key(&n.to_string()), true, None, Some(Page::default()))
                .unwrap();
            state.detach(&key(&n.to_string()), tab.id);
        }
        let left = Instant::now();
        assert!(state.lock().visitors.capacity() >= 5_000);
        assert_eq!(
            state.forget_departed(left + RETENTION + Duration::from_millis(1)),
            5_000
        );
        let held = state.lock();
        assert_eq!(
            (held.visitors.capacity(), held.offline.capacity()),
            (0, 0),
            "nothing held, no room kept"
        );
    }

    #[test]
    fn the_heap_is_trimmed_once_when_the_last_visitor_is_forgotten() {
        let state = shared();
        let mut trimming = Trimming::default();
        state.sweep_once(Instant::now(), &mut trimming);
        assert_eq!(
            state.heap_trims(),
            0,
            "never held a visitor: nothing to give back"
        );
        let mut tabs = Vec::new();
        for visitor in ["v", "w"] {
            let (tab, outbox) = SessionHandle::new(8);
            state.attach(&key(visitor), "t1", &tab);
            state
                .presence(&key(visitor), true, None, Some(Page::default()))
                .unwrap();
            tabs.push((visitor, tab, outbox));
        }
        let (v, tab, _outbox) = &tabs[0];
        state.detach(&key(v), tab.id);
        let left = Instant::now();
        state.sweep_once(left + RETENTION + Duration::from_millis(1), &mut trimming);
        assert_eq!(
            (state.visitors_held(), state.heap_trims()),
            (1, 0),
            "one forgotten, one still online: not idle"
        );
        let (w, tab, _outbox) = &tabs[1];
        state.detach(&key(w), tab.id);
        let left = Instant::now();
        state.sweep_once(left + RETENTION + Duration::from_millis(1), &mut trimming);
        assert_eq!((state.visitors_held(), state.heap_trims()), (0, 1));
        state.sweep_once(left + 2 * RETENTION, &mut trimming);
        assert_eq!(state.heap_trims(), 1, "idle since the last trim: no other");
    }

    #[test]
    fn the_heap_is_trimmed_after_every_thousand_forgotten_while_visitors_stay() {
        let mut trimming = Trimming::default();
        assert!(!trimming.due(TRIM_AFTER - 1, 10));
        assert!(trimming.due(1, 10), "the thousandth");
        assert!(!trimming.due(TRIM_AFTER - 1, 10), "counted afresh");
    }

    #[test]
    fn a_visitor_who_came_back_is_not_forgotten_by_its_earlier_departure() {
        let state = shared();
        let (first, _outbox) = SessionHandle::new(8);
        state.attach(&key("v"), "t1", &first);
        state
            .presence(&key("v"), true, None, Some(Page::default()))
            .unwrap();
        state.detach(&key("v"), first.id);
        let (second, _outbox) = SessionHandle::new(8);
        state.attach(&key("v"), "t1", &second);
        assert_eq!(
            state.forget_departed(Instant::now() + 2 * RETENTION),
            0,
            "online again"
        );
        state.detach(&key("v"), second.id);
        let left = Instant::now();
        assert_eq!(
            state.forget_departed(left + RETENTION / 2),
            0,
            "the second departure's clock"
        );
        assert_eq!(
            state.forget_departed(left + RETENTION + Duration::from_millis(1)),
            1
        );
    }

    #[test]
    fn a_signal_queued_for_a_visitor_never_seen_is_kept_for_the_retention() {
        let state = shared();
        let queued = Instant::now();
        state.deliver(&key("gone"), "a", "s1", &signal("s1"));
        assert_eq!(state.forget_departed(queued + RETENTION / 2), 0);
        let (tab, mut outbox) = SessionHandle::new(8);
        assert_eq!(
            state.attach(&key("gone"), "t1", &tab).len(),
            1,
            "replayed within the retention"
        );
        state.detach(&key("gone"), tab.id);
        assert!(
            outbox.try_recv().is_err(),
            "nothing else was pushed to the tab"
        );
        let left = Instant::now();
        assert_eq!(
            state.forget_departed(left + RETENTION + Duration::from_millis(1)),
            1
        );
        let (again, _outbox) = SessionHandle::new(8);
        assert!(
            state.attach(&key("gone"), "t1", &again).is_empty(),
            "forgotten after the retention"
        );
    }

    #[test]
    fn an_agent_watching_a_forgotten_visitor_is_told_and_keeps_its_watch() {
        let state = shared();
        let (agent, mut events) = SessionHandle::new(8);
        let (tab, _outbox) = SessionHandle::new(8);
        state.attach(&key("v"), "t1", &tab);
        state
            .presence(&key("v"), true, None, Some(Page::default()))
            .unwrap();
        state.watch(&key("v"), &agent);
        state.detach(&key("v"), tab.id);
        let left = Instant::now();
        while events.try_recv().is_ok() {}
        assert_eq!(
            state.forget_departed(left + RETENTION + Duration::from_millis(1)),
            1
        );
        assert!(
            events.try_recv().is_ok(),
            "the watcher was sent the forgotten visitor's presence"
        );
        assert_eq!(
            state.visitors_held(),
            1,
            "the watch holds the entry until unwatch"
        );
        state.unwatch(&key("v"), agent.id);
        assert_eq!(state.visitors_held(), 0);
    }
}
