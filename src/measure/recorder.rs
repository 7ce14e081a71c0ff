//! Recording samples without contention.
//!
//! Every worker thread records into its own lane (a histogram per metric, a counter array
//! and an error tally behind a mutex that only the collector ever competes for, once per
//! interval). A sample therefore costs an uncontended lock and a histogram increment: a few
//! nanoseconds, no allocation, no global lock.
//!
//! A visitor's sample goes into its behavior's set only (`attribution`, `latencies`); the
//! collector adds the sets into the overall histograms when it drains the lanes, so a sample
//! is still one increment, and the overall figures are the sum of the behaviors' and the
//! unattributed samples (agents').

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::attribution;
use super::by_transport;
use super::error_kind::ErrorKind;
use super::latencies::{Latencies, Target};
use super::metric::{Check, Counter, Metric, Tally};
use super::waiting::{self, Waiting, WaitingNow, WaitingRing};

/// Highest latency a histogram holds: one hour, in microseconds. Larger samples saturate.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant decimal digits every histogram keeps.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram in microseconds. It starts small and grows to the largest sample it
/// gets (at most [`MAX_LATENCY_US`]): one sized for an hour up front is 184 KiB, and the
/// collector clears and merges every metric of every lane each interval, so fixed-size
/// histograms cost milliseconds per interval (stalling a worker and the timers it runs) and
/// megabytes of memory for metrics a scenario never records.
pub fn new_histogram() -> Histogram<u64> {
    let mut histogram = Histogram::new(SIGNIFICANT_DIGITS).expect("constant precision is valid");
    histogram.auto(true);
    histogram
}

/// `elapsed` as a latency sample: microseconds, clamped to `1..=MAX_LATENCY_US`.
pub fn latency_micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US)
}

/// Records `elapsed` (see [`latency_micros`]). A histogram grows only when a sample is the
/// largest it has seen by a power of two, so after the first seconds of a run recording
/// does not allocate.
pub fn record_duration(histogram: &mut Histogram<u64>, elapsed: Duration) {
    // `record`, not `saturating_record`: the latter clamps to the current size instead of growing.
    histogram
        .record(latency_micros(elapsed))
        .expect("a growing histogram fits every clamped sample");
}

