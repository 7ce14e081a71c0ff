//! The per-event drill report (summary.json `drills`, docs/drills.md): what each event did
//! to the visitors, read from the account once the run is over.

use std::sync::atomic::Ordering;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::action::ActionResult;
use super::storm::{Drills, EventState, Samples};

/// One drill event, as summary.json reports it. Times in seconds are from the start of the run
/// (`at_s`) or of the event (`back_*_s`, `window_s`); latencies are in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    pub at_s: f64,
    /// `scale_in`, `scale_out`, `kill`, or `observed` (watch mode).
    pub kind: String,
    /// Instances asked for (0 when observed).
    pub count: u32,
    /// The instances acted on, comma-separated, when known.
    pub server: String,
    /// How the action went; `None` when observed or cut off by the end of the run.
    pub action: Option<ActionResult>,
    /// How long the event's window stayed open.
    pub window_s: f64,
    /// Sessions lost while the window was open.
    pub affected: u64,
    pub back: u64,
    /// Lost sessions that were not back by the end of the run: zero on a healthy server.
    pub never_back: u64,
    /// When 99% (100%) of the affected sessions were back; `None` if they never were.
    pub back_99_s: Option<f64>,
    pub back_100_s: Option<f64>,
    pub reconnect_attempts: u64,
    /// The most attempts to open a session in one second of the window.
    pub peak_reconnects_per_s: u32,
    /// How spread the comebacks were: p10 to p90 of the times sessions were back, and the
    /// standard deviation of those times.
    pub spread_ms: f64,
    pub stddev_ms: f64,
    pub reconnect: Percentiles,
    pub causes: Causes,
    pub signals: WindowSignals,
    /// The harness lagged while the window was open (the spans, as in the harness verdict):
    /// the figures above include its own delays. `None` when it kept up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_limited: Option<String>,
}

/// A distribution in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// Sessions back, by why they were lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Causes {
    pub drain: u64,
    pub kill: u64,
    pub other: u64,
}

/// What agents' signals went through during the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowSignals {
    pub delivery: Percentiles,
    /// Kept while the visitor was away and delivered after it came back.
    pub queued_delivery: Percentiles,
    pub lost: u64,
}

#[cfg(test)]
impl EventReport {
    /// An event of `kind` whose window opened at `at_s` and stayed open `window_s`, with
    /// nothing measured in it: for tests of what is judged by the window alone.
    pub(crate) fn window(kind: &str, at_s: f64, window_s: f64) -> Self {
        EventReport {
            at_s,
            kind: kind.to_owned(),
            count: 1,
            server: String::new(),
            action: None,
            window_s,
            affected: 0,
            back: 0,
            never_back: 0,
            back_99_s: None,
            back_100_s: None,
            reconnect_attempts: 0,
            peak_reconnects_per_s: 0,
            spread_ms: 0.0,
            stddev_ms: 0.0,
            reconnect: Percentiles::default(),
            causes: Causes::default(),
            signals: WindowSignals::default(),
            harness_limited: None,
        }
    }
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p99: histogram.value_at_quantile(0.99),
            max: histogram.max(),
        }
    }
}

impl Drills {
    /// Every event that started, in start order.
    pub fn report(&self) -> Vec<EventReport> {
        let start = self.start();
        let mut events: Vec<EventReport> = self
            .events()
            .iter()
            .filter_map(|event| event_report(event, start))
            .collect();
        events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        events
    }
}

fn event_report(event: &EventState, run_start: Instant) -> Option<EventReport> {
    let started = *event.started.get()?;
    let (kind, count) = event.what.get().copied().unwrap_or(("observed", 0));
    let closed = event.closed.get().copied().unwrap_or_else(Instant::now);
    let affected = event.affected.load(Ordering::Relaxed);
    let never_back = event.never_back.load(Ordering::Relaxed);
    let attempts: Vec<u32> = event
        .attempts
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .collect();
    let outcome = event.outcome.get().cloned();
    let samples = event.samples();
    let empty = Samples::new();
    let samples: &Samples = samples.as_deref().unwrap_or(&empty);
    let back_at = &samples.back_at;
    let back = back_at.len();
    let seconds = |us: u64| us as f64 / 1e6;
    let back_by = |share: f64| {
        let needed = (affected as f64 * share).ceil() as u64;
        (affected > 0 && back >= needed && needed > 0)
            .then(|| seconds(back_at.value_at_quantile(needed as f64 / back as f64)))
    };
    let spread_us = if back == 0 {
        0
    } else {
        back_at.value_at_quantile(0.9) - back_at.value_at_quantile(0.1)
    };
    Some(EventReport {
        at_s: started.saturating_duration_since(run_start).as_secs_f64(),
        kind: kind.to_owned(),
        count,
        server: outcome
            .as_ref()
            .map(|o| o.servers.join(","))
            .unwrap_or_default(),
        action: outcome,
        window_s: closed.saturating_duration_since(started).as_secs_f64(),
        affected,
        back,
        never_back,
        back_99_s: back_by(0.99),
        back_100_s: if never_back == 0 { back_by(1.0) } else { None },
        reconnect_attempts: attempts.iter().map(|n| u64::from(*n)).sum(),
        peak_reconnects_per_s: attempts.iter().copied().max().unwrap_or(0),
        spread_ms: spread_us as f64 / 1e3,
        stddev_ms: if back == 0 {
            0.0
        } else {
            back_at.stdev() / 1e3
        },
        reconnect: Percentiles::of(&samples.reconnect),
        causes: Causes {
            drain: samples.causes[0],
            kill: samples.causes[1],
            other: samples.causes[2],
        },
        signals: WindowSignals {
            delivery: Percentiles::of(&samples.signal_delivery),
            queued_delivery: Percentiles::of(&samples.queued_delivery),
            lost: samples.signals_lost,
        },
        harness_limited: None,
    })
}
