//! The run's tasks beside its visitors: each group's ledger swept for what became due, the
//! drill schedule, and the agents. Started before the first visitor, so that the ledgers
//! judge and the agents answer from the load's first second, and stopped once the visitors
//! are done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::reach::Reached;
use super::Crew;
use crate::agent::{self, AgentContext};
use crate::checks::Ledger;
use crate::drill::{self, Executor};
use crate::scenario::{Agents, DrillPlan};

/// How often the ledger judges what became due.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// The background tasks of a run, while it goes.
pub struct Background {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// Starts the ledgers' sweeps, the drill schedule and the agents; a `stop` (Ctrl-C,
    /// SIGTERM) while the agents are spawned cuts their spawning short.
    pub async fn start(crew: &Crew, reached: &Reached, stop: &CancellationToken) -> Background {
        let background = Background {
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        };
        for world in crew.worlds.iter() {
            background
                .tasks
                .spawn(sweep_ledger(world.ledger.clone(), background.stop.clone()));
        }
        if let Some(schedule) = &crew.plan.drills {
            background.start_drills(crew, schedule, reached);
        }
        if let Some(agents) = &crew.plan.agents {
            background.start_agents(crew, agents, stop).await;
        }
        background
    }

    /// Stops the background tasks and waits for them to end.
    pub async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// The drill task: its actions taken on the embedded cluster or against the external
    /// target, or left to the shard that owns the drills.
    fn start_drills(&self, crew: &Crew, schedule: &DrillPlan, reached: &Reached) {
        let shard = crew.shard;
        // The drill task holds its own handle on the embedded cluster; it is shut down once
        // the run is measured.
        let executor = match &reached.target.cluster {
            _ if !shard.owns_drills() => Executor::Elsewhere(shard),
            Some(cluster) => Executor::Embedded(cluster.clone()),
            None => {
                Executor::External(Box::new(match crew.plan.target.destination.http_origin() {
                    Some(origin) => schedule.actions.against(&origin),
                    None => schedule.actions.clone(),
                }))
            }
        };
        self.tasks.spawn(drill::run(
            crew.drills.clone(),
            Arc::new(schedule.clone()),
            executor,
            self.stop.clone(),
        ));
    }

    /// This shard's stripe of the agents, each in its group's world.
    async fn start_agents(&self, crew: &Crew, agents: &Agents, stop: &CancellationToken) {
        let plan = &crew.plan;
        let contexts: Vec<Arc<AgentContext>> = crew
            .worlds
            .iter()
            .map(|world| {
                Arc::new(AgentContext {
                    opener: world.opener.clone(),
                    ledger: world.ledger.clone(),
                    group_agents: world.agents,
                    recorder: crew.recorder.clone(),
                    agents: agents.clone(),
                    backoff: plan.reconnect,
                    seed: plan.seed,
                    // Agents run as long as visitors do: the whole `duration` (the closed model's
                    // last level holds until then, and open-model visitors may live until then
                    // too).
                    send_until: crew.started + plan.duration.saturating_sub(crew.grace),
                    drills: crew.drills.clone(),
                })
            })
            .collect();
        // Each shard runs its stripe of the agents, which signal its own visitors only; up to
        // `MAX_AGENTS` of them: a signal during the spawning is heeded at once.
        for index in (0..agents.count).filter(|index| crew.shard.owns(u64::from(*index))) {
            if stop.is_cancelled() {
                break;
            }
            let context = contexts[index as usize % contexts.len()].clone();
            self.tasks
                .spawn(agent::run(context, index, self.stop.clone()));
            if index % 1024 == 1023 {
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Judges due deliveries while the run goes, so losses show up live and memory stays bounded.
async fn sweep_ledger(ledger: Arc<Ledger>, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => ledger.sweep(Instant::now()),
        }
    }
}
