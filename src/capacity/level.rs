//! One level judged on its own window: the window's figures become a summary as a whole
//! run's do, and are judged by the same code (`report::threshold`, `report::exercise`,
//! `report::verdict`, `report::harness`), so a level holds exactly when a run of that level
//! alone would have passed. Only the order differs from a run's verdict: a level on which
//! the harness was the bottleneck is harness-limited even when a threshold also failed,
//! since the failure may be the harness's own delay.

use crate::measure::health::{HealthReport, HealthSecond, SATURATED_SHARE};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::measure::{Check, Counter, Totals};
use crate::report::findings::{failures, Failure};
use crate::report::verdict::{self, Ending};
use crate::report::{exercise, threshold};
use crate::runtime;
use crate::scenario::Threshold;
use crate::schema::{
    HarnessSummary, LevelRow, LevelStatus, Quantiles, Status, Summary, WindowCost,
};

use super::search::{Judged, Phase};

/// The harness's health over a level's window: its seconds, and every lag sample of it.
pub struct WindowHealth {
    pub seconds: Vec<HealthSecond>,
    pub lag: Histogram<u64>,
}

/// Judges a level's window (`totals`, from `start` for `length` into the run; at `load`, in
/// `phase`) against `thresholds`, with the harness's health over the window, and answers the
/// judgement, the table's row (with what the server paid over the window, `server`) and the
/// window's own summary (what a shard keeps of the level for `merge`).
pub fn judge(
    (totals, start, length): (&Totals, Duration, Duration),
    (health, server): (&WindowHealth, Option<WindowCost>),
    thresholds: &[Threshold],
    level: (f64, Phase),
) -> (Judged, LevelRow, Summary) {
    let mut summary = Summary::from_totals("", "the target", totals);
    summary.harness = Some(HarnessSummary::judge(
        &report(health),
        &summary.errors,
        &mut [],
    ));
    let (judged, row) = judge_summary(&mut summary, (start, length), server, thresholds, level);
    (judged, row, summary)
}

/// Judges a level's window given as a summary with its harness judged (one process's, or the
/// shards' windows merged): the same judgement whichever way the window was measured.
pub fn judge_summary(
    summary: &mut Summary,
    (start, length): (Duration, Duration),
    server: Option<WindowCost>,
    thresholds: &[Threshold],
    (load, phase): (f64, Phase),
) -> (Judged, LevelRow) {
    // Nothing is required of a level: a check with nothing to check in one window passes.
    summary.thresholds = threshold::evaluate(thresholds, summary, &[]);
    summary.check_results = exercise::judge(summary, &[]);
    let (trusted, limits, lag_p99) = summary
        .harness
        .as_ref()
        .map_or((true, String::new(), 0), |h| {
            (h.trusted, h.reasons.join("; "), h.scheduling_lag.p99)
        });
    // Decided without the harness, judged just below: a level is harness-limited even when
    // it broke (the run's verdict puts a failure first).
    let harness = summary.harness.take();
    let decided = verdict::decide(summary, &Ending::default());
    summary.harness = harness;
    let failed = failures(summary);
    let judged = match decided.status {
        Status::TargetDown => Judged::TargetDown(decided.reason.clone()),
        _ if silent(summary) => Judged::TargetDown(format!(
            "nothing received from the target for {:.1}s, {} errors",
            length.as_secs_f64(),
            summary.errors.values().sum::<u64>()
        )),
        _ if !trusted => Judged::HarnessLimited(limits),
        Status::Failed => Judged::Broken {
            reason: decided.reason.clone(),
            delivery: failed.iter().any(is_delivery),
        },
        _ => Judged::Held,
    };
    let (status, reason) = match &judged {
        Judged::Held => (LevelStatus::Held, String::new()),
        Judged::Broken { reason, .. } => (LevelStatus::Broken, reason.clone()),
        Judged::HarnessLimited(reason) => (LevelStatus::HarnessLimited, reason.clone()),
        Judged::TargetDown(reason) => (LevelStatus::TargetDown, reason.clone()),
    };
    let row = LevelRow {
        phase: phase.name().to_owned(),
        load,
        from_s: start.as_secs_f64(),
        to_s: (start + length).as_secs_f64(),
        visitors_peak: summary.visitors.peak,
        metrics: summary
            .metrics
            .iter()
            .map(|(name, m)| {
                (
                    name.clone(),
                    Quantiles {
                        count: m.count,
                        p50: m.p50,
                        p99: m.p99,
                    },
                )
            })
            .collect(),
        errors: summary.errors.values().sum(),
        check_violations: summary.checks.values().sum(),
        harness_lag_p99_us: lag_p99,
        server,
        status,
        reason,
        window: None,
    };
    (judged, row)
}

/// Not one message from the target in the whole window, and errors: the target is down.
/// (A run's own test, no session opened, misses a target lost mid-search: the visitors of a
/// closed model are already started and only reconnect, so none starts in the window.) A
/// level that merely broke still answers something, if only late.
fn silent(summary: &Summary) -> bool {
    let received = summary
        .counters
        .get(Counter::MessagesReceived.name())
        .copied()
        .unwrap_or(0);
    received == 0 && summary.errors.values().any(|n| *n > 0)
}

/// A delivery check failed (as a check no threshold governs, or as a threshold on one).
fn is_delivery(failure: &Failure) -> bool {
    match failure {
        Failure::Check { exercised, .. } => *exercised,
        Failure::Threshold { name, .. } => Check::ALL.iter().any(|check| check.name() == name),
        Failure::Errors { .. } | Failure::Regression { .. } => false,
    }
}

