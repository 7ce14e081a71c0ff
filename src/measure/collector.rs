//! The collector: once per interval it takes every lane's samples, merges them into the
//! run's totals, and hands a snapshot to its list of observers (`measure::observer`: live
//! figures, the interval log, Prometheus, the abort watcher). It is the only reader of the
//! lanes, and it runs off the hot path.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use super::latencies::Latencies;
use super::metric::{Check, Counter, Metric, Tally};
use super::observer::{Observers, Snapshot};
use super::recorder::{Recorded, Recorder};
use super::waiting::WaitingNow;
use crate::schema::Second;

/// One interval's measurements: latencies per metric (index = `Metric::index`) for the
/// interval log, and the counts the run's timeline (`report::timeline`) is drawn from.
pub struct Interval {
    /// Start of the interval, from the start of the run.
    pub start: Duration,
    pub length: Duration,
    pub histograms: Vec<Histogram<u64>>,
    /// Counter increments in this interval (index = `Counter::index`).
    pub counters: [u64; Counter::COUNT],
    /// Errors by kind in this interval.
    pub errors: BTreeMap<&'static str, u64>,
    /// Visitors alive at the end of the interval.
    pub visitors_live: i64,
}

impl Interval {
    /// An interval with nothing measured: the start of tests and of hand-built intervals.
    pub fn empty(start: Duration, length: Duration) -> Interval {
        let nothing = Recorder::nothing_recorded();
        Interval {
            start,
            length,
            histograms: nothing.histograms,
            counters: nothing.counters,
            errors: nothing.errors,
            visitors_live: 0,
        }
    }

    /// Folds the interval that follows this one into it: one coarser interval, for interval
    /// files written less often than the collector runs (`--log-interval`).
    pub fn absorb(&mut self, later: Interval) {
        self.length = (later.start + later.length).saturating_sub(self.start);
        for (histogram, more) in self.histograms.iter_mut().zip(&later.histograms) {
            // Both come from `new_histogram`, which resizes: adding cannot fail.
            let _ = histogram.add(more);
        }
        for (count, more) in self.counters.iter_mut().zip(later.counters) {
            *count += more;
        }
        for (kind, more) in later.errors {
            *self.errors.entry(kind).or_default() += more;
        }
        self.visitors_live = later.visitors_live;
    }
}

/// Everything measured over a run.
pub struct Totals {
    /// Wall-clock start of the run.
    pub started_at: SystemTime,
    /// How long recording lasted.
    pub elapsed: Duration,
    histograms: Vec<Histogram<u64>>,
    /// Service times of the requests (index = `Metric::service_index`).
    service: Vec<Histogram<u64>>,
    /// The latencies of each behavior, in the plan's order, by name.
    behaviors: Vec<(String, Latencies)>,
    counters: [u64; Counter::COUNT],
    checks: [u64; Check::COUNT],
    /// Errors by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// Check violations and drill events by label.
    pub tallies: BTreeMap<(Tally, &'static str), u64>,
    /// The `by_transport::SPLIT` latencies, by transport.
    pub by_transport: BTreeMap<(&'static str, Metric), Histogram<u64>>,
    /// The most visitors alive at once (sampled once per interval).
    pub visitors_peak: i64,
    /// When the first and the last session opened, from the start (`Recorder::openings`).
    pub openings: Option<(Duration, Duration)>,
    /// One entry per interval, in order: what shards of a split run add up second by second
    /// (the merged peak is the peak of the sums, not the sum of the peaks).
    pub timeline: Vec<Second>,
}

impl Totals {
    pub fn histogram(&self, metric: Metric) -> &Histogram<u64> {
        &self.histograms[metric.index()]
    }

    /// The service time (from the actual send) of a request metric; `None` for the others.
    pub fn service(&self, metric: Metric) -> Option<&Histogram<u64>> {
        metric.service_index().map(|i| &self.service[i])
    }

    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters[counter.index()]
    }

    /// Each behavior's latencies, by name, in the plan's order (none when the recorder was
    /// not given the plan's behaviors).
    pub fn behaviors(&self) -> impl Iterator<Item = (&str, &Latencies)> {
        self.behaviors
            .iter()
            .map(|(name, set)| (name.as_str(), set))
    }

    /// Violations of `check` over the run.
    pub fn violations(&self, check: Check) -> u64 {
        self.checks[check.index()]
    }
}

/// Nothing measured yet: the value a snapshot channel starts with.
impl Default for Totals {
    fn default() -> Self {
        into_totals(
            Recorder::nothing_recorded(),
            &[],
            SystemTime::now(),
            Duration::ZERO,
            0,
            Vec::new(),
        )
    }
}

/// Figures of the last interval, for progress display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub elapsed: Duration,
    pub visitors_live: i64,
    /// Messages sent and received per second over the last interval.
    pub messages_per_second: f64,
    /// p99 of `presence_ack` in the last interval, in microseconds (0 without samples).
    pub presence_ack_p99_us: u64,
    /// Errors since the start of the run.
    pub errors: u64,
    /// Requests waiting for their answer now: during a stall, the only figure that moves.
    pub waiting: WaitingNow,
}

