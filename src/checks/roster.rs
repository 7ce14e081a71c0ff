//! Who is online, as the visitors themselves report it: the basis of "due" deliveries, of
//! online propagation, and of the agents' choice of whom to signal.

use std::sync::Arc;
use std::time::Instant;

use rand::Rng;

use super::{Ledger, State, RECENTLY_LEFT};
use crate::measure::Check;

impl Ledger {
    /// A session of `visitor` opened (`connected`): it is online, and every signal kept for
    /// it is replayed now, so each becomes due.
    pub fn visitor_connected(&self, visitor: &str, now: Instant) {
        if !self.roster {
            return;
        }
        let mut state = self.lock();
        let state = &mut *state;
        let key = state
            .visitors
            .get_key_value(visitor)
            .map_or_else(|| Arc::from(visitor), |(k, _)| k.clone());
        let online_len = state.online.len();
        let entry = state.visitors.entry(key.clone()).or_default();
        if entry.online_at.is_none() {
            entry.online_at = Some(online_len);
            entry.transition = Some((true, now));
            state.online.push(key);
        }
        // The new session gets every kept signal: no wait for a focus move any more.
        entry.focus_moves_by = None;
        let due = now + self.grace;
        for signal in &entry.outstanding {
            if let Some(kept) = state.signals.get_mut(signal).filter(|kept| kept.confirmed) {
                kept.due_by = Some(due);
            }
        }
    }

    /// `visitor` has no session any more (it left, or its last session was lost). What was
    /// due by now and has not arrived is lost; what was still within its grace is not due
    /// any more: it will be replayed on the next connect.
    pub fn visitor_disconnected(&self, visitor: &str, now: Instant) {
        if !self.roster {
            return;
        }
        let mut state = self.lock();
        let state = &mut *state;
        let Some(entry) = state.visitors.get_mut(visitor) else {
            return;
        };
        let Some(position) = entry.online_at.take() else {
            return;
        };
        entry.transition = Some((false, now));
        entry.focus_moves_by = None;
        let outstanding = std::mem::take(&mut entry.outstanding);
        let mut kept = Vec::with_capacity(outstanding.len());
        for signal in outstanding {
            match state.signals.get_mut(&signal) {
                Some(entry) if entry.due_by.is_some_and(|due| due < now) => {
                    state.signals.remove(&signal);
                    self.recorder.violation(Check::SignalsLost);
                }
                Some(entry) => {
                    entry.due_by = None;
                    kept.push(signal);
                }
                None => {}
            }
        }
        let key = state.online.swap_remove(position);
        if let Some(moved) = state.online.get(position) {
            if let Some(moved_entry) = state.visitors.get_mut(moved) {
                moved_entry.online_at = Some(position);
            }
        }
        if let Some(entry) = state.visitors.get_mut(visitor) {
            entry.outstanding = kept;
        }
        if state.recently_left.len() == RECENTLY_LEFT {
            state.recently_left.pop_front();
        }
        state.recently_left.push_back(key);
        state.forget_if_empty(visitor);
    }

    /// A visitor for an agent to reach: offline (lately left) with probability
    /// `offline_share`, online otherwise; the other kind when there is none of the one asked.
    pub fn pick_visitor(&self, offline_share: f64, rng: &mut impl Rng) -> Option<(Arc<str>, bool)> {
        let state = self.lock();
        let want_offline = offline_share > 0.0 && rng.random_bool(offline_share.min(1.0));
        let (first, second) = if want_offline {
            (false, true)
        } else {
            (true, false)
        };
        pick(&state, first, rng).or_else(|| pick(&state, second, rng))
    }

    /// Visitors online now.
    pub fn online_count(&self) -> usize {
        self.lock().online.len()
    }

    /// A random online visitor.
    pub fn pick_online(&self, rng: &mut impl Rng) -> Option<Arc<str>> {
        pick_online(&self.lock(), rng)
    }

    /// Whether `visitor` is online now.
    pub fn is_online(&self, visitor: &str) -> bool {
        self.lock()
            .visitors
            .get(visitor)
            .is_some_and(|entry| entry.online_at.is_some())
    }
}

fn pick(state: &State, online: bool, rng: &mut impl Rng) -> Option<(Arc<str>, bool)> {
    let found = if online {
        pick_online(state, rng)
    } else {
        pick_offline(state, rng)
    };
    found.map(|visitor| (visitor, online))
}

fn pick_online(state: &State, rng: &mut impl Rng) -> Option<Arc<str>> {
    (!state.online.is_empty())
        .then(|| state.online[rng.random_range(0..state.online.len())].clone())
}

/// A lately-left visitor that is still offline; a few tries, since some came back.
fn pick_offline(state: &State, rng: &mut impl Rng) -> Option<Arc<str>> {
    if state.recently_left.is_empty() {
        return None;
    }
    (0..8).find_map(|_| {
        let candidate = &state.recently_left[rng.random_range(0..state.recently_left.len())];
        let offline = state
            .visitors
            .get(candidate)
            .is_none_or(|entry| entry.online_at.is_none());
        offline.then(|| candidate.clone())
    })
}
