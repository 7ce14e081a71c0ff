//! Merging the summaries of a split run's shards into the summary of the whole run, exactly:
//! latency histograms are added (never percentiles averaged), counters, checks and errors
//! summed, the peak of visitors taken from the sum of the aligned per-second timelines; each
//! behavior's latencies are merged the same way as the overall ones. The
//! result carries no verdict: it is judged once, by the same code as a single run
//! (`report::verdict`), on the merged totals.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hdrhistogram::Histogram;
use thiserror::Error;

use super::encoded::{self, DecodeError};
use super::transports;
use crate::measure::{new_histogram, Counter};
use crate::schema::{
    ClosingSummary, HarnessSummary, LatencySet, Pace, Second, ShardInfo, ShardRow, Status, Summary,
    VisitorSummary,
};

/// Shards that do not make one run, or a summary that cannot be merged.
#[derive(Debug, Error)]
pub enum MergeError {
    #[error("no shard summary to merge")]
    Nothing,
    #[error(
        "{file}: not a shard's summary (no `shard` section: was it run with --shard or \
         --processes?)"
    )]
    NotAShard { file: PathBuf },
    #[error(
        "{file}: field `{field}` is {found}, but {first} has {expected}: shards of different \
         runs are not merged"
    )]
    Mismatch {
        file: PathBuf,
        field: &'static str,
        expected: String,
        found: String,
        first: PathBuf,
    },
    /// Shards of two runs (boxed: the rest of the errors are small).
    #[error(transparent)]
    OtherRun(Box<TwoRuns>),
    #[error("{file}: shard {index} is also {other}")]
    Twice {
        file: PathBuf,
        index: u32,
        other: PathBuf,
    },
    #[error("{file}: capacity level {index}: {what}")]
    Level {
        file: PathBuf,
        index: usize,
        what: String,
    },
    #[error("{file}: field `{field}`: {source}")]
    Histogram {
        file: PathBuf,
        field: String,
        source: DecodeError,
    },
}

/// Shards of two runs: in a reused output directory, the one that started earlier is a
/// leftover of a previous run.
#[derive(Debug, Error)]
#[error(
    "{file} is of run {found} (started {found_start}), but {first} is of run {expected} (started \
     {expected_start}): shards of different runs are not merged; {earlier} started earlier (left \
     over from a \
     previous run in a reused directory?)"
)]
pub struct TwoRuns {
    pub file: PathBuf,
    pub found: String,
    pub found_start: String,
    pub first: PathBuf,
    pub expected: String,
    pub expected_start: String,
    pub earlier: PathBuf,
}

/// One shard's summary, and the file it came from (for messages).
pub struct ShardSummary {
    pub file: PathBuf,
    pub summary: Summary,
}

/// The whole run, put together.
pub struct Merged {
    /// The merged totals, not judged yet; `shards` holds one row per shard.
    pub summary: Summary,
    /// What the shards share: scenario (text and hash), seed, version, count.
    pub info: ShardInfo,
    /// Shards without a summary.
    pub missing: Vec<u32>,
    /// Why some shard's run was stopped before its end (Ctrl-C, SIGTERM), when one was.
    pub interrupted: Option<String>,
    /// Why some shard found the target down, when one did.
    pub target_down: Option<String>,
}

