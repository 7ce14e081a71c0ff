//! The account of drill events while the run goes: which event each lost session belongs to,
//! when it was back, how hard visitors knocked meanwhile, and what agents' signals went through.
//!
//! Visitors report into it through a [`Loss`] taken when a session is lost. Taking one is an
//! atomic load and two atomic updates; finishing one is a single `Recorder` call plus a short
//! lock on that event's own samples. No lock is shared by the whole run.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::client::ClientError;
use crate::measure::{latency_micros, new_histogram, record_duration, Metric, Recorder, Tally};
use crate::scenario::{DrillPlan, DEFAULT_SETTLE, DEFAULT_WINDOW_CAP};
use crate::schema::ActionResult;
use crate::wire::close;

/// How many events watch mode opens on its own; disconnects after that count outside events.
const OBSERVED_MAX: usize = 64;

/// Why a session was lost, as the visitor saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The server announced a drain (`draining`, or close 3000).
    Drain,
    /// The connection dropped without a close frame: the instance died.
    Kill,
    Other,
}

impl Cause {
    /// `draining` is true when the session received `draining` before it ended.
    pub fn of(err: &ClientError, draining: bool) -> Cause {
        match err {
            _ if draining => Cause::Drain,
            ClientError::Closed { code, .. } if close::is_drain(*code) => Cause::Drain,
            ClientError::Lost(_) => Cause::Kill,
            _ => Cause::Other,
        }
    }

    fn metric(self) -> Metric {
        match self {
            Cause::Drain => Metric::ReconnectDrain,
            Cause::Kill => Metric::ReconnectKill,
            Cause::Other => Metric::ReconnectOther,
        }
    }
}

/// The drills of one run, shared by the schedule, the visitors and the ledger; cheap to clone.
#[derive(Clone)]
pub struct Drills {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: Recorder,
    /// The run's start: event times are counted from here.
    start: Instant,
    /// Whether the scenario has a `drills` section at all.
    active: bool,
    events: Box<[EventState]>,
    /// 1 + the index of the event new losses belong to; 0 when no window is open.
    current: AtomicUsize,
    /// Watch mode: the next free event slot. Locked only to open an event.
    observed: Option<Mutex<usize>>,
    settle: Duration,
    window_cap: Duration,
}

/// What the report needs to know about one event.
pub(super) struct EventState {
    pub(super) started: OnceLock<Instant>,
    pub(super) closed: OnceLock<Instant>,
    pub(super) what: OnceLock<(&'static str, u32)>,
    pub(super) outcome: OnceLock<ActionResult>,
    pub(super) affected: AtomicU64,
    pub(super) back: AtomicU64,
    pub(super) never_back: AtomicU64,
    /// The latest loss, in microseconds after `started`.
    last_loss_us: AtomicU64,
    /// Reconnect attempts per second of the window.
    pub(super) attempts: Box<[AtomicU32]>,
    /// Allocated on the first sample: most events of a long schedule are short.
    samples: Mutex<Option<Box<Samples>>>,
}

/// Distributions of one event, in microseconds.
pub(super) struct Samples {
    pub(super) reconnect: Histogram<u64>,
    /// When each affected visitor was back, from the event's start.
    pub(super) back_at: Histogram<u64>,
    /// Affected visitors back, by `Cause` (drain, kill, other).
    pub(super) causes: [u64; 3],
    pub(super) signal_delivery: Histogram<u64>,
    pub(super) queued_delivery: Histogram<u64>,
    pub(super) signals_lost: u64,
}

impl Samples {
    pub(super) fn new() -> Self {
        Samples {
            reconnect: new_histogram(),
            back_at: new_histogram(),
            causes: [0; 3],
            signal_delivery: new_histogram(),
            queued_delivery: new_histogram(),
            signals_lost: 0,
        }
    }
}

impl EventState {
    fn new(seconds: usize) -> Self {
        EventState {
            started: OnceLock::new(),
            closed: OnceLock::new(),
            what: OnceLock::new(),
            outcome: OnceLock::new(),
            affected: AtomicU64::new(0),
            back: AtomicU64::new(0),
            never_back: AtomicU64::new(0),
            last_loss_us: AtomicU64::new(0),
            attempts: (0..seconds).map(|_| AtomicU32::new(0)).collect(),
            samples: Mutex::new(None),
        }
    }

    fn pending(&self) -> u64 {
        let settled = self.back.load(Ordering::Relaxed) + self.never_back.load(Ordering::Relaxed);
        self.affected
            .load(Ordering::Relaxed)
            .saturating_sub(settled)
    }

    /// Runs `f` on the samples, allocating them on first use.
    pub(super) fn with_samples<T>(&self, f: impl FnOnce(&mut Samples) -> T) -> T {
        let mut guard = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        f(guard.get_or_insert_with(|| Box::new(Samples::new())))
    }

