//! Drills: scale events on a schedule (or, in watch mode, the ones the server makes on its
//! own), carried out through the embedded cluster or the scenario's actions, and the account
//! of what each did to visitors and agents (docs/drills.md).
//!
//! The schedule is one tracked task next to the load driver. Visitors report lost sessions
//! into [`Drills`] through a [`Loss`]; the ledger reports signals; [`Drills::report`] turns it
//! all into the per-event report once the run is over.

mod action;
mod report;
mod storm;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::scenario::DrillPlan;
pub use action::{ActionResult, Executor};
pub use report::{Causes, EventReport, Percentiles, WindowSignals};
pub use storm::{Cause, Drills, Loss};

/// How often the schedule looks for due events and windows to close.
const TICK: Duration = Duration::from_millis(50);

/// Starts each event of `plan` on time and closes windows, until `stop`. Actions run as their
/// own tasks so that a slow one delays neither the next event nor the windows; those still
/// running at the end are cut off (their events report no outcome).
pub async fn run(drills: Drills, plan: Arc<DrillPlan>, executor: Executor, stop: CancellationToken) {
    let start = drills.start();
    let mut actions = JoinSet::new();
    let mut next = 0;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        while let Some(event) = plan.events.get(next).filter(|event| start + event.at <= now) {
            drills.begin(next, event.kind.name(), event.count);
            let (drills, executor, index, event) = (drills.clone(), executor.clone(), next, *event);
            actions.spawn(async move {
                let outcome = executor.execute(event.kind, event.count).await;
                drills.settle_action(index, outcome);
            });
            next += 1;
        }
        while actions.try_join_next().is_some() {}
        drills.tick(now);
    }
    actions.shutdown().await;
    drills.finish(Instant::now());
}
