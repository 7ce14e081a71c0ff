//! One simulated visitor: its tabs, the step interpreter, and reconnecting with backoff.
//! Visitors record through `measure`; they never touch histograms directly.

mod closing;
mod observe;
mod recover;
mod request;
mod runner;
mod steps;
mod tab;

#[cfg(test)]
mod footprint;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::checks::Ledger;
use crate::drill::Drills;
use crate::measure::attribution::as_visitor;
use crate::measure::{Counter, Recorder};
use crate::scenario::{Backoff, Plan};
use crate::session::Opener;
use crate::wire::Transport;
use runner::{Interrupt, Visitor};

pub use closing::Closing;
pub use request::END_SETTLE;

/// What every visitor of a run shares.
pub struct VisitorContext {
    pub plan: Arc<Plan>,
    pub opener: Arc<Opener>,
    pub recorder: Recorder,
    pub backoff: Backoff,
    /// Source addresses to spread sockets over; empty lets the OS choose.
    pub source_ips: Vec<IpAddr>,
    /// The delivery-guarantee ledger shared with the agents.
    pub ledger: Arc<Ledger>,
    /// Mark every presence (agents watch, and check propagation).
    pub presence_markers: bool,
    /// A tab whose server has sent it heartbeats and then is silent for this long is lost
    /// (`Tab::heartbeats`); `None` never gives up.
    pub heartbeat_timeout: Option<Duration>,
    /// Where lost sessions and their comebacks are accounted to drill events.
    pub drills: Drills,
    /// The run's end: stopped visitors settle, then close together.
    pub closing: Arc<Closing>,
}

impl VisitorContext {
    fn local_ip(&self, index: u64) -> Option<IpAddr> {
        (!self.source_ips.is_empty())
            .then(|| self.source_ips[(index % self.source_ips.len() as u64) as usize])
    }
}

/// Who visitor number `index` of a run is (its persona): its behavior, its first id, and the random
/// generator it goes on with (for think times and templates).
pub struct Persona {
    /// Index into `plan.behaviors`.
    pub behavior: usize,
    pub id: String,
    pub rng: SmallRng,
    /// The transport its tabs connect with.
    pub transport: Transport,
}

/// Derives visitor `index`'s persona from the plan's seed alone, so that runs repeat
/// exactly and tests can predict which visitor ids the server will see.
pub fn persona(plan: &Plan, index: u64) -> Persona {
    let mut rng = crate::scenario::visitor_rng(plan.seed, index);
    let behavior = plan.pick_behavior(&mut rng);
    let id = random_id(index, &mut rng);
    let transport = plan.transport_of(behavior, index);
    Persona {
        behavior,
        id,
        rng,
        transport,
    }
}

/// A fresh visitor id for visitor `index`: its first one, and each new one a `set_visitor_id`
/// step without a template asks for. The index keeps ids of different visitors apart; the
/// random part keeps a visitor's successive ids apart.
pub(crate) fn random_id(index: u64, rng: &mut SmallRng) -> String {
    format!("v{index}-{:08x}", rng.random::<u32>())
}

/// Runs visitor number `index` through one behavior, picked by weight with its own RNG
/// (derived from the scenario's seed and the index, so runs repeat exactly).
/// Every latency it records also counts for its behavior (`measure::attribution`) and its
/// transport (`measure::by_transport`). Not an `async fn`, for the same reason as
/// `as_visitor`: one copy of the visitor's state, not two.
pub fn run(
    ctx: Arc<VisitorContext>,
    index: u64,
    cancel: CancellationToken,
) -> impl Future<Output = ()> + Send {
    let Persona {
        behavior,
        id,
        rng,
        transport,
    } = persona(&ctx.plan, index);
    let visitor = async move {
        ctx.recorder.count(Counter::VisitorsStarted, 1);
        ctx.recorder.visitors_live_add(1);
        let mut visitor = Visitor::new(&ctx, &cancel, index, (id, transport), rng);
        let steps = &ctx.plan.behaviors[behavior].steps;
        let outcome = steps::run_steps(&mut visitor, steps, None).await;
        visitor.check_missing_blurs(Duration::ZERO).await;
        ctx.closing.settled().await;
        visitor.close_all().await;
        if outcome != Err(Interrupt::Cancelled) {
            ctx.recorder.count(Counter::VisitorsCompleted, 1);
        }
        ctx.recorder.visitors_live_add(-1);
    };
    as_visitor(behavior, transport.name(), visitor)
}
