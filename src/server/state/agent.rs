//! What agents do to the shared state: watching visitors and sending them signals/invokes.

use std::sync::Arc;

use crate::wire::{ServerMessage, Status};

use super::{Kept, Outgoing, SessionHandle, Shared, VisitorKey};

/// What an agent is told about a signal or invoke.
pub struct DeliveryStatus {
    pub status: Status,
    pub reason: Option<String>,
}

impl Shared {
    /// `watcher` follows the visitor's presence from now on; answers the presence now.
    pub fn watch(&self, key: &VisitorKey, watcher: &SessionHandle) -> ServerMessage {
        let mut state = self.lock();
        let visitor = state.visitors.entry(key.clone()).or_default();
        if !visitor.watchers.iter().any(|known| known.id == watcher.id) {
            visitor.watchers.push(watcher.clone());
        }
        visitor.snapshot(&key.1)
    }

    pub fn unwatch(&self, key: &VisitorKey, watcher_id: u64) {
        let mut state = self.lock();
        let Some(visitor) = state.visitors.get_mut(key) else {
            return;
        };
        visitor.watchers.retain(|known| known.id != watcher_id);
        state.forget_if_empty(key);
    }

    /// Sends a `signal`/`invoke` message to the visitor's focused tab, keeping a copy until
    /// it is acknowledged, so that it survives the visitor going offline or its instance
    /// leaving (at-least-once delivery).
    pub fn deliver(
        &self,
        key: &VisitorKey,
        agent: &str,
        id: &str,
        message: &ServerMessage,
    ) -> DeliveryStatus {
        let mut state = self.lock();
        let state = &mut *state;
        let visitor = state.visitors.entry(key.clone()).or_default();
        if visitor.kept.len() >= self.queue_bound {
            let reason = Some("queue_full".to_owned());
            state.forget_if_empty(key);
            return DeliveryStatus {
                status: Status::Rejected,
                reason,
            };
        }
        let status = if visitor.tabs.is_empty() {
            Status::Queued
        } else {
            Status::Delivered
        };
        if self.faults.drop_signal(&mut state.rng) {
            state.forget_if_empty(key);
            return DeliveryStatus {
                status,
                reason: None,
            };
        }
        let encoded: Arc<str> = message.encode().into();
        let focused = visitor.focused_tab();
        let unfocused = visitor
            .tabs
            .iter()
            .filter(|tab| Some(tab.session.id) != visitor.focused);
        let target = self.faults.signal_target(focused, unfocused);
        if let Some(tab) = target {
            tab.session.push(Outgoing::Message(encoded.clone()));
        }
        let sent_to = target.map(|tab| tab.session.id);
        visitor.kept.push_back(Kept {
            agent: agent.to_owned(),
            id: id.to_owned(),
            message: encoded,
            sent_to,
        });
        if visitor.tabs.is_empty() && visitor.offline_at.is_none() {
            self.note_offline(state, key);
        }
        DeliveryStatus {
            status,
            reason: None,
        }
    }
}
