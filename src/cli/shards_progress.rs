//! The live progress of `run --processes`: every child writes its `timeline.jsonl` (one row
//! per interval, flushed as written); once a second the parent reads what each file gained and
//! shows the shards together. By default one line: the sum of each shard's newest row
//! (percentiles of several shards cannot be added, so the line shows the worst shard's
//! `presence_ack` p99 and says so). With `--progress json` (or `--progress-file`), one JSON
//! object per second as a single run prints it: second `k` of every shard folded into one row
//! (`merge_files::add_timeline`, as the merged timeline.jsonl is), once every shard has
//! written it.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use super::progress::ProgressArgs;
use presence_bench::report::merge_files::add_timeline;
use presence_bench::report::table::micros;
use presence_bench::report::timeline::{self, RowOutput, TimelineRow};
use presence_bench::run::intervals::JsonProgress;
use presence_bench::run::processes::Progress;
use presence_bench::run::progress::Mode;

/// How often the progress is shown: the children's collector interval.
const EVERY: Duration = Duration::from_secs(1);

/// A shard this many rows behind the others is not waited for: its rows are left out of the
/// objects of the seconds it has not written yet (it has stopped or stalled).
const BEHIND: usize = 2;

/// How the shards' progress is shown.
pub enum Display {
    /// One summed line a second on stderr.
    Line,
    /// One merged [`TimelineRow`] a second, as JSON, on stderr or to a file.
    Json(RowOutput),
}

impl Display {
    /// What the command line asks for: JSON when `--progress json` or `--progress-file` (the
    /// file opened now, so a bad path is found before the run), else the line unless quiet.
    pub fn of(args: &ProgressArgs, quiet: bool) -> anyhow::Result<Option<Display>> {
        match args.json() {
            Some(JsonProgress::Stderr) => Ok(Some(Display::Json(Box::new(std::io::stderr())))),
            Some(JsonProgress::File(path)) => timeline::row_file(&path)
                .map(|file| Some(Display::Json(file)))
                .map_err(|err| {
                    anyhow::anyhow!(
                        "--progress-file {}: cannot be written: {err}",
                        path.display()
                    )
                }),
            None if args.mode(quiet) == Mode::Off => Ok(None),
            None => Ok(Some(Display::Line)),
        }
    }
}

/// One child's timeline file, read on from where the last look stopped.
struct Tail {
    path: PathBuf,
    read: usize,
    rows: Vec<TimelineRow>,
}

impl Tail {
    /// Reads what the file gained; a line is only taken once it is complete. A plain read: the
    /// file is small and the parent's runtime does nothing else but wait for its children.
    fn catch_up(&mut self) {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return;
        };
        let fresh = bytes.get(self.read..).unwrap_or_default();
        let Some(end) = fresh.iter().rposition(|byte| *byte == b'\n') else {
            return;
        };
        let complete = &fresh[..end];
        self.read += end + 1;
        self.rows.extend(
            complete
                .split(|byte| *byte == b'\n')
                .filter_map(|line| serde_json::from_slice(line).ok()),
        );
    }
}

/// The children's timelines, followed.
pub struct Follower {
    tails: Vec<Tail>,
    duration: Duration,
    display: Display,
    /// JSON objects written so far: seconds `0..written`.
    written: usize,
}

impl Progress for Follower {
    /// Shows the progress once a second until dropped (when the children have ended).
    fn follow(&mut self) -> Pin<Box<dyn Future<Output = Infallible> + '_>> {
        Box::pin(async move {
            let mut ticker = tokio::time::interval(EVERY);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticker.tick().await;
                self.show(false);
            }
        })
    }

    /// Once the children have ended: the seconds not shown yet, every shard's last rows in.
    fn finish(mut self: Box<Self>) {
        self.show(true);
    }
}

impl Follower {
    pub fn new(timelines: Vec<PathBuf>, duration: Duration, display: Display) -> Follower {
        let tails = timelines
            .into_iter()
            .map(|path| Tail {
                path,
                read: 0,
                rows: Vec::new(),
            })
            .collect();
        Follower {
            tails,
            duration,
            display,
            written: 0,
        }
    }

    fn show(&mut self, last: bool) {
        for tail in &mut self.tails {
            tail.catch_up();
        }
        match &mut self.display {
            Display::Line => {
                let rows: Vec<&TimelineRow> = self
                    .tails
                    .iter()
                    .filter_map(|tail| tail.rows.last())
                    .collect();
                if !rows.is_empty() && !last {
                    eprintln!("{}", line(&rows, self.tails.len(), self.duration));
                }
            }
            Display::Json(output) => {
                let lengths: Vec<usize> = self.tails.iter().map(|tail| tail.rows.len()).collect();
                let ready = if last {
                    lengths.iter().copied().max()
                } else {
                    ready(&lengths)
                };
                while self.written < ready.unwrap_or(0) {
                    let second = self
                        .tails
                        .iter()
                        .filter_map(|tail| tail.rows.get(self.written));
                    let merged = second.cloned().reduce(|mut sum, row| {
                        add_timeline(&mut sum, &row);
                        sum
                    });
                    let text = merged.map(|row| serde_json::to_string(&row)).transpose();
                    if let Ok(Some(text)) = text {
                        if let Err(err) = writeln!(output, "{text}") {
                            eprintln!("warning: JSON progress: {err}");
                        }
                    }
                    self.written += 1;
                }
            }
        }
    }
}

