//! The files a merged run's HTML report is drawn from, put together from the shards' output
//! directories: `latency.hlog` (each interval's histograms of every shard added, tag by tag,
//! so the merged percentiles per interval are exact), `timeline.jsonl` (counts and rates
//! summed, each metric's p99 the worst shard's: a timeline row has no histogram to add) and
//! `health.jsonl` (the worst shard's lag and CPU). Shards of one run start together
//! (`--start-at`), so interval `k` of every shard is the same second; intervals are aligned
//! by their position.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::hlog;
use super::html::data::{read_intervals, read_rows, LoggedInterval, ReportError};
use super::timeline::{HealthRow, TimelineRow};
use crate::measure::{Interval, Metric};
use crate::schema::RunId;

/// Writes the merged latency.hlog, timeline.jsonl and health.jsonl of the shards in `dirs`
/// (those with a summary; the others are missing shards) into `out`. A shard without a
/// timeline or health file adds nothing to it; one without an interval log is an error, as it
/// is for the report of a single run.
pub fn write(
    dirs: &[PathBuf],
    out: &Path,
    started_at: SystemTime,
    run: Option<&RunId>,
) -> Result<(), ReportError> {
    let mut intervals = Vec::new();
    let mut timelines = Vec::new();
    let mut healths = Vec::new();
    for dir in dirs {
        intervals.push(read_intervals(&dir.join("latency.hlog"))?);
        timelines.push(read_rows::<TimelineRow>(&dir.join("timeline.jsonl"))?);
        healths.push(read_rows::<HealthRow>(&dir.join("health.jsonl"))?);
    }
    let written = |path: PathBuf| move |source| ReportError::Write { path, source };
    let path = out.join("latency.hlog");
    hlog::write_all(&path, started_at, run, merged_intervals(intervals)).map_err(written(path))?;
    let path = out.join("timeline.jsonl");
    write_rows(&path, &aligned(timelines, add_timeline)).map_err(written(path))?;
    let path = out.join("health.jsonl");
    write_rows(&path, &aligned(healths, worst_health)).map_err(written(path))
}

/// Second `k` of every shard added together: one [`Interval`] per second, holding every
/// shard's histograms of that second. Tags that name no metric (another version's) are left out.
fn merged_intervals(shards: Vec<Vec<LoggedInterval>>) -> Vec<Interval> {
    let mut seconds: BTreeMap<u64, Interval> = BTreeMap::new();
    for logged in shards.into_iter().flatten() {
        let Some(metric) = Metric::ALL
            .into_iter()
            .find(|metric| metric.name() == logged.tag)
        else {
            continue;
        };
        // Each shard's collector ticks on its own, a few milliseconds off the others'.
        let second = logged.start.as_secs_f64().round() as u64;
        let interval = seconds
            .entry(second)
            .or_insert_with(|| Interval::empty(logged.start, logged.length));
        interval.length = interval.length.max(logged.length);
        interval.histograms[metric.index()]
            .add(&logged.histogram)
            .expect("auto-resizing histograms take any value");
    }
    seconds.into_values().collect()
}

/// Row `k` of every shard folded into one with `fold`, for as many rows as the longest shard has.
fn aligned<T: Clone>(shards: Vec<Vec<T>>, fold: fn(&mut T, &T)) -> Vec<T> {
    let mut total: Vec<T> = Vec::new();
    for rows in shards {
        for (k, row) in rows.into_iter().enumerate() {
            match total.get_mut(k) {
                Some(sum) => fold(sum, &row),
                None => total.push(row),
            }
        }
    }
    total
}

/// Folds one shard's row of a second into the sum of that second: counts and rates added,
/// each metric's p99 the worst shard's (`run --processes --progress json` folds the same way).
pub fn add_timeline(sum: &mut TimelineRow, row: &TimelineRow) {
    sum.length_s = sum.length_s.max(row.length_s);
    sum.visitors += row.visitors;
    sum.messages_sent_per_s += row.messages_sent_per_s;
    sum.messages_received_per_s += row.messages_received_per_s;
    sum.sessions_opened += row.sessions_opened;
    sum.sessions_lost += row.sessions_lost;
    sum.reconnects += row.reconnects;
    for (kind, n) in &row.errors {
        *sum.errors.entry(kind.clone()).or_insert(0) += n;
    }
    for (metric, p99) in &row.p99_us {
        let worst = sum.p99_us.entry(metric.clone()).or_insert(0);
        *worst = (*worst).max(*p99);
    }
}

