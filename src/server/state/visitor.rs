//! What visitors do to the shared state: tabs coming and going, focus, presence, acks.

use std::sync::Arc;

use crate::wire::close;
use crate::wire::data::{self, Data, DataError, MAX_DATA_KEYS};
use crate::wire::{Page, ServerMessage};

use super::{Outgoing, SessionHandle, Shared, Tab, VisitorKey};

fn message(message: ServerMessage) -> Outgoing {
    Outgoing::Message(message.encode().into())
}

impl Shared {
    /// A tab connects and takes focus. Answers the kept signals/invokes to replay to it,
    /// oldest first; the caller sends them right after its own reply.
    pub fn attach(&self, key: &VisitorKey, tab: &str, session: &SessionHandle) -> Vec<Arc<str>> {
        let mut state = self.lock();
        let state = &mut *state;
        let visitor = state.visitors.entry(key.clone()).or_default();
        if visitor.tabs.is_empty() {
            self.faults.leak(&mut state.leaked);
        }
        visitor.offline_at = None;
        // The same tab again: a reconnect the server has not noticed yet. The old session
        // goes without a blur, since the tab itself never lost focus.
        if let Some(position) = visitor.tabs.iter().position(|open| open.tab == tab) {
            let old = visitor.tabs.remove(position);
            old.session.push(Outgoing::Close(close::REPLACED));
            if visitor.focused == Some(old.session.id) {
                visitor.focused = None;
            }
        }
        let new_tab = Tab {
            tab: tab.to_owned(),
            session: session.clone(),
        };
        if let Some(lost) = visitor.focused_tab() {
            let target = self.faults.blur_target(lost, &new_tab);
            self.faults.send_blur(
                &target.session,
                message(ServerMessage::Blur {
                    tab: target.tab.clone(),
                }),
            );
        }
        visitor.focused = Some(session.id);
        visitor.tabs.push(new_tab);
        let mut replay = Vec::with_capacity(visitor.kept.len());
        for kept in &mut visitor.kept {
            kept.sent_to = Some(session.id);
            replay.push(kept.message.clone());
        }
        if self.faults.reorder_signals() {
            replay.reverse();
        }
        visitor.notify_watchers(&key.1, &self.faults);
        replay
    }

    /// A tab's session ended. If it had focus, the most recently connected other tab takes
    /// it; a session that was replaced already is not a tab any more and changes nothing.
    ///
    /// What was sent to the ended session and never acknowledged goes again, oldest first, to
    /// the tab that has focus now (after its `focused`, if it just took focus): the tab that
    /// got it closed or was lost with it unread or unacknowledged (an HTTP tab the client
    /// abandoned looks open until the disconnect delay), and a visitor with another tab open
    /// makes no `connect` that would replay it. With no tab left it waits for the next one.
    pub fn detach(&self, key: &VisitorKey, session_id: u64) {
        let mut state = self.lock();
        let Some(visitor) = state.visitors.get_mut(key) else {
            return;
        };
        let Some(position) = visitor
            .tabs
            .iter()
            .position(|open| open.session.id == session_id)
        else {
            return;
        };
        visitor.tabs.remove(position);
        if visitor.focused == Some(session_id) {
            visitor.focused = visitor.tabs.last().map(|next| next.session.id);
            if let Some(next) = visitor.tabs.last() {
                next.session.push(message(ServerMessage::Focused {
                    tab: next.tab.clone(),
                }));
            }
        }
        visitor.resend_kept(session_id);
        visitor.notify_watchers(&key.1, &self.faults);
        if visitor.tabs.is_empty() {
            self.note_offline(&mut state, key);
        }
        state.forget_if_empty(key);
    }

    /// Stores a presence report: `replace` (the first one of a connection) replaces page and
    /// data, later ones replace the page if given and merge data key by key. Bad data is
    /// refused whole, so nothing half-applied is ever stored.
    pub fn presence(
        &self,
        key: &VisitorKey,
        replace: bool,
        data: Option<Data>,
        page: Option<Page>,
    ) -> Result<(), DataError> {
        if let Some(data) = &data {
            data::validate(data)?;
        }
        let mut state = self.lock();
        let visitor = state.visitors.entry(key.clone()).or_default();
        if replace {
            visitor.page = page;
            visitor.data = data.unwrap_or_default();
        } else {
            if let Some(data) = data {
                let added = data
                    .keys()
                    .filter(|name| !visitor.data.contains_key(*name))
                    .count();
                if visitor.data.len() + added > MAX_DATA_KEYS {
                    return Err(DataError::TooManyKeys(visitor.data.len() + added));
                }
                visitor.data.extend(data);
            }
            if page.is_some() {
                visitor.page = page;
            }
        }
        visitor.notify_watchers(&key.1, &self.faults);
        Ok(())
    }

    /// A tab takes focus; the tab that had it is sent `blur`.
    pub fn focus(&self, key: &VisitorKey, session_id: u64) {
        let mut state = self.lock();
        let Some(visitor) = state.visitors.get_mut(key) else {
            return;
        };
        if visitor.focused == Some(session_id) {
            return;
        }
        let Some(gained) = visitor
            .tabs
            .iter()
            .find(|open| open.session.id == session_id)
        else {
            return;
        };
        if let Some(lost) = visitor.focused_tab() {
            let target = self.faults.blur_target(lost, gained);
            self.faults.send_blur(
                &target.session,
                message(ServerMessage::Blur {
                    tab: target.tab.clone(),
                }),
            );
        }
        visitor.focused = Some(session_id);
        visitor.notify_watchers(&key.1, &self.faults);
    }

    /// The visitor received a signal/invoke: its kept copy is forgotten for good.
    pub fn ack(&self, key: &VisitorKey, id: &str, agent: &str) {
        let mut state = self.lock();
        let Some(visitor) = state.visitors.get_mut(key) else {
            return;
        };
        visitor
            .kept
            .retain(|kept| kept.id != id || kept.agent != agent);
        state.forget_if_empty(key);
    }
}
