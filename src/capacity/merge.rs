//! `merge` of a split search: each level of the schedule is the shards' windows of it added
//! up exactly (`report::merge::add_up`: histograms added, counters summed, the harness
//! trusted only where every shard's was), judged by the code that judges a level in one
//! process (`level::judge_summary`), and the answer read off the judged staircase
//! (`schedule::answer`). A level any shard found harness-limited is harness-limited.

use std::time::Duration;

use super::level;
use super::schedule;
use super::search::{Judged, Phase};
use crate::report::capacity::{Answer, CapacitySummary, LevelRow};
use crate::report::merge::{add_up, MergeError, ShardSummary};
use crate::report::server_cost::{ServerCost, Source};
use crate::scenario::Plan;

/// How the shards' runs ended, for an answer their levels do not give.
#[derive(Debug, Default)]
pub struct Endings<'a> {
    /// Shards without a summary: their stripes of every level are missing.
    pub missing: &'a [u32],
    /// Why some shard was stopped early, or found the target down.
    pub interrupted: Option<&'a str>,
    pub target_down: Option<&'a str>,
}

/// The capacity section of the shards merged, judged against `plan`'s thresholds; `None`
/// when the shards are not of a split search (`report::merge` has checked that they are all
/// of one schedule, or all plain).
pub fn merged(
    shards: &[ShardSummary],
    plan: &Plan,
    endings: &Endings<'_>,
) -> Result<Option<CapacitySummary>, MergeError> {
    let Some(first) = shards.first() else {
        return Err(MergeError::Nothing);
    };
    let Some(template) = &first.summary.capacity else {
        return Ok(None);
    };
    let Some(schedule) = &template.schedule else {
        return Ok(None);
    };
    let run = shards
        .iter()
        .map(|shard| {
            shard
                .summary
                .capacity
                .as_ref()
                .map_or(0, |c| c.levels.len())
        })
        .min()
        .unwrap_or(0);
    let mut levels = Vec::with_capacity(run);
    let mut judged = Vec::with_capacity(run);
    for index in 0..run {
        let (judgement, row) = merged_level(shards, index, plan)?;
        judged.push((row.load, judgement));
        levels.push(row);
    }
    let answer = match schedule::answer(&judged, schedule.levels.len()) {
        _ if !endings.missing.is_empty() => Answer::NoVerdict {
            reason: format!(
                "no summary from shard {}: its stripe of every level is missing, so no level ran at its load",
                list(endings.missing)
            ),
            target_down: false,
        },
        Answer::NoVerdict {
            target_down: false,
            reason,
        } => match (endings.target_down, endings.interrupted) {
            (Some(down), _) => Answer::NoVerdict {
                reason: down.to_owned(),
                target_down: true,
            },
            (None, Some(stopped)) => Answer::NoVerdict {
                reason: format!("{stopped}; {reason}"),
                target_down: false,
            },
            (None, None) => Answer::NoVerdict {
                reason,
                target_down: false,
            },
        },
        answer => answer,
    };
    // The shards scrape one server: the figures of any shard's level are the server's.
    let source = if plan.target.metrics_url.is_some() {
        Source::Metrics {
            harness_included: false,
        }
    } else {
        Source::NoMetrics
    };
    Ok(Some(CapacitySummary {
        server_cost: ServerCost::of(&levels, &answer, &template.unit, template.plan_for, &source),
        answer,
        levels,
        ..template.clone()
    }))
}

/// Level `index` of every shard, added up and judged.
fn merged_level(
    shards: &[ShardSummary],
    index: usize,
    plan: &Plan,
) -> Result<(Judged, LevelRow), MergeError> {
    let mut windows = Vec::with_capacity(shards.len());
    let mut rows = Vec::with_capacity(shards.len());
    for shard in shards {
        let row = shard
            .summary
            .capacity
            .as_ref()
            .and_then(|capacity| capacity.levels.get(index))
            .expect("every shard has run the levels merged");
        let level = |what: String| MergeError::Level {
            file: shard.file.clone(),
            index: index + 1,
            what,
        };
        let Some(window) = &row.window else {
            return Err(level(
                "no `window` (run by a version without split searches?)".into(),
            ));
        };
        if let Some(first) = rows
            .first()
            .filter(|first: &&&LevelRow| first.load != row.load)
        {
            return Err(level(format!(
                "at load {}, but {} has {} there",
                row.load,
                shards[0].file.display(),
                first.load
            )));
        }
        let mut window = (**window).clone();
        window.shard.clone_from(&shard.summary.shard);
        windows.push(ShardSummary {
            file: shard.file.clone(),
            summary: window,
        });
        rows.push(row);
    }
    let together: Vec<&ShardSummary> = windows.iter().collect();
    let mut summary = add_up(&together)?;
    let first = rows[0];
    let (start, end) = (first.from_s, first.to_s);
    let server = rows.iter().find_map(|row| row.server);
    Ok(level::judge_summary(
        &mut summary,
        (
            Duration::from_secs_f64(start),
            Duration::from_secs_f64((end - start).max(0.0)),
        ),
        server,
        &plan.thresholds,
        (first.load, Phase::Step),
    ))
}

fn list(indices: &[u32]) -> String {
    indices
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
