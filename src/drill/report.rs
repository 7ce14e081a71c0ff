//! The per-event drill report (summary.json `drills`, docs/drills.md): what each event did
//! to the visitors, read from the account once the run is over.

use std::sync::atomic::Ordering;
use std::time::Instant;

use hdrhistogram::Histogram;

use super::storm::{Drills, EventState, Samples};
use crate::schema::{Causes, EventReport, Percentiles, WindowSignals};

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
