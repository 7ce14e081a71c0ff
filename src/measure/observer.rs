//! The collector's outputs: once per interval the collector hands a [`Snapshot`] to every
//! [`IntervalObserver`] in its list, in order. The live figures, the interval log and JSON
//! progress, the Prometheus export and the abort-threshold watcher are each one observer; a
//! new output (a shard's merge input, another stream) is one more, and the collector does
//! not change (hyperfine's list of exporters, per interval).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};

use super::collector::{into_totals, Interval, Live, Totals};
use super::metric::{Counter, Metric};
use super::recorder::Recorded;
use super::waiting::WaitingNow;

/// What the collector knows at the end of one interval.
pub struct Snapshot<'a> {
    /// Start of the interval, from the start of the run.
    pub start: Duration,
    pub length: Duration,
    /// From the start of the run to the end of this interval.
    pub elapsed: Duration,
    /// Visitors alive at the end of the interval.
    pub visitors_live: i64,
    /// Requests waiting for their answer now.
    pub waiting: WaitingNow,
    /// The last snapshot of the run (taken when the collector was stopped).
    pub last: bool,
    pub(crate) interval: &'a Recorded,
    /// Everything so far, this interval included.
    pub(crate) totals: &'a Recorded,
    pub(crate) started_at: SystemTime,
    pub(crate) visitors_peak: i64,
    /// The scenario's behavior names, which the totals' per-behavior sets are keyed by.
    pub(crate) behaviors: &'a [String],
}

impl Snapshot<'_> {
    /// This interval's samples, as the interval log writes them (a copy).
    pub fn interval(&self) -> Interval {
        Interval {
            start: self.start,
            length: self.length,
            histograms: self.interval.histograms.clone(),
            counters: self.interval.counters,
            errors: self.interval.errors.clone(),
            visitors_live: self.visitors_live,
        }
    }

    /// The run's totals so far (a copy: a few histograms, once per interval, off the hot path).
    pub fn totals(&self) -> Totals {
        into_totals(
            self.totals.clone(),
            self.behaviors,
            self.started_at,
            self.elapsed,
            self.visitors_peak,
            Vec::new(),
        )
    }

    /// The figures a progress display shows.
    pub fn live(&self) -> Live {
        let counters = &self.interval.counters;
        let messages =
            counters[Counter::MessagesSent.index()] + counters[Counter::MessagesReceived.index()];
        let acks = &self.interval.histograms[Metric::PresenceAck.index()];
        Live {
            elapsed: self.elapsed,
            visitors_live: self.visitors_live,
            messages_per_second: messages as f64 / self.length.as_secs_f64().max(1e-9),
            presence_ack_p99_us: if acks.is_empty() {
                0
            } else {
                acks.value_at_quantile(0.99)
            },
            errors: self.totals.errors.values().sum(),
            waiting: self.waiting,
        }
    }
}

/// What observing one snapshot may still have to wait for (a bounded channel with room).
pub type Observed<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One output of the collector, fed once per interval.
pub trait IntervalObserver: Send {
    /// Takes in `snapshot`. The collector awaits the answer before the next observer, so an
    /// observer that is slow holds the collector (never the hot path) back.
    fn observe<'a>(&'a mut self, snapshot: &'a Snapshot<'_>) -> Observed<'a>;
}

/// The observers of one run, in the order they are fed.
pub type Observers = Vec<Box<dyn IntervalObserver>>;

/// An observer that is done at once.
pub fn done<'a>() -> Observed<'a> {
    Box::pin(std::future::ready(()))
}

/// Publishes the live figures (the progress display watches them).
pub struct LiveFigures(pub watch::Sender<Live>);

impl IntervalObserver for LiveFigures {
    fn observe<'a>(&'a mut self, snapshot: &'a Snapshot<'_>) -> Observed<'a> {
        self.0.send_replace(snapshot.live());
        done()
    }
}

/// Hands each interval to a writer (the interval log, timeline.jsonl, JSON progress).
pub struct IntervalSink(pub mpsc::Sender<Interval>);

impl IntervalObserver for IntervalSink {
    fn observe<'a>(&'a mut self, snapshot: &'a Snapshot<'_>) -> Observed<'a> {
        Box::pin(async move {
            // A closed sink only means nobody writes the log any more; the totals are unaffected.
            let _ = self.0.send(snapshot.interval()).await;
        })
    }
}
