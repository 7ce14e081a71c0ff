//! Presence propagation: each presence a visitor sends carries a marker (a number that grows
//! per visitor, in `data` under [`MARKER_KEY`]); agents watching the visitor must see it.
//!
//! A presence acknowledged while an agent watched is *due* at that agent `grace` later: not
//! having seen its marker (or a newer one) by then is a miss. An event whose marker is older
//! than one the visitor had confirmed more than `grace` before is stale.

use std::sync::Arc;
use std::time::Instant;

use super::{Ledger, State, Watcher, MARKERS_KEPT};
use crate::measure::{Check, Metric};

/// The `data` key that carries the presence marker.
pub const MARKER_KEY: &str = "pb_marker";

/// A presence an agent must have seen by `due`.
pub(super) struct PresenceDue {
    due: Instant,
    visitor: Arc<str>,
    agent: u32,
    marker: u64,
}

impl Ledger {
    /// `visitor` is about to send presence `marker`, intended at `intended`.
    pub fn presence_sent(&self, visitor: &str, marker: u64, intended: Instant) {
        let mut state = self.lock();
        if let Some(entry) = state.visitors.get_mut(visitor) {
            if entry.markers.len() == MARKERS_KEPT {
                entry.markers.pop_front();
            }
            entry.markers.push_back((marker, intended));
        }
    }

    /// The server acknowledged presence `marker` of `visitor`: every agent watching it now
    /// must see it within the grace period.
    pub fn presence_acked(&self, visitor: &str, marker: u64, now: Instant) {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(key) = state
            .visitors
            .get_key_value(visitor)
            .map(|(key, _)| key.clone())
        else {
            return;
        };
        let Some(entry) = state.visitors.get_mut(visitor) else {
            return;
        };
        if entry.acked.len() == MARKERS_KEPT {
            entry.acked.pop_front();
        }
        entry.acked.push_back((marker, now));
        for watcher in &entry.watchers {
            let due = now + self.grace;
            state.presence_dues.push_back(PresenceDue {
                due,
                visitor: key.clone(),
                agent: watcher.agent,
                marker,
            });
        }
    }

    /// `agent` started watching `visitor` (its `lookup` was answered with `marker`, if any).
    pub fn watch_started(&self, agent: u32, visitor: &str, marker: Option<u64>, online: bool) {
        let mut state = self.lock();
        let Some(entry) = state.visitors.get_mut(visitor) else {
            return;
        };
        if !entry.watchers.iter().any(|w| w.agent == agent) {
            entry.watchers.push(Watcher {
                agent,
                seen_marker: marker.unwrap_or(0),
                seen_online: online,
            });
        }
    }

    /// `agent` stopped watching `visitor` (unwatch, or the agent's session was lost).
    pub fn watch_ended(&self, agent: u32, visitor: &str) {
        let mut state = self.lock();
        if let Some(entry) = state.visitors.get_mut(visitor) {
            entry.watchers.retain(|w| w.agent != agent);
        }
        state.forget_if_empty(visitor);
    }

    /// `agent` received a `presence` event for `visitor`.
    pub fn presence_event(
        &self,
        agent: u32,
        visitor: &str,
        marker: Option<u64>,
        online: bool,
        now: Instant,
    ) {
        let mut state = self.lock();
        let Some(entry) = state.visitors.get_mut(visitor) else {
            return;
        };
        let Some(watcher) = entry.watchers.iter_mut().find(|w| w.agent == agent) else {
            return;
        };
        let marker = marker.unwrap_or(0);
        if marker > watcher.seen_marker {
            watcher.seen_marker = marker;
            if let Some((_, sent)) = entry.markers.iter().find(|(m, _)| *m == marker) {
                self.recorder.since(Metric::PresencePropagation, *sent);
            }
        }
        if online != watcher.seen_online {
            watcher.seen_online = online;
            if let Some((now_online, at)) = entry.transition {
                if now_online == online {
                    self.recorder.since(Metric::OnlinePropagation, at);
                }
            }
        }
        let confirmed_long_ago = entry
            .acked
            .iter()
            .any(|(acked, at)| *acked > marker && now.saturating_duration_since(*at) > self.grace);
        if confirmed_long_ago {
            self.recorder.violation(Check::PresenceStale);
        }
    }

    pub(super) fn sweep_presence(&self, state: &mut State, now: Instant) {
        while state.presence_dues.front().is_some_and(|due| due.due < now) {
            let Some(due) = state.presence_dues.pop_front() else {
                break;
            };
            let seen = state
                .visitors
                .get(&due.visitor)
                .and_then(|entry| entry.watchers.iter().find(|w| w.agent == due.agent))
                .map(|watcher| watcher.seen_marker);
            if seen.is_some_and(|seen| seen < due.marker) {
                self.recorder.violation(Check::PresenceMissed);
            }
        }
    }
}
