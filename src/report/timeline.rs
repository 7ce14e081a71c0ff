//! `timeline.jsonl` and `health.jsonl`: the run over time, one JSON object per line.
//!
//! The interval log holds latencies only; visitors, message rates and errors per interval
//! were seen live and then lost. `timeline.jsonl` keeps them, one row per collector interval,
//! written and flushed as the run goes (like latency.hlog), so a killed run keeps what it
//! wrote. A [`TimelineRow`] is also what `--progress json` prints, one line per interval.
//! `health.jsonl` is the harness's own health second by second, written as each second closes
//! too: the monitor hands the seconds on and keeps none of them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::measure::health::HealthSecond;
use crate::measure::{Counter, Interval, Metric};
use crate::schema::RunId;

/// One collector interval of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// The run's id (`report::run_id`), on every row so that no row of another run passes for
    /// one of this run; absent when the run has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// Start of the interval, seconds from the start of the run.
    pub t_s: f64,
    pub length_s: f64,
    /// Visitors alive at the end of the interval.
    pub visitors: i64,
    pub messages_sent_per_s: f64,
    pub messages_received_per_s: f64,
    pub sessions_opened: u64,
    pub sessions_lost: u64,
    pub reconnects: u64,
    /// Errors by kind in this interval; empty when there were none.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// p99 of each metric with samples in this interval, microseconds.
    #[serde(default)]
    pub p99_us: BTreeMap<String, u64>,
}

impl TimelineRow {
    pub fn from_interval(interval: &Interval, run_id: Option<&RunId>) -> TimelineRow {
        let seconds = interval.length.as_secs_f64().max(1e-9);
        let count = |counter: Counter| interval.counters[counter.index()];
        TimelineRow {
            run_id: run_id.cloned(),
            t_s: interval.start.as_secs_f64(),
            length_s: interval.length.as_secs_f64(),
            visitors: interval.visitors_live,
            messages_sent_per_s: count(Counter::MessagesSent) as f64 / seconds,
            messages_received_per_s: count(Counter::MessagesReceived) as f64 / seconds,
            sessions_opened: count(Counter::SessionsOpened),
            sessions_lost: count(Counter::SessionsLost),
            reconnects: count(Counter::Reconnects),
            errors: interval
                .errors
                .iter()
                .map(|(kind, n)| ((*kind).to_owned(), *n))
                .collect(),
            p99_us: Metric::ALL
                .iter()
                .filter(|metric| !interval.histograms[metric.index()].is_empty())
                .map(|metric| {
                    (
                        metric.name().to_owned(),
                        interval.histograms[metric.index()].value_at_quantile(0.99),
                    )
                })
                .collect(),
        }
    }
}

/// Where rows go: timeline.jsonl, and `--progress json`'s stream (stderr or a file).
pub type RowOutput = Box<dyn Write + Send>;

/// A file for rows, each line written out whole as soon as it is complete.
pub fn row_file(path: &Path) -> std::io::Result<RowOutput> {
    Ok(Box::new(LineWriter::new(File::create(path)?)))
}

/// Writes one row per `every` of intervals received (the collector's, folded together until
/// they span `every`; the last one may be shorter) to every output, each line out before the
/// next interval is taken, and passes each on to `next` (the interval log) when there is one;
/// answers the rows written. A day at 1 s is 86,400 rows per file; `every` trades resolution
/// for size. Each row carries `run`, the run's id.
pub async fn write(
    mut outputs: Vec<RowOutput>,
    mut intervals: mpsc::Receiver<Interval>,
    next: Option<mpsc::Sender<Interval>>,
    every: Duration,
    run: Option<&RunId>,
) -> std::io::Result<u64> {
    let mut written = 0;
    let mut pending: Option<Interval> = None;
    loop {
        let received = intervals.recv().await;
        let ended = received.is_none();
        pending = match (pending, received) {
            (Some(mut folded), Some(interval)) => {
                folded.absorb(interval);
                Some(folded)
            }
            (None, received) => received,
            (pending, None) => pending,
        };
        let Some(interval) =
            pending.take_if(|interval| ended || interval.length + EPSILON >= every)
        else {
            if ended {
                break;
            }
            continue;
        };
        let row = serde_json::to_string(&TimelineRow::from_interval(&interval, run))
            .map_err(std::io::Error::other)?;
        for output in &mut outputs {
            writeln!(output, "{row}")?;
        }
        written += 1;
        if let Some(next) = &next {
            // A closed interval log only means nobody writes it any more.
            let _ = next.send(interval).await;
        }
        if ended {
            break;
        }
    }
    for output in &mut outputs {
        output.flush()?;
    }
    Ok(written)
}

/// Collector intervals are about a second each, a few milliseconds more or less: a row is due
/// once its intervals span `every` give or take this.
const EPSILON: Duration = Duration::from_millis(50);

/// One second of the harness's own health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthRow {
    pub t_s: f64,
    pub length_s: f64,
    pub lag_p99_us: u64,
    pub lag_max_us: u64,
    /// Share of all cores busy; absent for a last, partial second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_busy: Option<f64>,
    /// Share of the whole machine's CPU running anything (`measure::health::MachineSecond`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_busy: Option<f64>,
    /// Share of the machine's CPU the host kept for itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal: Option<f64>,
}

impl HealthRow {
    pub fn of(second: &HealthSecond) -> HealthRow {
        HealthRow {
            t_s: second.start.as_secs_f64(),
            length_s: second.length.as_secs_f64(),
            lag_p99_us: second.lag_p99_us,
            lag_max_us: second.lag_max_us,
            cpu_busy: second.cpu_busy,
            machine_busy: second.machine.map(|machine| machine.busy),
            steal: second.machine.map(|machine| machine.steal),
        }
    }
}