/// Runs until `cancel`, then takes the last samples and answers the totals. Once per interval,
/// and once more at the end, it hands a snapshot to each of `observers` in turn.
pub async fn collect(
    recorder: Recorder,
    every: Duration,
    mut observers: Observers,
    cancel: CancellationToken,
) -> Totals {
    let started_at = SystemTime::now();
    let start = Instant::now();
    let mut totals = recorder.empty();
    let mut visitors_peak = 0;
    let mut timeline = Vec::new();
    let mut last_tick = start;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        let finished = tokio::select! {
            _ = ticker.tick() => false,
            _ = cancel.cancelled() => true,
        };
        let now = Instant::now();
        let interval = recorder.drain();
        let visitors_live = recorder.visitors_live();
        visitors_peak = visitors_peak.max(visitors_live);
        timeline.push(Second {
            visitors_live,
            messages: interval.counters[Counter::MessagesSent.index()]
                + interval.counters[Counter::MessagesReceived.index()],
            errors: interval.errors.values().sum(),
        });
        merge(&mut totals, &interval);
        let snapshot = Snapshot {
            start: last_tick - start,
            length: now - last_tick,
            elapsed: now - start,
            visitors_live,
            waiting: recorder.waiting_now(),
            last: finished,
            interval: &interval,
            totals: &totals,
            started_at,
            visitors_peak,
            behaviors: recorder.behaviors(),
        };
        for observer in &mut observers {
            observer.observe(&snapshot).await;
        }
        last_tick = now;
        if finished {
            break;
        }
    }
    let mut totals = into_totals(
        totals,
        recorder.behaviors(),
        started_at,
        start.elapsed(),
        visitors_peak,
        timeline,
    );
    totals.openings = recorder.openings();
    totals
}

pub(super) fn into_totals(
    recorded: Recorded,
    behaviors: &[String],
    started_at: SystemTime,
    elapsed: Duration,
    visitors_peak: i64,
    timeline: Vec<Second>,
) -> Totals {
    Totals {
        started_at,
        elapsed,
        histograms: recorded.histograms,
        service: recorded.service,
        behaviors: behaviors.iter().cloned().zip(recorded.behaviors).collect(),
        counters: recorded.counters,
        checks: recorded.checks,
        errors: recorded.errors,
        tallies: recorded.tallies,
        by_transport: recorded.by_transport,
        visitors_peak,
        openings: None,
        timeline,
    }
}

/// The totals of what `recorded` holds, for tests of what is made of them.
#[cfg(test)]
pub(crate) fn totals_of(recorded: Recorded) -> Totals {
    into_totals(
        recorded,
        &[],
        SystemTime::now(),
        Duration::from_secs(1),
        0,
        Vec::new(),
    )
}

