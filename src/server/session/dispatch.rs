//! Decoding a client message and routing it to the visitor or agent handlers; replies and
//! the checks every handler shares.

use std::collections::HashSet;
use std::sync::Arc;

use crate::wire::{ClientMessage, ServerMessage};

use super::super::state::VisitorKey;
use super::{Reply, Session};

/// Longest visitor, tab or agent id accepted.
const MAX_ID_CHARS: usize = 128;

/// What a session has become by its first `connect`, `connect_unique` or `agent_connect`.
pub enum Role {
    Anonymous,
    Visitor(VisitorRole),
    Agent(AgentRole),
}

pub struct VisitorRole {
    pub key: VisitorKey,
    pub tab: String,
    /// Holds a unique id (`connect_unique`), released when the session ends.
    pub unique: bool,
    /// A `presence` was stored since `connect`: the next one merges instead of replacing.
    pub reported: bool,
}

pub struct AgentRole {
    pub group: String,
    pub agent: String,
    /// Visitors of `group` this session watches, to unwatch when it ends.
    pub watching: HashSet<String>,
}

/// `group` is a string of digits.
pub fn valid_group(group: &str) -> bool {
    !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit())
}

/// Visitor, tab and agent ids: 1 to 128 characters.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS
}

impl Session {
    pub(super) fn reply(&mut self, message: ServerMessage) {
        self.replies.push(Reply::Owned(message.encode()));
    }

    pub(super) fn reply_shared(&mut self, messages: impl IntoIterator<Item = Arc<str>>) {
        self.replies.extend(messages.into_iter().map(Reply::Shared));
    }

    pub(super) fn error(&mut self, code: &str, message: impl Into<String>) {
        self.reply(ServerMessage::error(code, message));
    }

    /// Handles one message. Nothing here may fail the session except by setting `close`.
    pub(super) fn dispatch(&mut self, text: &str) {
        let message = match ClientMessage::decode(text) {
            Ok(message) => message,
            Err(err) => return self.error(err.code(), err.to_string()),
        };
        match message {
            ClientMessage::Connect {
                group,
                visitor,
                tab,
            } => self.connect(group, visitor, tab),
            ClientMessage::ConnectUnique { group, tab } => self.connect_unique(group, tab),
            ClientMessage::Extend => self.extend(),
            ClientMessage::Presence { seq, data, page } => self.presence(seq, data, page),
            ClientMessage::Focus => self.focus(),
            ClientMessage::SignalAck { id, agent } => self.signal_ack(&id, &agent),
            ClientMessage::AgentConnect { group, agent } => self.agent_connect(group, agent),
            ClientMessage::Lookup { visitor } => self.lookup(visitor),
            ClientMessage::Unwatch { visitor } => self.unwatch(&visitor),
            ClientMessage::Signal { visitor, id, data } => self.send_to_visitor(
                visitor,
                id,
                |id, agent| ServerMessage::Signal { id, agent, data },
                |id, status, reason| ServerMessage::SignalStatus { id, status, reason },
            ),
            ClientMessage::Invoke {
                visitor,
                id,
                action,
                args,
            } => self.send_to_visitor(
                visitor,
                id,
                |id, agent| ServerMessage::Invoke {
                    id,
                    agent,
                    action,
                    args,
                },
                |id, status, reason| ServerMessage::InvokeStatus { id, status, reason },
            ),
            // Notices a client may send; the server has nothing to do about them.
            ClientMessage::Error { .. } | ClientMessage::Draining { .. } => {}
        }
    }

    /// The answer to a message that needs a role this session does not have.
    pub(super) fn not_connected(&mut self, needs: &str) {
        self.error("not_connected", format!("send {needs} first"));
    }

    /// Leaves the shared state: tabs close, unique ids are released, watches end.
    pub(super) fn leave(&mut self) {
        let state = &self.context.state;
        match std::mem::replace(&mut self.role, Role::Anonymous) {
            Role::Anonymous => {}
            Role::Visitor(visitor) => {
                state.detach(&visitor.key, self.handle.id);
                if visitor.unique {
                    state.release_unique(&visitor.key.1);
                }
            }
            Role::Agent(agent) => {
                for visitor in agent.watching {
                    state.unwatch(&(agent.group.clone(), visitor), self.handle.id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_digits_and_ids_are_bounded() {
        assert!(valid_group("123") && !valid_group("") && !valid_group("12a"));
        assert!(valid_id("v") && valid_id(&"é".repeat(128)));
        assert!(!valid_id("") && !valid_id(&"x".repeat(129)));
    }
}
