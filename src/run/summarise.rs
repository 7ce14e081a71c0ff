//! What the engine answered, made the run's summary before it is judged: its totals and the
//! harness's health when the load ran, or an empty summary saying why nothing ran. Either way
//! the summary names its run and, in a split run, its shard.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::identity::Identity;
use super::RunError;
use crate::engine::start::StartAt;
use crate::engine::{Measured, StartError};
use crate::measure::Totals;
use crate::report::verdict::Ending;
use crate::schema::{HarnessSummary, ShardInfo, Summary};

/// A run's summary, yet to be judged, and what is left of its load to write and close.
pub struct Summarised {
    pub summary: Summary,
    pub ending: Ending,
    /// The embedded cluster's shutdown, to await once everything is written.
    pub cluster_shutdown: Option<JoinHandle<()>>,
}

/// The summary of what the engine answered (`aborted`: the threshold that stopped it, if one
/// did).
pub fn summarise(
    result: Result<Measured, StartError>,
    identity: Identity,
    aborted: Option<String>,
) -> Result<Summarised, RunError> {
    let Identity {
        name,
        target,
        shard,
        start_at,
        shard_info,
        run_id,
    } = identity;
    let mut cluster_shutdown = None;
    let (mut summary, ending) = match result {
        Ok(result) => {
            cluster_shutdown = result.cluster_shutdown;
            let mut summary = Summary::from_totals(&name, &result.target, &result.totals);
            summary.aborted = aborted;
            summary.drills = result.drills;
            summary.harness = Some(HarnessSummary::judge(
                &result.health,
                &summary.errors,
                &mut summary.drills,
            ));
            summary.shard = shard_record(shard_info, start_at, result.start_lag);
            summary.server_resources = result.server_resources;
            (
                summary,
                Ending {
                    interrupted: result.interrupted,
                    target_down: None,
                },
            )
        }
        // A missed start runs nothing and judges nothing: the merge counts the shard missing.
        Err(StartError::Late(source)) => return Err(RunError::Late { shard, source }),
        // Nothing ran: the verdict says why, in every output. A shard says which one it is
        // even so, or the merge could not read it and the split run would end with no verdict.
        Err(err) => {
            let ending = Ending {
                interrupted: false,
                target_down: Some(err.to_string()),
            };
            let mut summary = Summary::from_totals(&name, &target, &Totals::default());
            summary.shard = shard_record(shard_info, start_at, None);
            (summary, ending)
        }
    };
    summary.run_id = run_id;
    Ok(Summarised {
        summary,
        ending,
        cluster_shutdown,
    })
}

/// A shard's record in its summary: who it is, and when its schedule began against the agreed
/// start (`None` when it never began).
fn shard_record(
    info: Option<ShardInfo>,
    start_at: Option<StartAt>,
    lag: Option<Duration>,
) -> Option<ShardInfo> {
    info.map(|info| ShardInfo {
        start_at: start_at.map(|start| humantime::format_rfc3339_millis(start.at).to_string()),
        start_lag_ms: lag.map(|lag| lag.as_secs_f64() * 1e3),
        ..info
    })
}
