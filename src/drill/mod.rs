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

/// Now, on tokio's clock: the system's, but paused time in tests, so the schedule is tested
/// at exact instants.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::scenario::DrillPlan;
pub use action::Executor;
pub use storm::{Cause, Drills, Loss};

/// How often the schedule looks for due events and windows to close.
const TICK: Duration = Duration::from_millis(50);

/// Starts each event of `plan` on time and closes windows, until `stop`. Actions run as their
/// own tasks so that a slow one delays neither the next event nor the windows; those still
/// running at the end are cut off (their events report no outcome).
pub async fn run(
    drills: Drills,
    plan: Arc<DrillPlan>,
    executor: Executor,
    stop: CancellationToken,
) {
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
        let now = now();
        while let Some(event) = plan
            .events
            .get(next)
            .filter(|event| start + event.at <= now)
        {
            drills.begin(next, event.kind.name(), event.count, now);
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
    drills.finish(now());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Recorder;
    use crate::schema::ActionResult;
    use crate::shard::Shard;

    const SCENARIO: &str = "name: t\nduration: 10s\nload: { stages: [ { hold: 10s } ] }\n\
        behaviors: [ { name: b, steps: [connect] } ]\n\
        drills:\n  - { at: 1s, kill: 1 }\n  - { at: 2500ms, scale_out: 2 }\n";

    fn begun(drills: &Drills) -> Vec<(f64, String)> {
        drills
            .report()
            .into_iter()
            .map(|event| (event.at_s, event.kind))
            .collect()
    }

    /// On paused time: each event begins at its offset exactly, none before.
    #[tokio::test(start_paused = true)]
    async fn events_begin_at_their_offsets() {
        let plan = crate::scenario::from_str(SCENARIO, "t.yaml")
            .unwrap()
            .drills
            .expect("a drills section");
        let t0 = tokio::time::Instant::now();
        let drills = Drills::new(Some(&plan), Recorder::new(), now());
        let stop = CancellationToken::new();
        // Another shard carries the actions out: the schedule's timing is all that runs here.
        let elsewhere = Executor::Elsewhere(Shard { index: 1, count: 2 });
        let schedule = tokio::spawn(run(drills.clone(), Arc::new(plan), elsewhere, stop.clone()));
        let ms = Duration::from_millis;
        tokio::time::sleep_until(t0 + ms(999)).await;
        assert_eq!(begun(&drills), []);
        tokio::time::sleep_until(t0 + ms(1001)).await;
        assert_eq!(begun(&drills), [(1.0, "kill".to_owned())]);
        tokio::time::sleep_until(t0 + ms(2499)).await;
        assert_eq!(begun(&drills).len(), 1);
        tokio::time::sleep_until(t0 + ms(2501)).await;
        assert_eq!(
            begun(&drills),
            [(1.0, "kill".to_owned()), (2.5, "scale_out".to_owned())]
        );
        stop.cancel();
        schedule.await.unwrap();
    }

    /// Issue 23: the instance a scale-out answers with is known to the export from then on,
    /// so its lost sessions count from zero before its first session opens.
    #[test]
    fn an_action_naming_an_instance_makes_it_known() {
        let plan = crate::scenario::from_str(SCENARIO, "t.yaml")
            .unwrap()
            .drills
            .expect("a drills section");
        let recorder = Recorder::new();
        let drills = Drills::new(Some(&plan), recorder.clone(), Instant::now());
        let answer = ActionResult {
            ok: true,
            detail: "done".into(),
            duration_ms: 1.0,
            servers: vec!["s7".into()],
        };
        drills.settle_action(1, answer);
        let tallies = recorder.drain().tallies;
        assert_eq!(
            tallies.get(&(crate::measure::Tally::ServerSeen, "s7")),
            Some(&1),
            "{tallies:?}"
        );
    }
}
