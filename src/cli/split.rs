//! The command line of a split run: which shard this process is (`--shard K/N`, or `--shards N`
//! with K from a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`), and when it starts
//! (`--start-at`). The partition itself is the library's (`shard`).

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context};

use presence_bench::engine::start::StartAt;
use presence_bench::scenario::{Destination, Plan};
use presence_bench::schema::RunId;
use presence_bench::shard::Shard;

/// A start further ahead than this is refused unless asked for (`--allow-distant-start`).
pub const DISTANT_START: Duration = Duration::from_secs(3600);

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
    /// How late a shard may start and still run (with --start-at;
    /// `engine::start::DEFAULT_TOLERANCE`).
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = humantime::parse_duration,
        default_value = "1s"
    )]
    pub start_tolerance: Duration,
    /// Wait for a --start-at more than an hour away (refused without it: most likely a stale
    /// or mistyped instant, which would leave the shards waiting for it).
    #[arg(long)]
    pub allow_distant_start: bool,
    /// The run's id, the same on every shard (lowercase letters, digits and `-`, up to 40),
    /// written into every output so that `merge` never mixes two runs; by default derived
    /// from the scenario, seed, shard count and start.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<RunId>,
}

impl SplitArgs {
    /// This process's shard: `--shard`, or `--shards` with the index from the environment.
    pub fn shard(&self) -> anyhow::Result<Shard> {
        match (self.shard, self.shards) {
            (Some(shard), _) => Ok(shard),
            (None, Some(count)) => {
                let index = std::env::var(JOB_INDEX).with_context(|| {
                    format!("--shards {count} takes the shard's index from {JOB_INDEX}")
                })?;
                let index = index
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("{JOB_INDEX}: expected a shard index, found `{index}`"))?;
                Shard::new(index, count)
                    .with_context(|| format!("{JOB_INDEX}={index} with --shards {count}"))
            }
            (None, None) => Ok(Shard::WHOLE),
        }
    }

    /// The synchronised start; one more than [`DISTANT_START`] ahead is refused unless
    /// `--allow-distant-start` says it is meant.
    pub fn start_at(&self) -> anyhow::Result<Option<StartAt>> {
        let Some(at) = self.start_at else {
            return Ok(None);
        };
        let ahead = at.duration_since(SystemTime::now()).unwrap_or_default();
        if ahead > DISTANT_START && !self.allow_distant_start {
            let ahead = humantime::format_duration(Duration::from_secs(ahead.as_secs()));
            return Err(anyhow!(
                "--start-at {} is {ahead} away, more than {}: a stale or mistyped instant? Give \
                 --allow-distant-start to wait for it",
                humantime::format_rfc3339_seconds(at),
                humantime::format_duration(DISTANT_START)
            ));
        }
        Ok(Some(StartAt {
            at,
            tolerance: self.start_tolerance,
        }))
    }
}

/// A split run loads one shared target: each shard starting its own embedded cluster would
/// split nothing.
pub fn check_target(plan: &Plan, shard: Shard) -> anyhow::Result<()> {
    if shard.is_split() && matches!(plan.target.destination, Destination::Embedded(_)) {
        return Err(anyhow!(
            "--shard {shard}: the shards of a run load one server, but this scenario's target is \
             an embedded cluster (one per shard); give --target http://HOST:PORT (a \
             `presence-bench serve` for instance)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_more_than_an_hour_away_is_refused_unless_asked_for() {
        let at = |ahead| Some(SystemTime::now() + ahead);
        let soon = SplitArgs {
            start_at: at(Duration::from_secs(3500)),
            ..SplitArgs::default()
        };
        assert!(soon.start_at().unwrap().is_some());
        let mut distant = SplitArgs {
            start_at: at(Duration::from_secs(4 * 3600)),
            ..SplitArgs::default()
        };
        let err = distant.start_at().unwrap_err().to_string();
        assert!(
            err.contains("is 3h 59m") && err.contains("--allow-distant-start"),
            "{err}"
        );
        distant.allow_distant_start = true;
        assert!(distant.start_at().unwrap().is_some());
    }
}
