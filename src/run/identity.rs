//! Who a run is, told before it starts: the scenario's name, what it loads, the stripe of the
//! plan this process runs, its agreed start and its id. Settled once, so that the start lines,
//! the Prometheus series, the interval files and the summary all name the run the same way.

use std::time::SystemTime;

use super::Options;
use crate::engine::start::StartAt;
use crate::scenario::{Destination, Plan};
use crate::schema::{RunId, ShardInfo};
use crate::shard::Shard;

/// A run's names, and where and when it runs.
pub struct Identity {
    /// The scenario's name.
    pub name: String,
    /// What the run loads, in a few words.
    pub target: String,
    pub shard: Shard,
    pub start_at: Option<StartAt>,
    /// A split (or synchronised) run's record of its shard, from the effective scenario text.
    pub shard_info: Option<ShardInfo>,
    pub run_id: Option<RunId>,
}

impl Identity {
    /// The run's identity: its id as given (`--run-id`), or else derived from the scenario,
    /// seed, shard count and start when the run is split or synchronised.
    pub fn of(plan: &Plan, options: &Options) -> Self {
        let Options {
            shard, start_at, ..
        } = *options;
        let (name, target) = (plan.name.clone(), describe(&plan.target.destination));
        let shard_info = options
            .scenario_text
            .as_deref()
            .map(|text| ShardInfo::new(shard, text, plan.seed));
        let run_id = options.run_id.clone().or_else(|| {
            let info = shard_info.as_ref()?;
            Some(RunId::derive(
                &info.scenario_hash,
                plan.seed,
                shard.count,
                start_at.map(|start| start.at),
            ))
        });
        Identity {
            name,
            target,
            shard,
            start_at,
            shard_info,
            run_id,
        }
    }

    /// The start lines on stderr: the run's id, what runs against what, and when it starts.
    pub fn announce(&self) {
        let Identity {
            name,
            target,
            shard,
            start_at,
            ..
        } = self;
        if let Some(id) = &self.run_id {
            eprintln!("run id {id}");
        }
        if shard.is_split() {
            eprintln!("running shard {shard} of {name} against {target}");
        } else {
            eprintln!("running {name} against {target}");
        }
        if let Some(start) = start_at {
            eprintln!(
                "starting at {} after the preflight",
                humantime::format_rfc3339_millis(start.at)
            );
        }
    }

    /// The wall-clock start of the schedule: the agreed instant of a synchronised start, or now.
    pub fn start(&self) -> SystemTime {
        self.start_at.map_or_else(SystemTime::now, |start| start.at)
    }
}

/// What the run loads, in a few words, for the start line.
fn describe(destination: &Destination) -> String {
    match destination {
        Destination::Embedded(settings) => {
            format!("an embedded cluster of {} instances", settings.instances)
        }
        Destination::Directory { url } | Destination::Instance { url } => url.clone(),
    }
}
