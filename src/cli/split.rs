//! The command line of a split run: which shard this process is (`--shard K/N`, or `--shards N`
//! with K from a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`), and when it starts
//! (`--start-at`). The partition itself is the library's (`engine::shard`).

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context};

use presence_bench::engine::shard::Shard;
use presence_bench::engine::start::StartAt;
use presence_bench::scenario::{Destination, Plan};

/// The environment variable a Kubernetes Indexed Job sets to the pod's index.
pub const JOB_INDEX: &str = "JOB_COMPLETION_INDEX";

#[derive(clap::Args, Default)]
pub struct SplitArgs {
    /// Run shard K of N (from 0) of the scenario: N shards together are the whole run
    /// (docs/distributed.md).
    #[arg(long, value_name = "K/N", conflicts_with = "shards")]
    pub shard: Option<Shard>,
    /// Run one of N shards, the one `JOB_COMPLETION_INDEX` names (a Kubernetes Indexed Job).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Start the schedule at this instant (RFC 3339, e.g. 2026-12-01T17:00:00Z), after the
    /// preflight; a shard that cannot start within --start-tolerance of it runs nothing (exit 3).
    #[arg(long, value_name = "RFC3339", value_parser = humantime::parse_rfc3339_weak)]
    pub start_at: Option<SystemTime>,
    /// How late a shard may start and still run (with --start-at; `engine::start::DEFAULT_TOLERANCE`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1s")]
    pub start_tolerance: Duration,
}

impl SplitArgs {
    /// This process's shard: `--shard`, or `--shards` with the index from the environment.
    pub fn shard(&self) -> anyhow::Result<Shard> {
        match (self.shard, self.shards) {
            (Some(shard), _) => Ok(shard),
            (None, Some(count)) => {
                let index = std::env::var(JOB_INDEX)
                    .with_context(|| format!("--shards {count} takes the shard's index from {JOB_INDEX}"))?;
                let index = index
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("{JOB_INDEX}: expected a shard index, found `{index}`"))?;
                Shard::new(index, count).with_context(|| format!("{JOB_INDEX}={index} with --shards {count}"))
            }
            (None, None) => Ok(Shard::WHOLE),
        }
    }

    pub fn start_at(&self) -> Option<StartAt> {
        self.start_at.map(|at| StartAt { at, tolerance: self.start_tolerance })
    }
}

/// A split run loads one shared target: each shard starting its own embedded cluster would
/// split nothing.
pub fn check_target(plan: &Plan, shard: Shard) -> anyhow::Result<()> {
    if shard.is_split() && matches!(plan.target.destination, Destination::Embedded(_)) {
        return Err(anyhow!(
            "--shard {shard}: the shards of a run load one server, but this scenario's target is an embedded \
             cluster (one per shard); give --target http://HOST:PORT (a `presence-bench serve` for instance)"
        ));
    }
    Ok(())
}