    pub(super) fn samples(&self) -> MutexGuard<'_, Option<Box<Samples>>> {
        self.samples.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drills {
    /// The account for `plan` (no events and no windows without one), started at `start`.
    pub fn new(plan: Option<&DrillPlan>, recorder: Recorder, start: Instant) -> Drills {
        let window_cap = plan.map_or(DEFAULT_WINDOW_CAP, |plan| plan.window_cap);
        let seconds = window_cap.as_secs() as usize + 1;
        let watch = plan.is_some_and(|plan| plan.events.is_empty());
        let slots = match plan {
            Some(_) if watch => OBSERVED_MAX,
            Some(plan) => plan.events.len(),
            None => 0,
        };
        Drills {
            inner: Arc::new(Inner {
                recorder,
                start,
                active: plan.is_some(),
                events: (0..slots).map(|_| EventState::new(seconds)).collect(),
                current: AtomicUsize::new(0),
                observed: watch.then(|| Mutex::new(0)),
                settle: plan.map_or(DEFAULT_SETTLE, |plan| plan.settle),
                window_cap,
            }),
        }
    }

    pub(super) fn start(&self) -> Instant {
        self.inner.start
    }

    pub(super) fn events(&self) -> &[EventState] {
        &self.inner.events
    }

    /// A session was lost for `cause`: the visitor holds the answer until it is back.
    pub fn lost(&self, cause: Cause) -> Loss {
        let lost_at = Instant::now();
        let event = self.attribute(lost_at);
        Loss {
            inner: self.inner.clone(),
            event,
            cause,
            lost_at,
            back: false,
        }
    }

    /// The event whose window is open now, if any.
    pub fn current_event(&self) -> Option<usize> {
        self.inner.current.load(Ordering::Acquire).checked_sub(1)
    }

    fn attribute(&self, now: Instant) -> Option<usize> {
        let index = self.current_event().or_else(|| self.open_observed(now))?;
        let event = &self.inner.events[index];
        event.affected.fetch_add(1, Ordering::Relaxed);
        let started = *event.started.get()?;
        event.last_loss_us.fetch_max(
            latency_micros(now.saturating_duration_since(started)),
            Ordering::Relaxed,
        );
        Some(index)
    }

    /// Watch mode: a loss outside any window opens an observed event.
    fn open_observed(&self, now: Instant) -> Option<usize> {
        let mut next = self
            .inner
            .observed
            .as_ref()?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = self.current_event() {
            return Some(open);
        }
        let index = *next;
        if index >= self.inner.events.len() {
            return None;
        }
        *next += 1;
        self.begin(index, "observed", 0, now);
        Some(index)
    }

    /// Event `index` starts `now`: its window opens and new losses belong to it.
    pub(super) fn begin(&self, index: usize, kind: &'static str, count: u32, now: Instant) {
        let event = &self.inner.events[index];
        let _ = event.what.set((kind, count));
        let _ = event.started.set(now);
        self.inner.current.store(index + 1, Ordering::Release);
        self.inner.recorder.tally(Tally::DrillEvent, kind);
        tracing::info!(
            kind,
            count,
            at = ?now.saturating_duration_since(self.inner.start),
            "drill event"
        );
    }

    /// The action of event `index` finished. The instances it names (a scale-out's new one)
    /// are known from now on: their per-server series start at zero before any session opens there.
    pub(super) fn settle_action(&self, index: usize, outcome: ActionResult) {
        for server in &outcome.servers {
            self.inner
                .recorder
                .tally(Tally::ServerSeen, crate::measure::label::intern(server));
        }
        let _ = self.inner.events[index].outcome.set(outcome);
    }

    /// Closes the windows whose visitors are all back and quiet for `settle`, or that reached the
    /// cap.
    pub(super) fn tick(&self, now: Instant) {
        for (index, event) in self.inner.events.iter().enumerate() {
            let Some(started) = event.started.get() else {
                continue;
            };
            if event.closed.get().is_some() {
                continue;
            }
            let age = now.saturating_duration_since(*started);
            let quiet = age.saturating_sub(Duration::from_micros(
                event.last_loss_us.load(Ordering::Relaxed),
            ));
            if age >= self.inner.window_cap || (event.pending() == 0 && quiet >= self.inner.settle)
            {
                self.close(index, now);
            }
        }
    }

    /// The end of the run: every window still open closes now.
    pub(super) fn finish(&self, now: Instant) {
        for (index, event) in self.inner.events.iter().enumerate() {
            if event.started.get().is_some() && event.closed.get().is_none() {
                self.close(index, now);
            }
        }
    }

    fn close(&self, index: usize, now: Instant) {
        let _ = self.inner.events[index].closed.set(now);
        let _ =
            self.inner
                .current
                .compare_exchange(index + 1, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// A signal (or invoke) arrived: records `metric` (and its drill or calm breakdown) from
    /// `intended`; `sent_in` is the event whose window was open when it was sent.
    pub fn signal_delivered(&self, metric: Metric, sent_in: Option<usize>, intended: Instant) {
        let elapsed = intended.elapsed();
        let event = sent_in.or_else(|| self.current_event());
        let recorder = &self.inner.recorder;
        match (metric, event) {
            (Metric::SignalDelivery, Some(_)) => {
                recorder.latencies(&[metric, Metric::SignalDeliveryDrill], elapsed)
            }
            (Metric::SignalDelivery, None) if self.inner.active => {
                recorder.latencies(&[metric, Metric::SignalDeliveryCalm], elapsed)
            }
            (Metric::QueuedSignalDelivery, Some(_)) => {
                recorder.latencies(&[metric, Metric::QueuedSignalDeliveryDrill], elapsed)
            }
            _ => recorder.latency(metric, elapsed),
        }
        let Some(index) = event else { return };
        self.inner.events[index].with_samples(|samples| {
            let histogram = match metric {
                Metric::QueuedSignalDelivery => &mut samples.queued_delivery,
                _ => &mut samples.signal_delivery,
            };
            record_duration(histogram, elapsed);
        });
    }

    /// A signal sent during event `sent_in` (or judged while a window is open) was lost.
    pub fn signal_lost(&self, sent_in: Option<usize>) {
        if let Some(index) = sent_in.or_else(|| self.current_event()) {
            self.inner.events[index].with_samples(|samples| samples.signals_lost += 1);
        }
    }
}

/// A lost session on its way back. Dropped without [`Loss::back`], the visitor never came back.
pub struct Loss {
    inner: Arc<Inner>,
    event: Option<usize>,
    cause: Cause,
    lost_at: Instant,
    back: bool,
}

impl Loss {
    /// Whether the loss fell in a drill event's window (its cost is the drill's, not an error).
    pub fn in_drill(&self) -> bool {
        self.event.is_some()
    }

    /// One more try to open a session.
    pub fn attempt(&self) {
        let Some(event) = self.event.map(|index| &self.inner.events[index]) else {
            return;
        };
        let Some(started) = event.started.get() else {
            return;
        };
        let second = (started.elapsed().as_secs() as usize).min(event.attempts.len() - 1);
        event.attempts[second].fetch_add(1, Ordering::Relaxed);
    }

    /// The resent presence was acknowledged: records the reconnect time, overall and by cause.
    pub fn back(mut self) {
        self.back = true;
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.lost_at);
        self.inner
            .recorder
            .latencies(&[Metric::Reconnect, self.cause.metric()], elapsed);
        let Some(event) = self.event.map(|index| &self.inner.events[index]) else {
            return;
        };
        let Some(started) = event.started.get() else {
            return;
        };
        event.with_samples(|samples| {
            record_duration(&mut samples.reconnect, elapsed);
            record_duration(
                &mut samples.back_at,
                now.saturating_duration_since(*started),
            );
            samples.causes[self.cause as usize] += 1;
        });
        event.back.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Loss {
    fn drop(&mut self) {
        if !self.back {
            if let Some(index) = self.event {
                self.inner.events[index]
                    .never_back
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::DrillActions;

    fn plan(events: usize) -> DrillPlan {
        let event = crate::scenario::DrillEvent {
            at: Duration::ZERO,
            kind: crate::scenario::DrillKind::Kill,
            count: 1,
        };
        DrillPlan {
            events: vec![event; events],
            actions: DrillActions::default(),
            settle: Duration::from_millis(50),
            window_cap: Duration::from_secs(5),
        }
    }

    #[test]
    fn losses_belong_to_the_open_window_until_everyone_is_back() {
        let drills = Drills::new(Some(&plan(1)), Recorder::new(), Instant::now());
        let outside = drills.lost(Cause::Other);
        drop(outside);
        drills.begin(0, "kill", 1, Instant::now());
        let first = drills.lost(Cause::Kill);
        let second = drills.lost(Cause::Kill);
        first.attempt();
        first.back();
        drills.tick(Instant::now() + Duration::from_secs(1));
        assert_eq!(drills.current_event(), Some(0), "one visitor is still away");
        drop(second);
        drills.tick(Instant::now() + Duration::from_secs(1));
        assert_eq!(drills.current_event(), None);
        let event = &drills.events()[0];
        assert_eq!(
            event.affected.load(Ordering::Relaxed),
            2,
            "the loss before the event is not counted"
        );
        assert_eq!(
            (
                event.back.load(Ordering::Relaxed),
                event.never_back.load(Ordering::Relaxed)
            ),
            (1, 1)
        );
        assert_eq!(event.attempts[0].load(Ordering::Relaxed), 1);
    }

    #[test]
    fn watch_mode_opens_an_event_on_the_first_loss() {
        let drills = Drills::new(Some(&plan(0)), Recorder::new(), Instant::now());
        assert_eq!(drills.current_event(), None);
        drills.lost(Cause::Drain).back();
        assert_eq!(drills.current_event(), Some(0));
        assert_eq!(drills.events()[0].what.get(), Some(&("observed", 0)));
    }
}
