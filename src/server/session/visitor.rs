//! Visitor messages: `connect`, `connect_unique`, `extend`, `presence`, `focus`, `signal_ack`.

use tokio::time::Instant;

use crate::wire::close;
use crate::wire::data::Data;
use crate::wire::{Page, ServerMessage};

use super::dispatch::{valid_group, valid_id, Role, VisitorRole};
use super::{Session, OUTBOX_CAPACITY};

impl Session {
    /// Checks shared by both kinds of connect; false after answering the problem.
    fn may_connect(&mut self, group: &str, tab: &str) -> bool {
        if !matches!(self.role, Role::Anonymous) {
            self.error("bad_request", "this session is connected already");
            return false;
        }
        if !valid_group(group) || !valid_id(tab) {
            self.error(
                "bad_request",
                "group must be digits, tab 1 to 128 characters",
            );
            return false;
        }
        true
    }

    /// Becomes `visitor`'s tab; replays what was kept for it after `first`, the reply.
    fn become_visitor(
        &mut self,
        group: String,
        visitor: String,
        tab: String,
        unique: bool,
        first: ServerMessage,
    ) {
        let key = (group, visitor);
        let replay = self.context.state.attach(&key, &tab, &self.handle);
        self.reply(first);
        self.reply_shared(replay);
        self.role = Role::Visitor(VisitorRole {
            key,
            tab,
            unique,
            reported: false,
        });
    }

    pub(super) fn connect(&mut self, group: String, visitor: String, tab: String) {
        if !self.may_connect(&group, &tab) {
            return;
        }
        if !valid_id(&visitor) {
            return self.error("bad_request", "visitor must be 1 to 128 characters");
        }
        let connected = ServerMessage::Connected {
            visitor: visitor.clone(),
            server: self.instance.name.clone(),
            focus: true,
        };
        self.become_visitor(group, visitor, tab, false, connected);
    }

    pub(super) fn connect_unique(&mut self, group: String, tab: String) {
        if !self.may_connect(&group, &tab) {
            return;
        }
        let Some(visitor) = self.context.state.claim_unique() else {
            self.close = Some(close::UNIQUE_IN_USE);
            return;
        };
        let timeout = self.context.settings.unique_timeout;
        self.unique_deadline = Some(Instant::now() + timeout);
        let unique = ServerMessage::Unique {
            visitor: visitor.clone(),
            expires_in_ms: timeout.as_millis() as u64,
        };
        self.become_visitor(group, visitor, tab, true, unique);
    }

    pub(super) fn extend(&mut self) {
        match &self.role {
            Role::Anonymous => self.not_connected("connect_unique"),
            Role::Visitor(VisitorRole { unique: true, .. }) => {
                let timeout = self.context.settings.unique_timeout;
                self.unique_deadline = Some(Instant::now() + timeout);
                self.reply(ServerMessage::Extended {
                    expires_in_ms: timeout.as_millis() as u64,
                });
            }
            Role::Visitor(_) | Role::Agent(_) => {
                self.error("not_unique", "not a unique connection")
            }
        }
    }

    pub(super) fn presence(&mut self, seq: u64, data: Option<Data>, page: Option<Page>) {
        let Role::Visitor(visitor) = &mut self.role else {
            return self.not_connected("connect");
        };
        if let Err(err) = self
            .context
            .state
            .presence(&visitor.key, !visitor.reported, data, page)
        {
            return self.error("bad_data", err.to_string());
        }
        visitor.reported = true;
        let open = self.context.counters.sessions_open();
        let delay =
            self.context.settings.ack_delay + self.context.state.faults().overload_ack_delay(open);
        // A flood of presences beyond the outbox bound is acked at once rather than held.
        if delay.is_zero() || self.pending_acks.len() >= OUTBOX_CAPACITY {
            self.reply(ServerMessage::PresenceAck { seq });
        } else {
            self.pending_acks.push_back((Instant::now() + delay, seq));
        }
    }

    pub(super) fn focus(&mut self) {
        let Role::Visitor(visitor) = &self.role else {
            return self.not_connected("connect");
        };
        self.context.state.focus(&visitor.key, self.handle.id);
        let tab = visitor.tab.clone();
        self.reply(ServerMessage::Focused { tab });
    }

    pub(super) fn signal_ack(&mut self, id: &str, agent: &str) {
        let Role::Visitor(visitor) = &self.role else {
            return self.not_connected("connect");
        };
        self.context.state.ack(&visitor.key, id, agent);
    }
}