/// Samples recorded since the collector last took them: one lane's, an interval's (drained
/// from every lane), or the run's so far.
#[derive(Clone)]
pub(crate) struct Recorded {
    /// In a lane, the samples of no behavior; once drained, every sample.
    pub histograms: Vec<Histogram<u64>>,
    /// Service times of the requests (index = `Metric::service_index`).
    pub service: Vec<Histogram<u64>>,
    /// By behavior (index into the plan's behaviors).
    pub behaviors: Vec<Latencies>,
    pub counters: [u64; Counter::COUNT],
    pub checks: [u64; Check::COUNT],
    pub errors: BTreeMap<&'static str, u64>,
    pub tallies: BTreeMap<(Tally, &'static str), u64>,
    /// The `by_transport::SPLIT` latencies, by transport.
    pub by_transport: BTreeMap<(&'static str, Metric), Histogram<u64>>,
}

impl Recorded {
    pub(super) fn new(behaviors: usize) -> Self {
        Recorded {
            histograms: Metric::ALL.iter().map(|_| new_histogram()).collect(),
            service: Metric::REQUESTS.iter().map(|_| new_histogram()).collect(),
            behaviors: (0..behaviors).map(|_| Latencies::default()).collect(),
            counters: [0; Counter::COUNT],
            checks: [0; Check::COUNT],
            errors: BTreeMap::new(),
            tallies: BTreeMap::new(),
            by_transport: BTreeMap::new(),
        }
    }

    /// Adds a sample of `metric` to its transport's histogram, when it is split and a
    /// visitor records it.
    fn split(&mut self, metric: Metric, elapsed: Duration) {
        if !by_transport::is_split(metric) {
            return;
        }
        if let Some(transport) = by_transport::current() {
            record_duration(
                self.by_transport
                    .entry((transport, metric))
                    .or_insert_with(new_histogram),
                elapsed,
            );
        }
    }

    /// Counts one event of a transport family, when a visitor records it.
    fn split_count(&mut self, tally: Tally) {
        if let Some(transport) = by_transport::current() {
            *self.tallies.entry((tally, transport)).or_insert(0) += 1;
        }
    }

    /// Adds `other`'s split histograms to these samples'.
    pub(crate) fn add_split(&mut self, other: &BTreeMap<(&'static str, Metric), Histogram<u64>>) {
        for (key, part) in other {
            let total = self.by_transport.entry(*key).or_insert_with(new_histogram);
            total.add(part).expect("histograms grow to fit");
        }
    }

    /// The set a sample of `behavior` goes to: the behavior's, or the overall one.
    fn latencies(&mut self, behavior: Option<usize>) -> Target<'_> {
        match behavior.and_then(|behavior| self.behaviors.get_mut(behavior)) {
            Some(set) => Target::Behavior(set),
            None => Target::Overall {
                histograms: &mut self.histograms,
                service: &mut self.service,
            },
        }
    }
}

struct Inner {
    lanes: Vec<Mutex<Recorded>>,
    /// Requests waiting for an answer, per lane (never drained: they are a gauge).
    waiting: Vec<Mutex<WaitingRing>>,
    /// Where [`Waiting`] counts its time slots from.
    epoch: Instant,
    visitors_live: AtomicI64,
    /// When the first and the last session opened, microseconds from `epoch` (`u64::MAX` and
    /// 0 before any): a connect storm's rate is its sessions over the time they took.
    first_opened_us: AtomicU64,
    last_opened_us: AtomicU64,
    /// The plan's behaviors, whose samples are also kept apart (index = behavior index).
    behaviors: Vec<String>,
}

/// The handle visitors and agents record through; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder that keeps no figures per behavior.
    pub fn new() -> Self {
        Self::with_behaviors(Vec::new())
    }

    /// A recorder that also keeps the latencies of each of `behaviors` apart (the plan's
    /// behavior names, in order): samples recorded inside
    /// [`as_visitor`](super::attribution::as_visitor) count for that behavior as well.
    pub fn with_behaviors(behaviors: Vec<String>) -> Self {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        let lanes = (threads * 2).max(4);
        Recorder {
            inner: Arc::new(Inner {
                lanes: (0..lanes)
                    .map(|_| Mutex::new(Recorded::new(behaviors.len())))
                    .collect(),
                waiting: (0..lanes).map(|_| Mutex::default()).collect(),
                epoch: Instant::now(),
                visitors_live: AtomicI64::new(0),
                first_opened_us: AtomicU64::new(u64::MAX),
                last_opened_us: AtomicU64::new(0),
                behaviors,
            }),
        }
    }

    /// The behaviors whose latencies are kept apart, by index.
    pub fn behaviors(&self) -> &[String] {
        &self.inner.behaviors
    }

    /// Records a latency.
    pub fn latency(&self, metric: Metric, elapsed: Duration) {
        let behavior = attribution::current();
        let mut lane = self.lane();
        lane.split(metric, elapsed);
        lane.latencies(behavior).record(metric, elapsed);
    }

    /// Records one latency into several metrics (an overall one and its breakdown) under a
    /// single lane lock.
    pub fn latencies(&self, metrics: &[Metric], elapsed: Duration) {
        let behavior = attribution::current();
        let mut lane = self.lane();
        let mut target = lane.latencies(behavior);
        for metric in metrics {
            target.record(*metric, elapsed);
        }
    }

    /// Records several latencies (the phases of one exchange) under a single lane lock.
    pub fn latency_each(&self, samples: impl IntoIterator<Item = (Metric, Duration)>) {
        let mut lane = self.lane();
        for (metric, elapsed) in samples {
            record_duration(&mut lane.histograms[metric.index()], elapsed);
        }
    }

    /// Records the time from `intended` (when the action should have started) until now.
    /// Timing from intent, not from the actual send, is the coordinated-omission correction.
    pub fn since(&self, metric: Metric, intended: Instant) {
        self.latency(metric, intended.elapsed());
    }

    /// Records the reply to a request that was intended to go out at `intended` and went out
    /// at `sent`: its latency from intent and, for [`Metric::REQUESTS`], its service time,
    /// under one lane lock. The difference between the two is the send's lateness.
    pub fn reply(&self, metric: Metric, intended: Instant, sent: Instant) {
        let now = Instant::now();
        let behavior = attribution::current();
        let mut lane = self.lane();
        lane.split(metric, now.saturating_duration_since(intended));
        let mut target = lane.latencies(behavior);
        target.record(metric, now.saturating_duration_since(intended));
        target.record_service(metric, now.saturating_duration_since(sent));
    }

    /// Adds `n` to a counter.
    pub fn count(&self, counter: Counter, n: u64) {
        let mut lane = self.lane();
        lane.counters[counter.index()] += n;
        let split = match counter {
            Counter::VisitorsStarted => Tally::TransportVisitor,
            Counter::SessionsOpened => Tally::TransportSession,
            _ => return,
        };
        for _ in 0..n {
            lane.split_count(split);
        }
    }

    /// Counts a message sent, in total and by type (one lane lock for both).
    pub fn sent(&self, kind: &'static str) {
        let mut lane = self.lane();
        lane.counters[Counter::MessagesSent.index()] += 1;
        *lane.tallies.entry((Tally::MessageSent, kind)).or_insert(0) += 1;
    }

    /// Counts a message received, in total and by type (one lane lock for both).
    pub fn received(&self, kind: &'static str) {
        let mut lane = self.lane();
        lane.counters[Counter::MessagesReceived.index()] += 1;
        *lane
            .tallies
            .entry((Tally::MessageReceived, kind))
            .or_insert(0) += 1;
    }

    /// Counts one violation of a delivery check.
    pub fn violation(&self, check: Check) {
        self.lane().checks[check.index()] += 1;
    }

    /// Counts one error of the given kind (kept by its name, as reports and labels show it).
    pub fn error(&self, kind: ErrorKind) {
        let mut lane = self.lane();
        *lane.errors.entry(kind.as_str()).or_insert(0) += 1;
        lane.split_count(Tally::TransportError);
    }

    /// Counts one event of a labelled family (a check violation, a drill event); `label` is
    /// a short, fixed name. Rare events only: it touches a small map, like [`Self::error`].
    pub fn tally(&self, tally: Tally, label: &'static str) {
        *self.lane().tallies.entry((tally, label)).or_insert(0) += 1;
    }

    /// A visitor came alive (+1) or ended (-1).
    /// Counts a session opened now, and keeps when the first and the last one opened.
    pub fn session_opened(&self) {
        self.count(Counter::SessionsOpened, 1);
        let at = self.inner.epoch.elapsed().as_micros() as u64;
        self.inner.first_opened_us.fetch_min(at, Ordering::Relaxed);
        self.inner.last_opened_us.fetch_max(at, Ordering::Relaxed);
    }

    /// When the first and the last session opened, from the recorder's start (the run's);
    /// `None` before any did.
    pub fn openings(&self) -> Option<(Duration, Duration)> {
        let first = self.inner.first_opened_us.load(Ordering::Relaxed);
        let last = self.inner.last_opened_us.load(Ordering::Relaxed);
        (first != u64::MAX).then(|| {
            (
                Duration::from_micros(first),
                Duration::from_micros(last.max(first)),
            )
        })
    }

    pub fn visitors_live_add(&self, delta: i64) {
        self.inner.visitors_live.fetch_add(delta, Ordering::Relaxed);
    }

    /// Visitors alive right now.
    pub fn visitors_live(&self) -> i64 {
        self.inner.visitors_live.load(Ordering::Relaxed)
    }

    /// A request was sent and waits for its answer until the guard is dropped; the live
    /// figures show how many wait and for how long (see `measure::waiting`).
    pub fn waiting(&self) -> Waiting {
        Waiting::new(
            self,
            thread_slot() % self.inner.waiting.len(),
            self.inner.epoch,
        )
    }

    /// Requests waiting right now, and the age of the oldest.
    pub fn waiting_now(&self) -> WaitingNow {
        let rings: Vec<_> = self.inner.waiting.iter().map(lock).collect();
        waiting::sum(
            rings.iter().map(|ring| &**ring),
            self.inner.epoch,
            Instant::now(),
        )
    }

    /// Updates lane `lane`'s ring: the one a request started in, wherever it ends.
    pub(super) fn with_waiting(&self, lane: usize, update: impl FnOnce(&mut WaitingRing)) {
        update(&mut lock(&self.inner.waiting[lane]));
    }

    /// Takes every lane's samples, leaving the lanes empty. The overall histograms of the
    /// answer hold every sample: the behaviors' are added to them here, off the hot path.
    pub(crate) fn drain(&self) -> Recorded {
        let mut into = self.empty();
        for lane in &self.inner.lanes {
            let mut lane = lock(lane);
            let lane = &mut *lane;
            let parts = lane.histograms.iter_mut().chain(lane.service.iter_mut());
            // Only the metrics that got samples: clearing a histogram touches all its counts.
            for (total, part) in into
                .histograms
                .iter_mut()
                .chain(into.service.iter_mut())
                .zip(parts)
            {
                if !part.is_empty() {
                    total.add(&*part).expect("histograms grow to fit");
                    part.reset();
                }
            }
            for (total, part) in into.counters.iter_mut().zip(lane.counters.iter_mut()) {
                *total += std::mem::take(part);
            }
            for (total, part) in into.checks.iter_mut().zip(lane.checks.iter_mut()) {
                *total += std::mem::take(part);
            }
            for (kind, n) in std::mem::take(&mut lane.errors) {
                *into.errors.entry(kind).or_insert(0) += n;
            }
            for (key, n) in std::mem::take(&mut lane.tallies) {
                *into.tallies.entry(key).or_insert(0) += n;
            }
            for (total, part) in into.behaviors.iter_mut().zip(lane.behaviors.iter_mut()) {
                part.drain_into(total);
            }
            into.add_split(&std::mem::take(&mut lane.by_transport));
        }
        for set in &into.behaviors {
            set.add_to(&mut into.histograms, &mut into.service);
        }
        into
    }

    /// Nothing measured, with no behaviors: the start of hand-built intervals and totals.
    pub(crate) fn nothing_recorded() -> Recorded {
        Recorded::new(0)
    }

    /// Nothing measured, with a set for each of this recorder's behaviors.
    pub(crate) fn empty(&self) -> Recorded {
        Recorded::new(self.inner.behaviors.len())
    }

    fn lane(&self) -> MutexGuard<'_, Recorded> {
        let lanes = &self.inner.lanes;
        lock(&lanes[thread_slot() % lanes.len()])
    }
}