/// Merges the shards' summaries; refuses shards of different runs and shards given twice.
pub fn merge(shards: &[ShardSummary]) -> Result<Merged, MergeError> {
    let first = shards.first().ok_or(MergeError::Nothing)?;
    let info = shard_info(first)?.clone();
    let mut by_index: BTreeMap<u32, &ShardSummary> = BTreeMap::new();
    for shard in shards {
        let own = shard_info(shard)?;
        one_run(first, shard)?;
        let fields = [
            (
                "shard.scenario_hash",
                &info.scenario_hash,
                &own.scenario_hash,
            ),
            ("shard.seed", &info.seed.to_string(), &own.seed.to_string()),
            ("shard.version", &info.version, &own.version),
            (
                "shard.count",
                &info.count.to_string(),
                &own.count.to_string(),
            ),
            ("shard.start_at", &start_of(&info), &start_of(own)),
            (
                "capacity.schedule",
                &schedule_of(&first.summary),
                &schedule_of(&shard.summary),
            ),
        ];
        if let Some((field, expected, found)) = fields
            .into_iter()
            .find(|(_, expected, found)| expected != found)
        {
            return Err(MergeError::Mismatch {
                file: shard.file.clone(),
                field,
                expected: expected.clone(),
                found: found.clone(),
                first: first.file.clone(),
            });
        }
        if let Some(other) = by_index.insert(own.index, shard) {
            return Err(MergeError::Twice {
                file: shard.file.clone(),
                index: own.index,
                other: other.file.clone(),
            });
        }
    }
    let present: Vec<&ShardSummary> = by_index.values().copied().collect();
    let mut summary = add_up(&present)?;
    summary.shards = (0..info.count)
        .map(|index| row(index, by_index.get(&index).copied()))
        .collect();
    let reason_of = |status: Status| {
        let reasons: Vec<String> = present
            .iter()
            .filter_map(|shard| {
                let outcome = shard
                    .summary
                    .outcome
                    .as_ref()
                    .filter(|outcome| outcome.status == status)?;
                Some(format!(
                    "shard {}: {}",
                    shard.summary.shard.as_ref()?.index,
                    outcome.reason
                ))
            })
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    };
    Ok(Merged {
        missing: (0..info.count)
            .filter(|index| !by_index.contains_key(index))
            .collect(),
        interrupted: reason_of(Status::Interrupted),
        target_down: reason_of(Status::TargetDown),
        summary,
        info,
    })
}

/// Refuses `shard` when it is of another run than `first` (its run id differs), naming the
/// one that started earlier.
fn one_run(first: &ShardSummary, shard: &ShardSummary) -> Result<(), MergeError> {
    let id = |shard: &ShardSummary| {
        shard
            .summary
            .run_id
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), |id| id.to_string())
    };
    if id(first) == id(shard) {
        return Ok(());
    }
    let (first_start, start) = (&first.summary.started_at, &shard.summary.started_at);
    // RFC 3339 times of one format compare as text.
    let earlier = if start < first_start {
        &shard.file
    } else {
        &first.file
    };
    Err(MergeError::OtherRun(Box::new(TwoRuns {
        file: shard.file.clone(),
        found: id(shard),
        found_start: start.clone(),
        first: first.file.clone(),
        expected: id(first),
        expected_start: first_start.clone(),
        earlier: earlier.clone(),
    })))
}

/// A shard's agreed start as its summary records it, `(none)` without `--start-at`.
fn start_of(info: &ShardInfo) -> String {
    info.start_at.clone().unwrap_or_else(|| "(none)".to_owned())
}

/// What a shard ran: a plain run, or a capacity search's schedule (a split search's levels
/// are merged level by level, so every shard must have walked the same staircase).
fn schedule_of(summary: &Summary) -> String {
    match &summary.capacity {
        None => "none (a plain run)".to_owned(),
        Some(capacity) => match &capacity.schedule {
            // The staircase is a function of these alone (and `capacity::merge` checks each
            // level's load).
            Some(schedule) => format!(
                "a capacity schedule of {} at {}% steps",
                schedule.describe(&capacity.unit),
                capacity.resolution * 100.0
            ),
            None => "a capacity search without a schedule".to_owned(),
        },
    }
}

fn shard_info(shard: &ShardSummary) -> Result<&ShardInfo, MergeError> {
    shard
        .summary
        .shard
        .as_ref()
        .ok_or_else(|| MergeError::NotAShard {
            file: shard.file.clone(),
        })
}

/// Two maps of encoded histograms of one shard's summary: latencies and service times.
type Encoded<'a> = (
    &'a ShardSummary,
    &'a BTreeMap<String, String>,
    &'a BTreeMap<String, String>,
);

/// The shards' histograms of one map of their summaries (`field` names it in messages, such as
/// `histograms` or `behaviors.browser.service_histograms`), added by metric.
fn added<'a>(
    maps: impl Iterator<Item = (&'a ShardSummary, &'a BTreeMap<String, String>)>,
    field: &str,
) -> Result<BTreeMap<String, Histogram<u64>>, MergeError> {
    let mut histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for (shard, map) in maps {
        for (metric, text) in map {
            let histogram = encoded::decode(text).map_err(|source| MergeError::Histogram {
                file: shard.file.clone(),
                field: format!("{field}.{metric}"),
                source,
            })?;
            let total = histograms
                .entry(metric.clone())
                .or_insert_with(new_histogram);
            total
                .add(&histogram)
                .expect("auto-resizing histograms take any value");
        }
    }
    Ok(histograms)
}