fn worst_health(worst: &mut HealthRow, row: &HealthRow) {
    worst.length_s = worst.length_s.max(row.length_s);
    worst.lag_p99_us = worst.lag_p99_us.max(row.lag_p99_us);
    worst.lag_max_us = worst.lag_max_us.max(row.lag_max_us);
    worst.cpu_busy = larger(worst.cpu_busy, row.cpu_busy);
    // Shards on one machine see the same machine; on several, the worst one.
    worst.machine_busy = larger(worst.machine_busy, row.machine_busy);
    worst.steal = larger(worst.steal, row.steal);
}

/// The larger of two shares where either may be missing.
fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn write_rows<T: serde::Serialize>(path: &Path, rows: &[T]) -> std::io::Result<()> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&serde_json::to_string(row).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::new_histogram;

    fn logged(tag: &str, start_ms: u64, values: &[u64]) -> LoggedInterval {
        let mut histogram = new_histogram();
        values.iter().for_each(|v| histogram.record(*v).unwrap());
        LoggedInterval {
            tag: tag.into(),
            start: Duration::from_millis(start_ms),
            length: Duration::from_secs(1),
            histogram,
        }
    }

    #[test]
    fn the_same_second_of_every_shard_is_added_exactly() {
        let shards = vec![
            vec![
                logged("connect", 0, &[100, 200]),
                logged("connect", 1_000, &[300]),
            ],
            vec![
                logged("connect", 4, &[9_000]),
                logged("presence_ack", 1_003, &[50]),
                logged("nope", 0, &[1]),
            ],
        ];
        let merged = merged_intervals(shards);
        assert_eq!(merged.len(), 2);
        let first = &merged[0].histograms[Metric::Connect.index()];
        assert_eq!(
            (first.len(), first.max()),
            (3, 9_007.max(first.max()).min(first.max()))
        );
        assert!(first.equivalent(first.max(), 9_000));
        assert_eq!(merged[1].histograms[Metric::Connect.index()].len(), 1);
        assert_eq!(merged[1].histograms[Metric::PresenceAck.index()].len(), 1);
    }

    #[test]
    fn timelines_add_up_and_health_keeps_the_worst() {
        let row = |visitors, sent, p99| TimelineRow {
            run_id: None,
            t_s: 0.0,
            length_s: 1.0,
            visitors,
            messages_sent_per_s: sent,
            messages_received_per_s: 0.0,
            sessions_opened: 1,
            sessions_lost: 0,
            reconnects: 0,
            errors: BTreeMap::from([("connect".to_owned(), 1)]),
            p99_us: BTreeMap::from([("connect".to_owned(), p99)]),
        };
        let merged = aligned(
            vec![
                vec![row(3, 10.0, 500), row(1, 1.0, 5)],
                vec![row(4, 5.0, 900)],
            ],
            add_timeline,
        );
        assert_eq!(merged.len(), 2, "as long as the longest shard");
        assert_eq!(
            (
                merged[0].visitors,
                merged[0].messages_sent_per_s,
                merged[0].sessions_opened
            ),
            (7, 15.0, 2)
        );
        assert_eq!(
            (merged[0].errors["connect"], merged[0].p99_us["connect"]),
            (2, 900)
        );
        assert_eq!(merged[1].visitors, 1);
        let health = |lag, cpu, steal| HealthRow {
            t_s: 0.0,
            length_s: 1.0,
            lag_p99_us: lag,
            lag_max_us: lag,
            cpu_busy: cpu,
            machine_busy: cpu,
            steal,
        };
        let worst = aligned(
            vec![
                vec![health(10, Some(0.2), Some(0.3))],
                vec![health(70, None, Some(0.1))],
            ],
            worst_health,
        );
        assert_eq!(
            (worst[0].lag_p99_us, worst[0].cpu_busy, worst[0].steal),
            (70, Some(0.2), Some(0.3))
        );
    }
}
