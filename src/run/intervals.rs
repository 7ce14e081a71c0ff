//! Who receives each collector interval during a run: timeline.jsonl and latency.hlog with
//! `--out`, the JSON progress stream with `--progress json`. Each interval goes to the
//! timeline writer first, which passes it on to the interval log.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::RunError;
use crate::measure::Interval;
use crate::report::{hlog, timeline};
use crate::schema::RunId;

/// Where `--progress json` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonProgress {
    Stderr,
    File(PathBuf),
}

/// The sender the collector feeds, and the writers' task (answers once every file is
/// complete); `None` when nobody wants the intervals.
pub type Writers = (
    Option<mpsc::Sender<Interval>>,
    Option<JoinHandle<std::io::Result<u64>>>,
);

/// Opens the outputs and starts the writers.
/// `started_at` is the wall-clock start of interval 0: the agreed instant of a synchronised
/// start, so interval k is the same second on every shard. `run` is the run's id, written into
/// every row and the interval log's header. `every` is how long an interval of the files and
/// the JSON progress spans (`--log-interval`).
pub fn start(
    out: Option<&Path>,
    progress: Option<&JsonProgress>,
    started_at: SystemTime,
    every: Duration,
    run: Option<&RunId>,
) -> Result<Writers, RunError> {
    let mut rows: Vec<timeline::RowOutput> = Vec::new();
    if let Some(out) = out {
        let path = out.join("timeline.jsonl");
        rows.push(row_file(&path)?);
    }
    match progress {
        Some(JsonProgress::Stderr) => rows.push(Box::new(std::io::stderr())),
        Some(JsonProgress::File(path)) => rows.push(row_file(path)?),
        None => {}
    }
    if rows.is_empty() {
        return Ok((None, None));
    }
    let (tx, rx) = mpsc::channel(64);
    let log = out.map(|out| {
        let (log_tx, log_rx) = mpsc::channel(64);
        let path = out.join("latency.hlog");
        let run = run.cloned();
        (
            log_tx,
            off_workers(async move {
                hlog::write_intervals(&path, started_at, run.as_ref(), log_rx).await
            }),
        )
    });
    let (next, log) = log.map_or((None, None), |(tx, task)| (Some(tx), Some(task)));
    let run = run.cloned();
    let writers = off_workers(async move {
        let rows = timeline::write(rows, rx, next, every, run.as_ref()).await;
        rows.map_err(|err| std::io::Error::new(err.kind(), format!("timeline: {err}")))?;
        match log {
            Some(log) => log
                .await
                .map_err(std::io::Error::other)?
                .map_err(|err| std::io::Error::new(err.kind(), format!("latency.hlog: {err}"))),
            None => Ok(0),
        }
    });
    Ok((Some(tx), Some(writers)))
}

/// Runs a writer on a blocking-pool thread of its own: it formats rows, deflates histograms
/// and writes files once a second, which on a worker would hold up every visitor of that
/// worker for as long (a shard of `run --processes` has one worker).
fn off_workers<W>(writer: W) -> JoinHandle<W::Output>
where
    W: std::future::Future + Send + 'static,
    W::Output: Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(writer))
}

fn row_file(path: &Path) -> Result<timeline::RowOutput, RunError> {
    timeline::row_file(path).map_err(|source| RunError::Write {
        what: format!("{}: cannot be written", path.display()),
        source,
    })
}