pub(super) fn merge(totals: &mut Recorded, interval: &Recorded) {
    let parts = interval.histograms.iter().chain(&interval.service);
    for (total, part) in totals
        .histograms
        .iter_mut()
        .chain(totals.service.iter_mut())
        .zip(parts)
    {
        total.add(part).expect("histograms grow to fit");
    }
    for (total, part) in totals.behaviors.iter_mut().zip(&interval.behaviors) {
        total.add(part);
    }
    for (total, part) in totals.counters.iter_mut().zip(interval.counters) {
        *total += part;
    }
    for (total, part) in totals.checks.iter_mut().zip(interval.checks) {
        *total += part;
    }
    for (kind, n) in &interval.errors {
        *totals.errors.entry(kind).or_insert(0) += n;
    }
    for (key, n) in &interval.tallies {
        *totals.tallies.entry(*key).or_insert(0) += n;
    }
    totals.add_split(&interval.by_transport);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::measure::observer::{done, IntervalObserver, IntervalSink, LiveFigures, Observed};
    use std::sync::{Arc, Mutex};
    use tokio::sync::{mpsc, watch};

    /// Who was shown what: (observer, connect samples in the totals, last snapshot).
    type Log = Arc<Mutex<Vec<(&'static str, u64, bool)>>>;

    /// Notes what it was shown, under its name, in a log shared with the other observers.
    struct Note(&'static str, Log);

    impl IntervalObserver for Note {
        fn observe<'a>(&'a mut self, snapshot: &'a Snapshot<'_>) -> Observed<'a> {
            let connects = snapshot.totals().histogram(Metric::Connect).len();
            self.1
                .lock()
                .unwrap()
                .push((self.0, connects, snapshot.last));
            done()
        }
    }

    #[tokio::test]
    async fn totals_hold_every_sample_and_intervals_reach_the_observers() {
        let recorder = Recorder::new();
        let (sink, mut intervals) = mpsc::channel(16);
        let (live, live_rx) = watch::channel(Live::default());
        let cancel = CancellationToken::new();
        for i in 1..=100 {
            recorder.latency(Metric::Connect, Duration::from_millis(i));
        }
        recorder.count(Counter::SessionsOpened, 100);
        recorder.error(crate::measure::ErrorKind::Handshake);
        let log = Arc::new(Mutex::new(Vec::new()));
        let observers: Observers = vec![
            Box::new(Note("first", log.clone())),
            Box::new(IntervalSink(sink)),
            Box::new(LiveFigures(live)),
            Box::new(Note("last", log.clone())),
        ];
        let collector = tokio::spawn(collect(
            recorder.clone(),
            Duration::from_secs(3600),
            observers,
            cancel.clone(),
        ));
        cancel.cancel();
        let totals = collector.await.unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [("first", 100, true), ("last", 100, true)],
            "each in order, once"
        );
        assert_eq!(
            live_rx.borrow().errors,
            1,
            "the live figures were published"
        );
        let connect = totals.histogram(Metric::Connect);
        assert_eq!(connect.len(), 100);
        assert!((connect.value_at_quantile(0.5) as i64 - 50_000).abs() <= 50);
        assert_eq!(totals.counter(Counter::SessionsOpened), 100);
        assert_eq!(totals.errors.get("handshake"), Some(&1));
        let interval = intervals.recv().await.expect("the final interval is sent");
        assert_eq!(interval.histograms[Metric::Connect.index()].len(), 100);
    }

    /// A tick with nothing recorded still reaches every observer, once per interval.
    #[tokio::test(start_paused = true)]
    async fn every_interval_reaches_every_observer() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let observers: Observers = vec![
            Box::new(Note("a", log.clone())),
            Box::new(Note("b", log.clone())),
        ];
        let cancel = CancellationToken::new();
        let collector = tokio::spawn(collect(
            Recorder::new(),
            Duration::from_secs(1),
            observers,
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        cancel.cancel();
        collector.await.unwrap();
        let names: Vec<(&str, bool)> = log
            .lock()
            .unwrap()
            .iter()
            .map(|(name, _, last)| (*name, *last))
            .collect();
        assert_eq!(
            names,
            [
                ("a", false),
                ("b", false),
                ("a", false),
                ("b", false),
                ("a", true),
                ("b", true)
            ]
        );
    }
}