/// The harness's health over a window as a run's health report, for `HarnessSummary::judge`:
/// the window is judged as a run of its own would be.
fn report(health: &WindowHealth) -> HealthReport {
    let seconds = &health.seconds;
    let busy: Vec<f64> = seconds
        .iter()
        .filter_map(|second| second.cpu_busy)
        .collect();
    let at = |q| {
        if health.lag.is_empty() {
            0
        } else {
            health.lag.value_at_quantile(q)
        }
    };
    HealthReport {
        cpu_seconds: 0.0,
        peak_rss_bytes: 0,
        cores: runtime::cores(),
        cpu_samples: busy.len() as u32,
        cpu_saturated_samples: busy.iter().filter(|busy| **busy >= SATURATED_SHARE).count() as u32,
        lag_p99_us: at(0.99),
        lag_max_us: if health.lag.is_empty() {
            0
        } else {
            health.lag.max()
        },
        seconds: seconds.iter().copied().collect(),
        closing: None,
        pace: None,
    }
}

/// Windows and health of a few seconds, for the tests of judging (here and `merge`'s).
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::measure::collector::totals_of;
    use crate::measure::{Metric, Recorder};

    /// Ten presence acks of 5 ms each, and `lost` signals lost.
    fn totals(lost: u64) -> Totals {
        acks(Duration::from_millis(5), lost)
    }

    /// Ten presence acks of `ack` each, and `lost` signals lost.
    pub(in crate::capacity) fn acks(ack: Duration, lost: u64) -> Totals {
        let recorder = Recorder::new();
        recorder.count(Counter::MessagesReceived, 10);
        for _ in 0..10 {
            recorder.latency(Metric::PresenceAck, ack);
        }
        recorder.count(Counter::SessionsOpened, 1);
        recorder.count(Counter::SignalsSent, 10);
        for _ in 0..lost {
            recorder.violation(Check::SignalsLost);
        }
        totals_of(recorder.drain())
    }

    fn thresholds(bound: &str) -> Vec<Threshold> {
        plan(bound).thresholds
    }

    /// A scenario whose presence acks are bound by `p99 < {bound}`.
    pub(in crate::capacity) fn plan(bound: &str) -> crate::scenario::Plan {
        let text = format!(
            "name: t\nduration: 10s\nload: {{ stages: [{{ hold: 10s }}] }}\n\
             behaviors: [{{ name: a, steps: [connect] }}]\n\
             thresholds:\n  presence_ack: [\"p99 < {bound}\"]\n"
        );
        crate::scenario::from_str(&text, "t.yaml").unwrap()
    }

    /// Ten calm seconds, or ten with the harness's timers `lag_us` late throughout.
    pub(in crate::capacity) fn health(lag_us: u64) -> WindowHealth {
        let mut lag = crate::measure::new_histogram();
        lag.record_n(lag_us, 1000).unwrap();
        let seconds = (0..10)
            .map(|s| HealthSecond {
                start: Duration::from_secs(s),
                length: Duration::from_secs(1),
                lag_p99_us: lag_us,
                lag_max_us: lag_us,
                cpu_busy: Some(0.3),
                machine: None,
            })
            .collect();
        WindowHealth { seconds, lag }
    }

    fn judged(lost: u64, bound: &str, lag_us: u64) -> Judged {
        let window = (
            &totals(lost),
            Duration::from_secs(5),
            Duration::from_secs(10),
        );
        judge(
            window,
            (&health(lag_us), None),
            &thresholds(bound),
            (100.0, Phase::Step),
        )
        .0
    }

    #[test]
    fn a_level_holds_or_breaks_on_its_own_thresholds_and_checks() {
        assert_eq!(judged(0, "10ms", 500), Judged::Held);
        let Judged::Broken {
            reason,
            delivery: false,
        } = judged(0, "1ms", 500)
        else {
            panic!()
        };
        assert!(
            reason.contains("presence_ack \"p99 < 1ms\" measured"),
            "{reason}"
        );
        assert!(
            matches!(
                judged(2, "10ms", 500),
                Judged::Broken { delivery: true, .. }
            ),
            "a lost signal stops"
        );
    }

    #[test]
    fn a_level_with_errors_and_nothing_received_is_the_target_down() {
        let recorder = Recorder::new();
        recorder.error(crate::measure::ErrorKind::Connect);
        let window = (
            &totals_of(recorder.drain()),
            Duration::from_secs(5),
            Duration::from_secs(10),
        );
        let (judged, row, _) = judge(
            window,
            (&health(500), None),
            &thresholds("10ms"),
            (100.0, Phase::Narrow),
        );
        let Judged::TargetDown(reason) = judged else {
            panic!("{judged:?}")
        };
        assert_eq!(
            reason,
            "nothing received from the target for 10.0s, 1 errors"
        );
        assert_eq!(row.status, LevelStatus::TargetDown);
    }

    #[test]
    fn a_level_the_harness_lagged_through_is_harness_limited_even_when_it_broke() {
        assert!(matches!(
            judged(0, "10ms", 60_000),
            Judged::HarnessLimited(_)
        ));
        let Judged::HarnessLimited(reason) = judged(0, "1ms", 60_000) else {
            panic!("never a broken level")
        };
        assert!(reason.contains("scheduling lag"), "{reason}");
    }
}
