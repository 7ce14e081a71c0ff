//! The collector: once per interval it takes every shard's samples, merges them into the
//! run's totals, publishes live figures, and hands the interval to an optional sink (the
//! interval log). It is the only reader of the shards, and it runs off the hot path.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::metric::{Check, Counter, Metric, Tally};
use super::prometheus::Exporter;
use super::recorder::{Recorder, Shard};
use super::waiting::WaitingNow;

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
        let shard = Recorder::empty_shard();
        Interval {
            start,
            length,
            histograms: shard.histograms,
            counters: shard.counters,
            errors: shard.errors,
            visitors_live: 0,
        }
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
    /// One entry per interval, in order: what shards of a split run add up second by second
    /// (the merged peak is the peak of the sums, not the sum of the peaks).
    pub timeline: Vec<Second>,
}

/// One interval of the run's timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Second {
    /// Visitors alive at the interval's end.
    pub visitors_live: i64,
    /// Messages sent and received in the interval.
    pub messages: u64,
    /// Errors in the interval.
    pub errors: u64,
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

    /// Violations of `check` over the run.
    pub fn violations(&self, check: Check) -> u64 {
        self.checks[check.index()]
    }
}

/// Nothing measured yet: the value a snapshot channel starts with.
impl Default for Totals {
    fn default() -> Self {
        into_totals(Recorder::empty_shard(), SystemTime::now(), Duration::ZERO, 0, Vec::new())
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

/// Runs until `cancel`, then takes the last samples and answers the totals. With `snapshots`,
/// it also publishes the totals so far once per interval (for thresholds that abort a run);
/// copying them costs a few histograms per interval, on the collector, never on the hot path.
pub async fn collect(
    recorder: Recorder,
    every: Duration,
    sink: Option<mpsc::Sender<Interval>>,
    live: watch::Sender<Live>,
    snapshots: Option<watch::Sender<Arc<Totals>>>,
    mut export: Option<Exporter>,
    cancel: CancellationToken,
) -> Totals {
    let started_at = SystemTime::now();
    let start = Instant::now();
    let mut totals = Recorder::empty_shard();
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
        let mut interval = Recorder::empty_shard();
        recorder.drain_into(&mut interval);
        visitors_peak = visitors_peak.max(recorder.visitors_live());
        let length = now - last_tick;
        let figures = live_figures(&interval, &totals, length, now - start, recorder.visitors_live());
        live.send_replace(Live { waiting: recorder.waiting_now(), ..figures });
        if let Some(export) = &mut export {
            export.publish(&interval, now - start, recorder.visitors_live());
        }
        timeline.push(Second {
            visitors_live: recorder.visitors_live(),
            messages: interval.counters[Counter::MessagesSent.index()]
                + interval.counters[Counter::MessagesReceived.index()],
            errors: interval.errors.values().sum(),
        });
        merge(&mut totals, &interval);
        if let Some(snapshots) = &snapshots {
            let snapshot = into_totals(totals.clone(), started_at, now - start, visitors_peak, Vec::new());
            snapshots.send_replace(Arc::new(snapshot));
        }
        if let Some(sink) = &sink {
            let interval = Interval {
                start: last_tick - start,
                length,
                histograms: interval.histograms,
                counters: interval.counters,
                errors: interval.errors,
                visitors_live: recorder.visitors_live(),
            };
            // A closed sink only means nobody writes the log any more; the totals are unaffected.
            let _ = sink.send(interval).await;
        }
        last_tick = now;
        if finished {
            break;
        }
    }
    into_totals(totals, started_at, start.elapsed(), visitors_peak, timeline)
}

fn into_totals(
    shard: Shard,
    started_at: SystemTime,
    elapsed: Duration,
    visitors_peak: i64,
    timeline: Vec<Second>,
) -> Totals {
    Totals {
        started_at,
        elapsed,
        histograms: shard.histograms,
        service: shard.service,
        counters: shard.counters,
        checks: shard.checks,
        errors: shard.errors,
        tallies: shard.tallies,
        by_transport: shard.by_transport,
        visitors_peak,
        timeline,
    }
}

/// The totals of what `shard` holds, for tests of what is made of them.
#[cfg(test)]
pub(crate) fn totals_of(shard: Shard) -> Totals {
    into_totals(shard, SystemTime::now(), Duration::from_secs(1), 0, Vec::new())
}

fn merge(totals: &mut Shard, interval: &Shard) {
    let parts = interval.histograms.iter().chain(&interval.service);
    for (total, part) in totals.histograms.iter_mut().chain(totals.service.iter_mut()).zip(parts) {
        total.add(part).expect("histograms grow to fit");
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

fn live_figures(interval: &Shard, totals: &Shard, length: Duration, elapsed: Duration, visitors_live: i64) -> Live {
    let messages =
        interval.counters[Counter::MessagesSent.index()] + interval.counters[Counter::MessagesReceived.index()];
    let acks = &interval.histograms[Metric::PresenceAck.index()];
    let errors = totals.errors.values().chain(interval.errors.values()).sum();
    Live {
        elapsed,
        visitors_live,
        messages_per_second: messages as f64 / length.as_secs_f64().max(1e-9),
        presence_ack_p99_us: if acks.is_empty() { 0 } else { acks.value_at_quantile(0.99) },
        errors,
        waiting: WaitingNow::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn totals_hold_every_sample_and_intervals_reach_the_sink() {
        let recorder = Recorder::new();
        let (sink, mut intervals) = mpsc::channel(16);
        let (live, _live_rx) = watch::channel(Live::default());
        let cancel = CancellationToken::new();
        for i in 1..=100 {
            recorder.latency(Metric::Connect, Duration::from_millis(i));
        }
        recorder.count(Counter::SessionsOpened, 100);
        recorder.error("handshake");
        let (snapshots, snapshot) = watch::channel(Arc::new(Totals::default()));
        let collector = tokio::spawn(collect(
            recorder.clone(),
            Duration::from_secs(3600),
            Some(sink),
            live,
            Some(snapshots),
            None,
            cancel.clone(),
        ));
        cancel.cancel();
        let totals = collector.await.unwrap();
        assert_eq!(snapshot.borrow().histogram(Metric::Connect).len(), 100, "the last snapshot holds every sample");
        let connect = totals.histogram(Metric::Connect);
        assert_eq!(connect.len(), 100);
        assert!((connect.value_at_quantile(0.5) as i64 - 50_000).abs() <= 50);
        assert_eq!(totals.counter(Counter::SessionsOpened), 100);
        assert_eq!(totals.errors.get("handshake"), Some(&1));
        let interval = intervals.recv().await.expect("the final interval is sent");
        assert_eq!(interval.histograms[Metric::Connect.index()].len(), 100);
    }
}
