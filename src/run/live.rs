//! The outputs a run feeds while its load goes: the live display, the interval files and JSON
//! progress, and the abort watch, each an observer of the collector's intervals. Started
//! before the load and finished right after it, before the verdict.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::gate::{AbortWatch, Gate};
use super::identity::Identity;
use super::progress::Progress;
use super::{intervals, Options, RunError};
use crate::measure::observer::{IntervalSink, LiveFigures, Observers};
use crate::measure::Live;
use crate::scenario::Plan;

/// The live outputs of a running run, to finish once its load has ended.
pub struct LiveOutputs {
    progress: Option<Progress>,
    /// The interval writers, when there is a file or a JSON progress to write.
    writers: Option<JoinHandle<std::io::Result<u64>>>,
    /// Why the abort watch stopped the run, once it has.
    abort: Option<Arc<OnceLock<String>>>,
}

/// What the live outputs answer once finished.
pub struct Finished {
    /// The threshold that aborted the run, if one did.
    pub aborted: Option<String>,
    /// What the interval writers answered, when there were any.
    pub intervals: Option<std::io::Result<u64>>,
}

impl LiveOutputs {
    /// Starts the display and the interval writers; answers them with the collector's
    /// observers that feed them.
    pub fn start(
        plan: &Plan,
        options: &Options,
        identity: &Identity,
        gate: &Gate,
        stop: &CancellationToken,
    ) -> Result<(LiveOutputs, Observers), RunError> {
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
        let live = LiveOutputs {
            progress,
            writers,
            abort,
        };
        Ok((live, observers))
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
        let intervals = match self.writers {
            Some(writers) => Some(
                writers
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|written| written),
            ),
            None => None,
        };
        if let (None, Some(Err(err))) = (&options.out, &intervals) {
            eprintln!("warning: JSON progress: {err}");
        }
        Finished { aborted, intervals }
    }
}