/// One set of latencies of the shards, merged: `sets` holds each shard's histograms of it,
/// `prefix` says where they are in a summary (for messages: empty for the overall set,
/// `behaviors.NAME.` for a behavior's).
fn merged_set(sets: &[Encoded<'_>], prefix: &str, seconds: f64) -> Result<LatencySet, MergeError> {
    let latencies = added(
        sets.iter()
            .map(|(shard, latencies, _)| (*shard, *latencies)),
        &format!("{prefix}histograms"),
    )?;
    let service = added(
        sets.iter().map(|(shard, _, service)| (*shard, *service)),
        &format!("{prefix}service_histograms"),
    )?;
    Ok(LatencySet::new(named(&latencies), named(&service), seconds))
}

fn named(map: &BTreeMap<String, Histogram<u64>>) -> impl Iterator<Item = (&str, &Histogram<u64>)> {
    map.iter()
        .map(|(name, histogram)| (name.as_str(), histogram))
}

/// The sums of every shard's figures, without a verdict: a whole run's, or one level's
/// windows of a split capacity search.
pub fn add_up(shards: &[&ShardSummary]) -> Result<Summary, MergeError> {
    let owner = shards
        .first()
        .map(|shard| &shard.summary)
        .ok_or(MergeError::Nothing)?;
    let seconds = shards
        .iter()
        .map(|shard| shard.summary.duration_seconds)
        .fold(0.0, f64::max);
    let mut summary = owner.clone();
    summary.duration_seconds = seconds;
    // Shards of `run --processes` may each load their own server.
    let mut targets: Vec<&str> = Vec::new();
    for shard in shards {
        if !targets.contains(&shard.summary.target.as_str()) {
            targets.push(&shard.summary.target);
        }
    }
    summary.target = targets.join(", ");
    let overall: Vec<Encoded> = shards
        .iter()
        .map(|shard| {
            (
                *shard,
                &shard.summary.histograms,
                &shard.summary.service_histograms,
            )
        })
        .collect();
    let overall = merged_set(&overall, "", seconds)?;
    (summary.metrics, summary.service) = (overall.metrics, overall.service);
    (summary.histograms, summary.service_histograms) =
        (overall.histograms, overall.service_histograms);
    let names: std::collections::BTreeSet<&String> = shards
        .iter()
        .flat_map(|shard| shard.summary.behaviors.keys())
        .collect();
    summary.behaviors = names
        .into_iter()
        .map(|name| {
            let sets: Vec<Encoded> = shards
                .iter()
                .filter_map(|shard| {
                    let set = shard.summary.behaviors.get(name)?;
                    Some((*shard, &set.histograms, &set.service_histograms))
                })
                .collect();
            Ok((
                name.clone(),
                merged_set(&sets, &format!("behaviors.{name}."), seconds)?,
            ))
        })
        .collect::<Result<_, MergeError>>()?;
    summary.counters = sum(shards.iter().map(|shard| &shard.summary.counters));
    summary.checks = sum(shards.iter().map(|shard| &shard.summary.checks));
    summary.errors = sum(shards.iter().map(|shard| &shard.summary.errors));
    let splits = shards.iter().map(|shard| &shard.summary.transports);
    summary.transports =
        transports::merge(splits, seconds).map_err(|(index, metric, source)| {
            MergeError::Histogram {
                file: shards[index].file.clone(),
                field: format!("transports.{metric}"),
                source,
            }
        })?;
    summary.timeline = timeline(shards);
    let peak_of_sums = summary
        .timeline
        .iter()
        .map(|second| second.visitors_live)
        .max();
    summary.visitors = VisitorSummary {
        started: summary
            .counters
            .get(Counter::VisitorsStarted.name())
            .copied()
            .unwrap_or(0),
        completed: summary
            .counters
            .get(Counter::VisitorsCompleted.name())
            .copied()
            .unwrap_or(0),
        peak: peak_of_sums
            .unwrap_or_else(|| shards.iter().map(|shard| shard.summary.visitors.peak).sum()),
        // Shards start together: the earliest first and the latest last opening.
        sessions_opened_s: shards
            .iter()
            .filter_map(|shard| shard.summary.visitors.sessions_opened_s)
            .reduce(|[first, last], [shard_first, shard_last]| {
                [first.min(shard_first), last.max(shard_last)]
            }),
    };
    summary.aborted = shards.iter().find_map(|shard| {
        let reason = shard.summary.aborted.as_ref()?;
        Some(format!(
            "shard {}: {reason}",
            shard.summary.shard.as_ref().map_or(0, |info| info.index)
        ))
    });
    summary.harness = harness(shards);
    summary.thresholds.clear();
    summary.check_results.clear();
    summary.baseline.clear();
    summary.outcome = None;
    summary.shard = None;
    Ok(summary)
}

/// The shards' machines' mean pace, part by part: the merged latencies mix every shard's
/// about equally. `None` unless every shard measured one.
fn mean_pace(shards: &[&ShardSummary]) -> Option<Pace> {
    let paces: Vec<Pace> = shards
        .iter()
        .map(|shard| shard.summary.harness.as_ref()?.pace)
        .collect::<Option<_>>()?;
    let mean = |part: fn(&Pace) -> f64| paces.iter().map(part).sum::<f64>() / paces.len() as f64;
    (!paces.is_empty()).then(|| Pace {
        compute_us: mean(|p| p.compute_us),
        syscalls_us: mean(|p| p.syscalls_us),
        wakeup_us: mean(|p| p.wakeup_us),
        cold_wakeup_us: mean(|p| p.cold_wakeup_us),
    })
}

/// The harnesses together: CPU summed, the largest process and the worst lag; trusted only if
/// every shard's was, with each limited shard's reasons named.
fn harness(shards: &[&ShardSummary]) -> Option<HarnessSummary> {
    let mut total: Option<HarnessSummary> = None;
    for shard in shards {
        let Some(own) = &shard.summary.harness else {
            continue;
        };
        let index = shard.summary.shard.as_ref().map_or(0, |info| info.index);
        let reasons = own
            .reasons
            .iter()
            .map(|reason| format!("shard {index}: {reason}"));
        let Some(total) = &mut total else {
            total = Some(HarnessSummary {
                reasons: reasons.collect(),
                ..own.clone()
            });
            continue;
        };
        total.cpu_seconds += own.cpu_seconds;
        total.cpu_saturated_share = total.cpu_saturated_share.max(own.cpu_saturated_share);
        total.peak_rss_bytes = total.peak_rss_bytes.max(own.peak_rss_bytes);
        total.scheduling_lag.p99 = total.scheduling_lag.p99.max(own.scheduling_lag.p99);
        total.scheduling_lag.max = total.scheduling_lag.max.max(own.scheduling_lag.max);
        total.reasons.extend(reasons);
        total.intervals = total.intervals.max(own.intervals);
        total
            .limited_intervals
            .extend(own.limited_intervals.iter().cloned());
        total.closing = match (total.closing, own.closing) {
            (Some(a), Some(b)) => Some(ClosingSummary {
                seconds: a.seconds.max(b.seconds),
                lag_max_us: a.lag_max_us.max(b.lag_max_us),
            }),
            (a, b) => a.or(b),
        };
        if !own.trusted {
            total.trusted = false;
            total.verdict.clone_from(&own.verdict);
        }
    }
    if let Some(total) = &mut total {
        total.pace = mean_pace(shards);
    }
    total
}

fn sum<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for map in maps {
        for (key, n) in map {
            *total.entry(key.clone()).or_insert(0) += n;
        }
    }
    total
}

