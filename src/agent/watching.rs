//! The visitors an agent watches: about `watch` of the live ones, spread over the agents,
//! reviewed periodically; visitors that went offline are let go.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use super::AgentContext;
use crate::checks::Ledger;
use crate::protocol::ClientMessage;

/// How often an agent adjusts what it watches.
pub const REVIEW_EVERY: Duration = Duration::from_secs(1);
/// The most visitors one agent watches.
const MAX_PER_AGENT: usize = 2000;

/// Visitors this agent watches; `true` while the `lookup` answer is awaited.
#[derive(Default)]
pub struct Watches {
    watched: HashMap<Arc<str>, bool>,
}

impl Watches {
    /// After a (re)connect: look every watched visitor up again.
    pub fn resume(&mut self) -> Vec<ClientMessage> {
        self.watched
            .iter_mut()
            .map(|(visitor, awaiting)| {
                *awaiting = true;
                ClientMessage::Lookup { visitor: visitor.to_string() }
            })
            .collect()
    }

    /// The session was lost: the ledger stops expecting events until the lookups are answered.
    pub fn lost(&mut self, ledger: &Ledger, agent: u32) {
        for visitor in self.watched.keys() {
            ledger.watch_ended(agent, visitor);
        }
    }

    /// The agent is done.
    pub fn end_all(&mut self, ledger: &Ledger, agent: u32) {
        self.lost(ledger, agent);
        self.watched.clear();
    }

    /// A `presence` event (or lookup answer) for `visitor`.
    pub fn presence(&mut self, ledger: &Ledger, agent: u32, visitor: &str, marker: Option<u64>, online: bool) {
        match self.watched.get_mut(visitor) {
            Some(awaiting) if *awaiting => {
                *awaiting = false;
                ledger.watch_started(agent, visitor, marker, online);
            }
            Some(_) => ledger.presence_event(agent, visitor, marker, online, Instant::now()),
            None => {}
        }
    }

    /// Lets offline visitors go and watches new live ones up to this agent's share.
    pub fn review(&mut self, ctx: &AgentContext, agent: u32, rng: &mut impl Rng) -> Vec<ClientMessage> {
        let mut messages = Vec::new();
        let ledger = &ctx.ledger;
        self.watched.retain(|visitor, awaiting| {
            let keep = *awaiting || ledger.is_online(visitor);
            if !keep {
                ledger.watch_ended(agent, visitor);
                messages.push(ClientMessage::Unwatch { visitor: visitor.to_string() });
            }
            keep
        });
        let wanted =
            (ctx.agents.watch * ledger.online_count() as f64 / f64::from(ctx.group_agents.max(1))).ceil() as usize;
        let wanted = wanted.min(MAX_PER_AGENT);
        let mut tries = wanted.saturating_sub(self.watched.len()) * 2;
        while self.watched.len() < wanted && tries > 0 {
            tries -= 1;
            let Some(visitor) = ledger.pick_online(rng) else { break };
            if let std::collections::hash_map::Entry::Vacant(slot) = self.watched.entry(visitor) {
                messages.push(ClientMessage::Lookup { visitor: slot.key().to_string() });
                slot.insert(true);
            }
        }
        messages
    }
}
