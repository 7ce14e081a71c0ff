//! `merge` of a split search: each level of the schedule is the shards' windows of it added
//! up exactly (`report::merge::add_up`: histograms added, counters summed, the harness
//! trusted only where every shard's was), judged by the code that judges a level in one
//! process (`level::judge_summary`), and the answer read off the judged staircase
//! (`schedule::answer`). A level any shard found harness-limited is harness-limited. The
//! merge itself is `run::merge`'s, as for any split run; [`judge`] is what it is handed to
//! recognize a split search and judge it so.

use std::path::Path;
use std::time::Duration;

use super::level;
use super::schedule;
use super::search::{Judged, Phase};
use crate::report::merge::{add_up, MergeError, Merged, ShardSummary};
use crate::report::verdict::Ending;
use crate::run::gate::GateOptions;
use crate::run::Judge;
use crate::scenario::Plan;
use crate::schema::{Answer, CapacitySummary, LevelRow, ServerCost, Summary};

/// `run::merge`'s judgement of the shards of a split search (a `run::merge::OwnJudge`): their
/// levels merged and judged level by level, the answer concluded as a search in one process
/// concludes it (`capacity::conclude`); `None` for the shards of a plain run.
pub fn judge(
    shards: &[ShardSummary],
    merge: &Merged,
    plan: &Plan,
    gate: &GateOptions,
) -> Result<Option<Judge>, MergeError> {
    let endings = Endings {
        missing: &merge.missing,
        interrupted: merge.interrupted.as_deref(),
        target_down: merge.target_down.as_deref(),
    };
    let Some(found) = merged(shards, plan, &endings)? else {
        return Ok(None);
    };
    let on_stderr = gate.summary_json.as_deref() == Some(Path::new("-"));
    let shown = super::shown_metrics(plan);
    Ok(Some(Box::new(move |summary: &mut Summary, _: &Ending| {
        let took = Duration::from_secs_f64(summary.duration_seconds);
        super::conclude(summary, found, &shown, took, on_stderr)
    })))
}

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
                "no summary from shard {}: its stripe of every level is missing, so no level ran \
                 at its load",
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
    let source = super::source_of(plan);
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
        let level = |what: String| MergeError::Level {
            file: shard.file.clone(),
            index: index + 1,
            what,
        };
        let row = shard
            .summary
            .capacity
            .as_ref()
            .and_then(|capacity| capacity.levels.get(index))
            .ok_or_else(|| level("not run by this shard".into()))?;
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
    // A split run loads one target (an embedded one is refused), which every shard scraped:
    // any shard's figures are the server's.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Totals;
    use crate::report::merge::merge;
    use crate::schema::{LevelStatus, Schedule, ShardInfo, Summary};
    use crate::shard::Shard;
    use level::tests::{acks, health, plan};

    const SCENARIO: &str = "name: t\nseed: 7\n";
    const CALM: u64 = 500;

    fn schedule(levels: &[f64]) -> Schedule {
        Schedule {
            levels: levels.to_vec(),
            warmup_s: 1.0,
            hold_s: 2.0,
        }
    }

    /// Shard `index` of 2's level at `load`: its window of ten acks of `ack_ms` each, the
    /// harness's timers `lag_us` late.
    fn level(load: f64, ack_ms: u64, lag_us: u64) -> LevelRow {
        let totals = acks(Duration::from_millis(ack_ms), 0);
        let window = (&totals, Duration::from_secs(1), Duration::from_secs(2));
        let thresholds = plan("10ms").thresholds;
        let (_, mut row, summary) = level::judge(
            window,
            (&health(lag_us), None),
            &thresholds,
            (load, Phase::Step),
        );
        row.window = Some(Box::new(summary));
        row
    }

    fn shard(index: u32, schedule: Option<Schedule>, levels: Vec<LevelRow>) -> ShardSummary {
        let mut summary = Summary::from_totals("t", "http://127.0.0.1:9", &Totals::default());
        summary.shard = Some(ShardInfo::new(Shard { index, count: 2 }, SCENARIO, 7));
        summary.capacity = schedule.map(|schedule| CapacitySummary {
            unit: "visitors".into(),
            from: schedule.levels[0],
            to: *schedule.levels.last().unwrap(),
            resolution: 0.1,
            require: None,
            plan_for: None,
            slos: Vec::new(),
            answer: Answer::NoVerdict {
                reason: "a shard".into(),
                target_down: false,
            },
            server_cost: ServerCost::NotMeasured {
                reason: "no metrics_url".into(),
            },
            levels,
            schedule: Some(schedule),
        });
        ShardSummary {
            file: format!("shard-{index}/summary.json").into(),
            summary,
        }
    }

    fn calm(load: f64) -> LevelRow {
        level(load, 5, CALM)
    }

    /// Two shards of the staircase 60, 66, 73: shard 0 calm throughout, shard 1's `levels`.
    fn two_shards(levels: Vec<LevelRow>) -> [ShardSummary; 2] {
        let staircase = schedule(&[60.0, 66.0, 73.0]);
        let first = vec![calm(60.0), calm(66.0), calm(73.0)];
        [
            shard(0, Some(staircase.clone()), first),
            shard(1, Some(staircase), levels),
        ]
    }

    fn merged_answer(shards: &[ShardSummary]) -> CapacitySummary {
        merge(shards).unwrap_or_else(|err| panic!("{err}"));
        merged(shards, &plan("10ms"), &Endings::default())
            .unwrap()
            .expect("a split search")
    }

    #[test]
    fn each_level_is_judged_on_the_shards_windows_added_up() {
        // Shard 1's acks at 73 take 20 ms: half the level's samples, its p99 past 10 ms.
        let shards = two_shards(vec![calm(60.0), calm(66.0), level(73.0, 20, CALM)]);
        let capacity = merged_answer(&shards);
        let Answer::Capacity {
            load: 66.0,
            first_broken: Some(broken),
            narrowed: true,
        } = &capacity.answer
        else {
            panic!("{:?}", capacity.answer)
        };
        assert_eq!(broken.load, 73.0);
        assert!(broken.reason.contains("presence_ack"), "{}", broken.reason);
        let counts: Vec<u64> = capacity
            .levels
            .iter()
            .map(|level| level.metrics["presence_ack"].count)
            .collect();
        assert_eq!(counts, [20, 20, 20], "both shards' samples, exactly");
        assert!(capacity.levels.iter().all(|level| level.window.is_none()));
        assert_eq!(capacity.verdict().exit_code, 0);
    }

    #[test]
    fn a_level_one_shard_found_harness_limited_gives_at_least() {
        let shards = two_shards(vec![calm(60.0), level(66.0, 5, 60_000), calm(73.0)]);
        let capacity = merged_answer(&shards);
        let Answer::AtLeast {
            load: Some(60.0),
            limited_at: 66.0,
            reason,
        } = &capacity.answer
        else {
            panic!("{:?}", capacity.answer)
        };
        assert!(reason.contains("shard 1"), "{reason}");
        assert_eq!(capacity.levels[1].status, LevelStatus::HarnessLimited);
        assert_eq!(capacity.verdict().exit_code, 3);
    }

    #[test]
    fn a_missing_shard_gives_no_verdict() {
        let staircase = schedule(&[60.0]);
        let shards = [shard(0, Some(staircase), vec![level(60.0, 5, CALM)])];
        let endings = Endings {
            missing: &[1],
            ..Endings::default()
        };
        let capacity = merged(&shards, &plan("10ms"), &endings).unwrap().unwrap();
        assert!(
            matches!(
                &capacity.answer,
                Answer::NoVerdict { reason, .. } if reason.contains("shard 1")
            ),
            "{:?}",
            capacity.answer
        );
    }

    #[test]
    fn capacity_and_plain_shards_or_two_schedules_are_refused() {
        let search = shard(0, Some(schedule(&[60.0])), vec![calm(60.0)]);
        let plain = shard(1, None, Vec::new());
        let err = merge(&[search, plain]).err().unwrap().to_string();
        assert!(
            err.contains(
                "field `capacity.schedule` is none (a plain run), but shard-0/summary.json has a \
                 capacity schedule of 1 levels 60..60 visitors, 1s + 2s each at 10% steps"
            ),
            "{err}"
        );
        let other = shard(
            1,
            Some(schedule(&[60.0, 66.0])),
            vec![calm(60.0), calm(66.0)],
        );
        let search = shard(0, Some(schedule(&[60.0])), vec![calm(60.0)]);
        let err = merge(&[search, other]).err().unwrap().to_string();
        assert!(err.contains("2 levels 60..66 visitors"), "{err}");
    }
}