/// How many seconds can be shown: those every shard has written, except that a shard more
/// than [`BEHIND`] rows behind the furthest is not waited for.
fn ready(lengths: &[usize]) -> Option<usize> {
    let furthest = lengths.iter().copied().max()?;
    lengths
        .iter()
        .copied()
        .filter(|&length| length + BEHIND > furthest)
        .min()
}

/// The shards' newest rows as one line: sums where sums mean something, the worst p99.
fn line(rows: &[&TimelineRow], shards: usize, duration: Duration) -> String {
    let elapsed = rows
        .iter()
        .map(|row| row.t_s + row.length_s)
        .fold(0.0, f64::max);
    let visitors: i64 = rows.iter().map(|row| row.visitors).sum();
    let messages: f64 = rows
        .iter()
        .map(|row| row.messages_sent_per_s + row.messages_received_per_s)
        .sum();
    let errors: u64 = rows.iter().flat_map(|row| row.errors.values()).sum();
    let worst_p99 = rows
        .iter()
        .filter_map(|row| row.p99_us.get("presence_ack"))
        .max();
    let p99 = worst_p99.map_or_else(|| "-".to_owned(), |us| micros(*us));
    format!(
        "{elapsed:.1}s/{}s  shards {}/{shards}  visitors {visitors}  msgs/s {messages:.0}  \
         presence_ack p99 (worst shard) {p99}  errors {errors}",
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
            "errors": if errors > 0 {
                serde_json::json!({ "unanswered": errors })
            } else {
                serde_json::json!({})
            },
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
            "5.0s/30s  shards 2/3  visitors 220  msgs/s 300  presence_ack p99 (worst shard) \
             2.50ms  errors 2"
        );
    }

    #[test]
    fn a_tail_takes_complete_lines_only_and_reads_on() {
        let path =
            std::env::temp_dir().join(format!("presence-bench-tail-{}.jsonl", std::process::id()));
        let first = serde_json::to_string(&row(0.0, 10, 100, 0)).unwrap();
        let second = serde_json::to_string(&row(1.0, 20, 100, 0)).unwrap();
        std::fs::write(&path, format!("{first}\n{}", &second[..10])).unwrap();
        let mut tail = Tail {
            path: path.clone(),
            read: 0,
            rows: Vec::new(),
        };
        tail.catch_up();
        assert_eq!(
            tail.rows.iter().map(|row| row.visitors).collect::<Vec<_>>(),
            [10],
            "the half-written line waits"
        );
        std::fs::write(&path, format!("{first}\n{second}\n")).unwrap();
        tail.catch_up();
        assert_eq!(
            tail.rows.iter().map(|row| row.visitors).collect::<Vec<_>>(),
            [10, 20]
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_stalled_shard_is_not_waited_for() {
        assert_eq!(
            ready(&[3, 2, 3]),
            Some(2),
            "second 2 waits for the shard that has not written it"
        );
        assert_eq!(
            ready(&[5, 2, 5]),
            Some(5),
            "a shard 3 rows behind is left out"
        );
        assert_eq!(ready(&[]), None);
    }

    /// `--progress json` with two shards: one object per second, the shards' rows of that
    /// second folded into it; the second only one shard has written waits for the other, and
    /// comes out at the end.
    #[test]
    fn json_progress_is_one_merged_object_per_second() {
        let dir = std::env::temp_dir().join(format!(
            "presence-bench-json-progress-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, rows: &[TimelineRow]| {
            let lines: String = rows
                .iter()
                .map(|row| serde_json::to_string(row).unwrap() + "\n")
                .collect();
            std::fs::write(dir.join(name), lines).unwrap();
        };
        write("a.jsonl", &[row(0.0, 10, 900, 1), row(1.0, 12, 100, 0)]);
        write("b.jsonl", &[row(0.0, 5, 2500, 0)]);
        let output = dir.join("progress.jsonl");
        let display = Display::Json(timeline::row_file(&output).unwrap());
        let mut follower = Follower::new(
            vec![dir.join("a.jsonl"), dir.join("b.jsonl")],
            Duration::from_secs(10),
            display,
        );
        follower.show(false);
        let objects = || -> Vec<TimelineRow> {
            let text = std::fs::read_to_string(&output).unwrap();
            text.lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        };
        assert_eq!(objects().len(), 1, "second 1 waits for shard b");
        assert_eq!(
            (objects()[0].visitors, objects()[0].p99_us["presence_ack"]),
            (15, 2500)
        );
        assert_eq!(objects()[0].errors["unanswered"], 1);
        assert_eq!(objects()[0].messages_sent_per_s, 200.0);
        Box::new(follower).finish();
        assert_eq!(
            objects().iter().map(|row| row.visitors).collect::<Vec<_>>(),
            [15, 12],
            "the last second at the end"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
