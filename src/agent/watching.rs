//! The visitors an agent watches: about `watch` of the live ones, spread over the agents,
//! reviewed periodically; visitors that went offline are let go.
//!
//! A `lookup` is a request like any other: answered within the reply timeout, or counted
//! (`reply_timeout`, and the watch is given up; `unanswered` when the session is lost with it
//! outside a planned move or the run ends first). Lookups have no latency metric of their
//! own, so they are counted as errors only, as a visitor's resent presence is.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use super::AgentContext;
use crate::checks::Ledger;
use crate::measure::{ErrorKind, Recorder, Waiting};
use crate::wire::ClientMessage;

/// How often an agent adjusts what it watches.
pub const REVIEW_EVERY: Duration = Duration::from_secs(1);
/// The most visitors one agent watches.
const MAX_PER_AGENT: usize = 2000;

/// Where the watch of one visitor stands.
enum Watch {
    /// Its `lookup` went out; the answer is due by `deadline`.
    Awaiting {
        deadline: Instant,
        /// Counted among the requests waiting now until the answer comes.
        _waiting: Waiting,
    },
    /// Answered: every presence event of the visitor is judged.
    Watching,
}

impl Watch {
    fn awaiting(recorder: &Recorder, deadline: Instant) -> Watch {
        Watch::Awaiting {
            deadline,
            _waiting: recorder.waiting(),
        }
    }

    fn is_awaiting(&self) -> bool {
        matches!(self, Watch::Awaiting { .. })
    }
}

/// Visitors this agent watches.
#[derive(Default)]
pub struct Watches {
    watched: HashMap<Arc<str>, Watch>,
    /// `(deadline, visitor)` of the lookups sent, in send order (so deadlines ascend); an entry
    /// whose lookup was answered or sent again is skipped when it comes to the front.
    deadlines: VecDeque<(Instant, Arc<str>)>,
}

impl Watches {
    /// After a (re)connect: look every watched visitor up again.
    pub fn resume(&mut self, ctx: &AgentContext) -> Vec<ClientMessage> {
        let deadline = Instant::now() + ctx.opener.reply_timeout;
        self.deadlines.clear();
        self.watched
            .iter_mut()
            .map(|(visitor, watch)| {
                *watch = Watch::awaiting(&ctx.recorder, deadline);
                self.deadlines.push_back((deadline, visitor.clone()));
                ClientMessage::Lookup {
                    visitor: visitor.to_string(),
                }
            })
            .collect()
    }

    /// The session was lost: the ledger stops expecting events until the lookups are answered.
    /// Lookups it carried are `unanswered` unless the loss was `planned` (they are sent again
    /// on the next session either way).
    pub fn lost(&mut self, ledger: &Ledger, agent: u32, recorder: &Recorder, planned: bool) {
        for (visitor, watch) in &mut self.watched {
            ledger.watch_ended(agent, visitor);
            if watch.is_awaiting() && !planned {
                recorder.error(ErrorKind::Unanswered);
            }
            // Not waited for any more until it is sent again.
            *watch = Watch::Watching;
        }
        self.deadlines.clear();
    }

    /// The agent is done; lookups still awaited are `unanswered`.
    pub fn end_all(&mut self, ledger: &Ledger, agent: u32, recorder: &Recorder) {
        self.lost(ledger, agent, recorder, false);
        self.watched.clear();
    }

    /// Whether a lookup awaits its answer.
    pub fn awaiting_any(&self) -> bool {
        self.watched.values().any(Watch::is_awaiting)
    }

    /// The earliest deadline of a lookup still awaited (perhaps one answered since: a wake
    /// too many, never one too few).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|(deadline, _)| *deadline)
    }

    /// Lookups unanswered at `now` past their deadline are `reply_timeout`s, and their
    /// visitors are let go (answers the `unwatch`es): the review may pick them again.
    pub fn expire(&mut self, now: Instant, recorder: &Recorder) -> Vec<ClientMessage> {
        let mut messages = Vec::new();
        while self
            .deadlines
            .front()
            .is_some_and(|(deadline, _)| *deadline <= now)
        {
            let Some((deadline, visitor)) = self.deadlines.pop_front() else {
                break;
            };
            let timed_out = matches!(
                self.watched.get(&visitor),
                Some(Watch::Awaiting { deadline: due, .. }) if *due == deadline
            );
            if timed_out {
                self.watched.remove(&visitor);
                recorder.error(ErrorKind::ReplyTimeout);
                messages.push(ClientMessage::Unwatch {
                    visitor: visitor.to_string(),
                });
            }
        }
        messages
    }

    /// A `presence` event (or lookup answer) for `visitor`.
    pub fn presence(
        &mut self,
        ledger: &Ledger,
        agent: u32,
        visitor: &str,
        marker: Option<u64>,
        online: bool,
    ) {
        match self.watched.get_mut(visitor) {
            Some(watch) if watch.is_awaiting() => {
                *watch = Watch::Watching;
                ledger.watch_started(agent, visitor, marker, online);
            }
            Some(_) => ledger.presence_event(agent, visitor, marker, online, Instant::now()),
            None => {}
        }
    }

    /// Lets offline visitors go and watches new live ones up to this agent's share.
    pub fn review(
        &mut self,
        ctx: &AgentContext,
        agent: u32,
        rng: &mut impl Rng,
    ) -> Vec<ClientMessage> {
        let mut messages = Vec::new();
        let ledger = &ctx.ledger;
        self.watched.retain(|visitor, watch| {
            let keep = watch.is_awaiting() || ledger.is_online(visitor);
            if !keep {
                ledger.watch_ended(agent, visitor);
                messages.push(ClientMessage::Unwatch {
                    visitor: visitor.to_string(),
                });
            }
            keep
        });
        let wanted = (ctx.agents.watch * ledger.online_count() as f64
            / f64::from(ctx.group_agents.max(1)))
        .ceil() as usize;
        let wanted = wanted.min(MAX_PER_AGENT);
        let mut tries = wanted.saturating_sub(self.watched.len()) * 2;
        let deadline = Instant::now() + ctx.opener.reply_timeout;
        while self.watched.len() < wanted && tries > 0 {
            tries -= 1;
            let Some(visitor) = ledger.pick_online(rng) else {
                break;
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = self.watched.entry(visitor) {
                messages.push(ClientMessage::Lookup {
                    visitor: slot.key().to_string(),
                });
                self.deadlines.push_back((deadline, slot.key().clone()));
                slot.insert(Watch::awaiting(&ctx.recorder, deadline));
            }
        }
        messages
    }
}
