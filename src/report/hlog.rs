//! `latency.hlog`: the HdrHistogram interval log (the format HistogramLogAnalyzer reads),
//! one interval per collector tick per metric, tagged with the metric's name.
//!
//! Written as the run goes, from the collector's interval channel, so a long run does not
//! keep its intervals in memory and an interrupted run still leaves its log behind.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::SystemTime;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use tokio::sync::mpsc;

use crate::measure::{Interval, Metric};

/// Writes every interval received until the channel closes; answers how many were written.
pub async fn write_intervals(
    path: &Path,
    started_at: SystemTime,
    mut intervals: mpsc::Receiver<Interval>,
) -> std::io::Result<u64> {
    let mut file = BufWriter::new(File::create(path)?);
    let mut serializer = V2DeflateSerializer::new();
    let mut written = 0;
    {
        let mut log = IntervalLogWriterBuilder::new()
            .add_comment("presence-bench latency log; values in microseconds; one tag per metric")
            .with_start_time(started_at)
            .with_base_time(started_at)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut file, &mut serializer)?;
        while let Some(interval) = intervals.recv().await {
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
    use crate::measure::new_histogram;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use std::time::Duration;

    #[tokio::test]
    async fn intervals_are_written_tagged_and_readable() {
        let dir = std::env::temp_dir().join(format!("presence-bench-hlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("latency.hlog");
        let (tx, rx) = mpsc::channel(4);
        let mut histograms: Vec<_> = Metric::ALL.iter().map(|_| new_histogram()).collect();
        histograms[Metric::PresenceAck.index()].record(1500).unwrap();
        tx.send(Interval { start: Duration::from_secs(1), length: Duration::from_secs(1), histograms }).await.unwrap();
        drop(tx);
        let written = write_intervals(&path, SystemTime::now(), rx).await.unwrap();
        assert_eq!(written, 1);
        let bytes = std::fs::read(&path).unwrap();
        let tags: Vec<String> = IntervalLogIterator::new(&bytes)
            .filter_map(|entry| match entry {
                Ok(LogEntry::Interval(h)) => h.tag().map(|t| t.as_str().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(tags, vec!["presence_ack".to_owned()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