/// Second `k` of every shard is the same wall-clock second (`--start-at`): summed entry by entry.
fn timeline(shards: &[&ShardSummary]) -> Vec<Second> {
    let length = shards
        .iter()
        .map(|shard| shard.summary.timeline.len())
        .max()
        .unwrap_or(0);
    let mut total = vec![Second::default(); length];
    for shard in shards {
        for (sum, second) in total.iter_mut().zip(&shard.summary.timeline) {
            sum.visitors_live += second.visitors_live;
            sum.messages += second.messages;
            sum.errors += second.errors;
        }
    }
    total
}

fn row(index: u32, shard: Option<&ShardSummary>) -> ShardRow {
    let Some(summary) = shard.map(|shard| &shard.summary) else {
        return ShardRow {
            index,
            present: false,
            visitors: 0,
            errors: 0,
            harness: String::new(),
            status: "missing".into(),
            start_lag_ms: None,
        };
    };
    ShardRow {
        index,
        present: true,
        visitors: summary.visitors.started,
        errors: summary.errors.values().sum(),
        harness: summary
            .harness
            .as_ref()
            .map_or_else(String::new, |harness| harness.verdict.clone()),
        status: summary
            .outcome
            .as_ref()
            .map_or_else(String::new, |outcome| outcome.status.word().to_owned()),
        start_lag_ms: summary.shard.as_ref().and_then(|info| info.start_lag_ms),
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