/// Creates `path` and writes to it each second of the harness's health that the returned
/// sender is given (the monitor's rows), a line each as it comes, until the sender is
/// dropped; the task answers how many seconds it wrote.
pub fn write_health(
    path: &Path,
) -> std::io::Result<(
    mpsc::UnboundedSender<HealthSecond>,
    tokio::task::JoinHandle<std::io::Result<u64>>,
)> {
    let mut file = LineWriter::new(File::create(path)?);
    let (rows, mut seconds) = mpsc::unbounded_channel::<HealthSecond>();
    let writer = tokio::spawn(async move {
        let mut written = 0;
        while let Some(second) = seconds.recv().await {
            let line = serde_json::to_string(&HealthRow::of(&second))?;
            writeln!(file, "{line}")?;
            written += 1;
        }
        file.flush()?;
        Ok(written)
    });
    Ok((rows, writer))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn each_interval_becomes_a_row_and_goes_on_to_the_log() {
        let dir =
            std::env::temp_dir().join(format!("presence-bench-timeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("timeline.jsonl");
        let (tx, rx) = mpsc::channel(2);
        let (next, mut passed) = mpsc::channel(2);
        let mut interval = Interval::empty(Duration::from_secs(3), Duration::from_millis(500));
        interval.counters[Counter::MessagesSent.index()] = 40;
        interval.errors.insert("reply_timeout", 2);
        interval.visitors_live = 12;
        interval.histograms[Metric::PresenceAck.index()]
            .record(1500)
            .unwrap();
        tx.send(interval).await.unwrap();
        drop(tx);
        let run: RunId = "nightly-7".parse().unwrap();
        let every = Duration::from_secs(1);
        assert_eq!(
            write(
                vec![row_file(&path).unwrap()],
                rx,
                Some(next),
                every,
                Some(&run)
            )
            .await
            .unwrap(),
            1
        );
        assert_eq!(
            passed.recv().await.unwrap().visitors_live,
            12,
            "the interval log gets it too"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let row: TimelineRow = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(
            (row.t_s, row.visitors, row.messages_sent_per_s),
            (3.0, 12, 80.0)
        );
        assert_eq!(row.run_id, Some(run), "every row names the run");
        assert_eq!(row.errors.get("reply_timeout"), Some(&2));
        assert!(
            (row.p99_us["presence_ack"] as i64 - 1500).abs() <= 2,
            "{:?}",
            row.p99_us
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn each_health_second_is_a_line_on_disk_before_the_next_comes() {
        let dir =
            std::env::temp_dir().join(format!("presence-bench-health-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("health.jsonl");
        let (rows, writer) = write_health(&path).unwrap();
        let second = |at: u64, lag_p99_us: u64| HealthSecond {
            start: Duration::from_secs(at),
            length: Duration::from_secs(1),
            lag_p99_us,
            lag_max_us: lag_p99_us * 2,
            cpu_busy: Some(0.25),
            machine: Some(crate::measure::machine::MachineSecond {
                busy: 0.5,
                steal: 0.01,
            }),
        };
        let read = || -> Vec<HealthRow> {
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        };
        rows.send(second(0, 800)).unwrap();
        // A killed run keeps every second sent so far: await the line, not the writer's end.
        while read().is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(read(), [HealthRow::of(&second(0, 800))]);
        rows.send(second(1, 61_000)).unwrap();
        drop(rows);
        assert_eq!(writer.await.unwrap().unwrap(), 2, "ends with its sender");
        let written = read();
        assert_eq!(
            (written[1].t_s, written[1].lag_p99_us, written[1].steal),
            (1.0, 61_000, Some(0.01))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn intervals_are_folded_into_rows_of_the_chosen_length() {
        let dir = std::env::temp_dir().join(format!(
            "presence-bench-timeline-every-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("timeline.jsonl");
        let (tx, rx) = mpsc::channel(16);
        let (next, mut passed) = mpsc::channel(16);
        for second in 0..7 {
            let mut interval = Interval::empty(Duration::from_secs(second), Duration::from_secs(1));
            interval.counters[Counter::SessionsOpened.index()] = 1;
            interval.errors.insert("reply_timeout", 1);
            interval.visitors_live = second as i64;
            interval.histograms[Metric::PresenceAck.index()]
                .record(1000 * (second + 1))
                .unwrap();
            tx.send(interval).await.unwrap();
        }
        drop(tx);
        let rows = write(
            vec![row_file(&path).unwrap()],
            rx,
            Some(next),
            Duration::from_secs(3),
            None,
        )
        .await
        .unwrap();
        assert_eq!(rows, 3, "two rows of 3 s and the last second alone");
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<TimelineRow> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let spans: Vec<(f64, f64, u64, i64)> = rows
            .iter()
            .map(|row| (row.t_s, row.length_s, row.sessions_opened, row.visitors))
            .collect();
        assert_eq!(
            spans,
            [(0.0, 3.0, 3, 2), (3.0, 3.0, 3, 5), (6.0, 1.0, 1, 6)]
        );
        assert_eq!(rows[1].errors.get("reply_timeout"), Some(&3));
        let logged = passed.recv().await.unwrap();
        assert_eq!(
            logged.histograms[Metric::PresenceAck.index()].len(),
            3,
            "the log gets the folded interval"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
