//! `latency.hlog`: the HdrHistogram interval log (the format HistogramLogAnalyzer reads),
//! one interval per collector tick per metric, tagged with the metric's name.
//!
//! Written as the run goes, from the collector's interval channel, so a long run does not
//! keep its intervals in memory and an interrupted run still leaves its log behind. Each
//! line reaches the file as soon as it is complete, so even a run killed outright (SIGKILL,
//! the OOM killer) leaves every interval written before it.

use std::fs::File;
use std::io::LineWriter;
use std::path::Path;
use std::time::SystemTime;

use futures_util::stream::{self, Stream, StreamExt};
use futures_util::FutureExt;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use tokio::sync::mpsc;

use crate::measure::{Interval, Metric};
use crate::schema::RunId;

/// Room for one line: an interval's histogram, deflated and in base64, is a few hundred bytes
/// to a few KiB; a longer line is written in pieces, still before the next one.
const LINE_CAPACITY: usize = 16 * 1024;

/// Writes every interval received until the channel closes; answers how many were written.
/// The header names the run (`run`) when it has an id.
pub async fn write_intervals(
    path: &Path,
    started_at: SystemTime,
    run: Option<&RunId>,
    mut intervals: mpsc::Receiver<Interval>,
) -> std::io::Result<u64> {
    write_stream(
        path,
        started_at,
        run,
        stream::poll_fn(|cx| intervals.poll_recv(cx)),
    )
    .await
}

/// Writes `intervals`, all known already (a merged run's), at once.
pub fn write_all(
    path: &Path,
    started_at: SystemTime,
    run: Option<&RunId>,
    intervals: Vec<Interval>,
) -> std::io::Result<u64> {
    // Every interval is ready, so the writer never waits: it is done on its first poll.
    write_stream(path, started_at, run, stream::iter(intervals))
        .now_or_never()
        .unwrap_or_else(|| {
            Err(std::io::Error::other(
                "the interval log writer waited on intervals that were all ready",
            ))
        })
}

/// The header comment that names the run, as `run RUN_ID`.
const RUN_COMMENT: &str = "run ";

async fn write_stream(
    path: &Path,
    started_at: SystemTime,
    run: Option<&RunId>,
    mut intervals: impl Stream<Item = Interval> + Unpin,
) -> std::io::Result<u64> {
    // A line is a comment or one metric's interval: written whole, one write per line, a
    // dozen a second. A `BufWriter` would keep the first minutes of a run in memory.
    let mut file = LineWriter::with_capacity(LINE_CAPACITY, File::create(path)?);
    let mut serializer = V2DeflateSerializer::new();
    let mut written = 0;
    {
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment("presence-bench latency log; values in microseconds; one tag per metric");
        if let Some(run) = run {
            builder.add_comment(&format!("{RUN_COMMENT}{run}"));
        }
        let mut log = builder
            .with_start_time(started_at)
            .with_base_time(started_at)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut file, &mut serializer)?;
        while let Some(interval) = intervals.next().await {
            for metric in Metric::ALL {
                let histogram = &interval.histograms[metric.index()];
                if histogram.is_empty() {
                    continue;
                }
                let tag = Tag::new(metric.name()).expect("metric names are valid tags");
                log.write_histogram(histogram, interval.start, interval.length, Some(tag))
                    .map_err(|err| std::io::Error::other(format!("{err:?}")))?;
                written += 1;
            }
        }
    }
    std::io::Write::flush(&mut file)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use std::time::Duration;

    #[tokio::test]
    async fn intervals_are_written_tagged_and_readable() {
        let dir = std::env::temp_dir().join(format!("presence-bench-hlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("latency.hlog");
        let (tx, rx) = mpsc::channel(4);
        let mut interval = Interval::empty(Duration::from_secs(1), Duration::from_secs(1));
        interval.histograms[Metric::PresenceAck.index()]
            .record(1500)
            .unwrap();
        tx.send(interval).await.unwrap();
        drop(tx);
        let run: RunId = "nightly-7".parse().unwrap();
        let written = write_intervals(&path, SystemTime::now(), Some(&run), rx)
            .await
            .unwrap();
        assert_eq!(written, 1);
        assert_eq!(tags_in(&path), ["presence_ack"]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines().any(|line| line == "#run nightly-7"),
            "the header names the run: {text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tags_in(path: &Path) -> Vec<String> {
        let bytes = std::fs::read(path).unwrap();
        IntervalLogIterator::new(&bytes)
            .filter_map(|entry| match entry {
                Ok(LogEntry::Interval(h)) => h.tag().map(|t| t.as_str().to_owned()),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn each_interval_is_in_the_file_before_the_next_is_taken() {
        let dir =
            std::env::temp_dir().join(format!("presence-bench-hlog-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("latency.hlog");
        // Room for one interval: once the third is sent, the writer has taken the second,
        // so it is done with the first.
        let (tx, rx) = mpsc::channel(1);
        let log = path.clone();
        let writer =
            tokio::spawn(async move { write_intervals(&log, SystemTime::now(), None, rx).await });
        for (second, metric) in [
            (1, Metric::Connect),
            (2, Metric::PresenceAck),
            (3, Metric::Blur),
        ] {
            let mut interval = Interval::empty(Duration::from_secs(second), Duration::from_secs(1));
            interval.histograms[metric.index()].record(250).unwrap();
            tx.send(interval).await.unwrap();
        }
        // The writer is still running (the channel is open), as in a run killed right now.
        assert!(
            tags_in(&path).contains(&"connect".to_owned()),
            "the first interval is on disk"
        );
        drop(tx);
        assert_eq!(writer.await.unwrap().unwrap(), 3);
        assert_eq!(tags_in(&path), ["connect", "presence_ack", "blur"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
