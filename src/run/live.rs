//! The outputs a run feeds while its load goes: the live display, the interval files and JSON
//! progress, and the abort watch, each an observer of the collector's intervals, and
//! health.jsonl, fed by the harness's health monitor. Started before the load and finished
//! right after it, before the verdict.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::gate::{AbortWatch, Gate};
use super::identity::Identity;
use super::progress::Progress;
use super::{intervals, Options, RunError};
use crate::measure::health::HealthSecond;
use crate::measure::observer::{IntervalSink, LiveFigures, Observers};
use crate::measure::Live;
use crate::report;
use crate::scenario::Plan;

/// The live outputs of a running run, to finish once its load has ended.
pub struct LiveOutputs {
    progress: Option<Progress>,
    /// The interval writers, when there is a file or a JSON progress to write.
    writers: Option<JoinHandle<std::io::Result<u64>>>,
    /// The writer of health.jsonl, with `--out`.
    health: Option<JoinHandle<std::io::Result<u64>>>,
    /// Why the abort watch stopped the run, once it has.
    abort: Option<Arc<OnceLock<String>>>,
}

/// What the live outputs answer once finished.
pub struct Finished {
    /// The threshold that aborted the run, if one did.
    pub aborted: Option<String>,
    /// What the interval writers answered, when there were any.
    pub intervals: Option<std::io::Result<u64>>,
    /// What the writer of health.jsonl answered, with `--out`.
    pub health: Option<std::io::Result<u64>>,
}

/// What feeds the live outputs: the collector's observers, and where the health monitor
/// hands each second on (health.jsonl), with `--out`.
pub struct Feeds {
    pub observers: Observers,
    pub health_rows: Option<UnboundedSender<HealthSecond>>,
}

impl LiveOutputs {
    /// Starts the display and the interval and health writers; answers them with what feeds
    /// them.
    pub fn start(
        plan: &Plan,
        options: &Options,
        identity: &Identity,
        gate: &Gate,
        stop: &CancellationToken,
    ) -> Result<(LiveOutputs, Feeds), RunError> {
        let (live_tx, live_rx) = watch::channel(Live::default());
        let progress = Progress::start(options.progress, live_rx, plan.duration, plan.load.clone());
        // A synchronised start begins the intervals at the agreed instant, on every shard.
        let (intervals, writers) = intervals::start(
            options.out.as_deref(),
            options.json_progress.as_ref(),
            identity.start(),
            options.log_interval,
            identity.run_id.as_ref(),
        )?;
        // The outputs of each interval, in order: the display, the files, then the abort watch.
        let mut observers: Observers = vec![Box::new(LiveFigures(live_tx))];
        if let Some(sink) = intervals {
            observers.push(Box::new(IntervalSink(sink)));
        }
        let abort = AbortWatch::new(&gate.thresholds, stop.clone()).map(|(watch, reason)| {
            observers.push(Box::new(watch));
            reason
        });
        let (health_rows, health) = match options.out.as_deref() {
            Some(out) => {
                let path = out.join("health.jsonl");
                let (rows, writer) =
                    report::timeline::write_health(&path).map_err(RunError::writing(&path))?;
                (Some(rows), Some(writer))
            }
            None => (None, None),
        };
        let live = LiveOutputs {
            progress,
            writers,
            health,
            abort,
        };
        let feeds = Feeds {
            observers,
            health_rows,
        };
        Ok((live, feeds))
    }

    /// Ends the display and waits for the interval writers.
    pub async fn finish(self, options: &Options) -> Finished {
        let aborted = self.abort.and_then(|reason| reason.get().cloned());
        if let Some(progress) = self.progress {
            progress.finish();
        }
        // The interval writers end with the load: their last rows are out before the verdict
        // is printed. What they answer is the run's with `--out` (`reports::write`); without it
        // they wrote only the JSON progress, whose failure is a warning.
        let intervals = finished(self.writers).await;
        if let (None, Some(Err(err))) = (&options.out, &intervals) {
            eprintln!("warning: JSON progress: {err}");
        }
        // The monitor stopped with the load: its rows are all sent.
        let health = finished(self.health).await;
        Finished {
            aborted,
            intervals,
            health,
        }
    }
}

/// What a writer's task answered, a panic as an error of its own.
async fn finished(
    writer: Option<JoinHandle<std::io::Result<u64>>>,
) -> Option<std::io::Result<u64>> {
    Some(
        writer?
            .await
            .map_err(std::io::Error::other)
            .and_then(|written| written),
    )
}
