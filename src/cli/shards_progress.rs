//! The one live progress line of `run --processes`: every child writes its `timeline.jsonl`
//! (one row per interval, flushed as written); once a second the parent reads what each file
//! gained, keeps each shard's newest row, and prints their sum. Percentiles of several shards
//! cannot be added, so the line shows the worst shard's `presence_ack` p99 and says so.

use std::path::PathBuf;
use std::time::Duration;

use presence_bench::report::table::micros;
use presence_bench::report::timeline::TimelineRow;

/// How often the line is printed: the children's collector interval.
const EVERY: Duration = Duration::from_secs(1);

/// One child's timeline file, read on from where the last look stopped.
struct Tail {
    path: PathBuf,
    read: usize,
    newest: Option<TimelineRow>,
}

impl Tail {
    /// Reads what the file gained; a line is only taken once it is complete. A plain read: the
    /// file is small and the parent's runtime does nothing else but wait for its children.
    fn catch_up(&mut self) {
        let Ok(bytes) = std::fs::read(&self.path) else { return };
        let fresh = bytes.get(self.read..).unwrap_or_default();
        let Some(end) = fresh.iter().rposition(|byte| *byte == b'\n') else { return };
        let complete = &fresh[..end];
        self.read += end + 1;
        let newest = complete.split(|byte| *byte == b'\n').rev().find_map(|line| serde_json::from_slice(line).ok());
        if newest.is_some() {
            self.newest = newest;
        }
    }
}

/// Prints the combined line once a second, to stderr, until the future is dropped (when the
/// children have ended).
pub async fn follow(timelines: Vec<PathBuf>, duration: Duration) {
    let mut tails: Vec<Tail> = timelines.into_iter().map(|path| Tail { path, read: 0, newest: None }).collect();
    let mut ticker = tokio::time::interval(EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        for tail in &mut tails {
            tail.catch_up();
        }
        let rows: Vec<&TimelineRow> = tails.iter().filter_map(|tail| tail.newest.as_ref()).collect();
        if !rows.is_empty() {
            eprintln!("{}", line(&rows, tails.len(), duration));
        }
    }
}

/// The shards' newest rows as one line: sums where sums mean something, the worst p99.
fn line(rows: &[&TimelineRow], shards: usize, duration: Duration) -> String {
    let elapsed = rows.iter().map(|row| row.t_s + row.length_s).fold(0.0, f64::max);
    let visitors: i64 = rows.iter().map(|row| row.visitors).sum();
    let messages: f64 = rows.iter().map(|row| row.messages_sent_per_s + row.messages_received_per_s).sum();
    let errors: u64 = rows.iter().flat_map(|row| row.errors.values()).sum();
    let worst_p99 = rows.iter().filter_map(|row| row.p99_us.get("presence_ack")).max();
    let p99 = worst_p99.map_or_else(|| "-".to_owned(), |us| micros(*us));
    format!(
        "{elapsed:.1}s/{}s  shards {}/{shards}  visitors {visitors}  msgs/s {messages:.0}  presence_ack p99 (worst shard) {p99}  errors {errors}",
        duration.as_secs(),
        rows.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t_s: f64, visitors: i64, p99: u64, errors: u64) -> TimelineRow {
        serde_json::from_value(serde_json::json!({
            "t_s": t_s, "length_s": 1.0, "visitors": visitors,
            "messages_sent_per_s": 100.0, "messages_received_per_s": 50.0,
            "sessions_opened": 0, "sessions_lost": 0, "reconnects": 0,
            "errors": if errors > 0 { serde_json::json!({ "unanswered": errors }) } else { serde_json::json!({}) },
            "p99_us": { "presence_ack": p99 },
        }))
        .unwrap()
    }

    #[test]
    fn shards_add_up_and_the_worst_p99_is_shown() {
        let (a, b) = (row(4.0, 100, 900, 0), row(3.0, 120, 2500, 2));
        let line = line(&[&a, &b], 3, Duration::from_secs(30));
        assert_eq!(
            line,
            "5.0s/30s  shards 2/3  visitors 220  msgs/s 300  presence_ack p99 (worst shard) 2.50ms  errors 2"
        );
    }

    #[test]
    fn a_tail_takes_complete_lines_only_and_reads_on() {
        let path = std::env::temp_dir().join(format!("presence-bench-tail-{}.jsonl", std::process::id()));
        let first = serde_json::to_string(&row(0.0, 10, 100, 0)).unwrap();
        let second = serde_json::to_string(&row(1.0, 20, 100, 0)).unwrap();
        std::fs::write(&path, format!("{first}\n{}", &second[..10])).unwrap();
        let mut tail = Tail { path: path.clone(), read: 0, newest: None };
        tail.catch_up();
        assert_eq!(tail.newest.as_ref().map(|row| row.visitors), Some(10), "the half-written line waits");
        std::fs::write(&path, format!("{first}\n{second}\n")).unwrap();
        tail.catch_up();
        assert_eq!(tail.newest.as_ref().map(|row| row.visitors), Some(20));
        std::fs::remove_file(&path).unwrap();
    }
}