/// A poisoned lane only means a panic elsewhere; its counts are still good.
fn lock<T>(lane: &Mutex<T>) -> MutexGuard<'_, T> {
    lane.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small number per thread, handed out once, so each thread keeps to its own lane.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static SLOT: Cell<Option<usize>> = const { Cell::new(None) });
    SLOT.with(|slot| {
        slot.get().unwrap_or_else(|| {
            let assigned = NEXT.fetch_add(1, Ordering::Relaxed);
            slot.set(Some(assigned));
            assigned
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_and_the_last_session_opened_are_kept() {
        let recorder = Recorder::new();
        assert_eq!(recorder.openings(), None);
        recorder.session_opened();
        let (first, last) = recorder.openings().expect("one opened");
        assert_eq!(first, last);
        std::thread::sleep(Duration::from_millis(2));
        recorder.session_opened();
        let (first_again, later) = recorder.openings().unwrap();
        assert_eq!(first_again, first, "the first stays");
        assert!(
            later >= first + Duration::from_millis(2),
            "{later:?} after {first:?}"
        );
    }

    #[test]
    fn histograms_grow_to_an_hour_and_clamp_beyond_it() {
        let mut histogram = new_histogram();
        let small = histogram.high();
        record_duration(&mut histogram, Duration::ZERO);
        record_duration(&mut histogram, Duration::from_secs(60));
        assert!(
            histogram.high() > small,
            "grew from {small} to {}",
            histogram.high()
        );
        assert_eq!(histogram.min(), 1, "zero counts as 1 us");
        assert!(histogram.equivalent(histogram.max(), 60_000_000));
        record_duration(&mut histogram, Duration::from_secs(86_400));
        assert!(
            histogram.equivalent(histogram.max(), MAX_LATENCY_US),
            "a day counts as an hour"
        );
        assert_eq!(histogram.len(), 3);
    }

    #[test]
    fn samples_from_many_threads_all_arrive() {
        let recorder = Recorder::new();
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let recorder = recorder.clone();
                scope.spawn(move || {
                    for i in 0..1000 {
                        recorder.latency(
                            Metric::PresenceAck,
                            Duration::from_micros(100 + t * 1000 + i),
                        );
                        recorder.count(Counter::MessagesSent, 1);
                    }
                    recorder.error(ErrorKind::Lost);
                });
            }
        });
        let total = recorder.drain();
        let acks = &total.histograms[Metric::PresenceAck.index()];
        assert_eq!(acks.len(), 4000);
        assert_eq!(acks.min(), 100);
        assert!(
            acks.max() >= 4099 && acks.max() <= 4102,
            "max {}",
            acks.max()
        );
        assert_eq!(total.counters[Counter::MessagesSent.index()], 4000);
        assert_eq!(total.errors.get("lost"), Some(&4));
        let again = recorder.drain();
        assert_eq!(
            again.histograms[Metric::PresenceAck.index()].len(),
            0,
            "a drain empties the lanes"
        );
    }

    #[test]
    fn latencies_from_intent_include_the_delay_before_sending() {
        let recorder = Recorder::new();
        let intended = Instant::now() - Duration::from_millis(50);
        recorder.since(Metric::PresenceAck, intended);
        let total = recorder.drain();
        assert!(
            total.histograms[Metric::PresenceAck.index()].min() >= 49_900,
            "recorded from intent, not from now"
        );
    }

    #[test]
    fn a_reply_records_latency_from_intent_and_service_from_the_send() {
        let recorder = Recorder::new();
        let sent = Instant::now() - Duration::from_millis(20);
        recorder.reply(Metric::PresenceAck, sent - Duration::from_millis(480), sent);
        recorder.reply(Metric::Connect, sent, sent);
        let total = recorder.drain();
        let latency = &total.histograms[Metric::PresenceAck.index()];
        let service = &total.service[Metric::PresenceAck.service_index().unwrap()];
        assert!(
            latency.min() >= 499_000 && latency.min() < 600_000,
            "latency {}",
            latency.min()
        );
        assert!(
            service.min() >= 19_900 && service.min() < 100_000,
            "service {}",
            service.min()
        );
        assert_eq!(total.histograms[Metric::Connect.index()].len(), 1);
        assert_eq!(
            total.service.iter().map(Histogram::len).sum::<u64>(),
            1,
            "no service time for connect"
        );
    }

    #[test]
    fn a_behavior_keeps_its_own_samples_and_the_overall_figures_hold_all() {
        let recorder = Recorder::with_behaviors(vec!["a".into(), "b".into()]);
        let sent = Instant::now();
        attribution::sync_as_behavior(1, || {
            recorder.latency(Metric::Connect, Duration::from_millis(7));
            recorder.reply(Metric::PresenceAck, sent, sent);
        });
        attribution::sync_as_behavior(0, || {
            recorder.latencies(
                &[Metric::Reconnect, Metric::ReconnectKill],
                Duration::from_millis(1),
            )
        });
        recorder.latency(Metric::Connect, Duration::from_millis(3));
        // A behavior the recorder does not know (a recorder made without the plan's) counts overall
        // only.
        attribution::sync_as_behavior(5, || {
            recorder.latency(Metric::Connect, Duration::from_millis(3))
        });
        let total = recorder.drain();
        assert_eq!(total.histograms[Metric::Connect.index()].len(), 3);
        assert_eq!(total.histograms[Metric::PresenceAck.index()].len(), 1);
        assert_eq!(
            total.service[Metric::PresenceAck.service_index().unwrap()].len(),
            1
        );
        assert_eq!(total.histograms[Metric::ReconnectKill.index()].len(), 1);
        let b = &total.behaviors[1];
        assert_eq!(b.histogram(Metric::Connect).map(Histogram::len), Some(1));
        assert!(b.histogram(Metric::Connect).unwrap().min() >= 7000);
        assert_eq!(b.service(Metric::PresenceAck).map(Histogram::len), Some(1));
        assert!(b.histogram(Metric::Reconnect).is_none());
        assert_eq!(
            total.behaviors[0]
                .histogram(Metric::ReconnectKill)
                .map(Histogram::len),
            Some(1)
        );
        assert!(
            recorder.drain().histograms[Metric::Connect.index()].is_empty(),
            "a drain empties the sets"
        );
    }
}
