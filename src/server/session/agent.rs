//! Agent messages: `agent_connect`, `lookup`, `unwatch`, `signal`, `invoke`.

use std::collections::HashSet;

use crate::wire::{ServerMessage, Status};

use super::dispatch::{valid_group, valid_id, AgentRole, Role};
use super::Session;

impl Session {
    pub(super) fn agent_connect(&mut self, group: String, agent: String) {
        if !matches!(self.role, Role::Anonymous) {
            return self.error("bad_request", "this session is connected already");
        }
        if !valid_group(&group) || !valid_id(&agent) {
            return self.error(
                "bad_request",
                "group must be digits, agent 1 to 128 characters",
            );
        }
        self.reply(ServerMessage::AgentConnected {
            agent: agent.clone(),
            server: self.instance.name.clone(),
        });
        self.role = Role::Agent(AgentRole {
            group,
            agent,
            watching: HashSet::new(),
        });
    }

    pub(super) fn lookup(&mut self, visitor: String) {
        let Role::Agent(agent) = &mut self.role else {
            return self.not_connected("agent_connect");
        };
        if !valid_id(&visitor) {
            return self.error("bad_request", "visitor must be 1 to 128 characters");
        }
        let presence = self
            .context
            .state
            .watch(&(agent.group.clone(), visitor.clone()), &self.handle);
        agent.watching.insert(visitor);
        self.reply(presence);
    }

    pub(super) fn unwatch(&mut self, visitor: &str) {
        let Role::Agent(agent) = &mut self.role else {
            return self.not_connected("agent_connect");
        };
        if agent.watching.remove(visitor) {
            self.context
                .state
                .unwatch(&(agent.group.clone(), visitor.to_owned()), self.handle.id);
        }
    }

    /// `signal` and `invoke` alike: `message` builds what the visitor gets from the id and
    /// this agent's name, `status` what this agent is told.
    pub(super) fn send_to_visitor(
        &mut self,
        visitor: String,
        id: String,
        message: impl FnOnce(String, String) -> ServerMessage,
        status: impl FnOnce(String, Status, Option<String>) -> ServerMessage,
    ) {
        let Role::Agent(agent) = &self.role else {
            return self.not_connected("agent_connect");
        };
        if !valid_id(&visitor) || id.is_empty() {
            return self.error(
                "bad_request",
                "visitor must be 1 to 128 characters, id not empty",
            );
        }
        let key = (agent.group.clone(), visitor);
        let outcome = self.context.state.deliver(
            &key,
            &agent.agent,
            &id,
            &message(id.clone(), agent.agent.clone()),
        );
        self.reply(status(id, outcome.status, outcome.reason));
    }
}
