//! "Can the numbers be trusted?": the harness's own health over the run and second by second
//! (see `intervals`), and a plain verdict when the harness itself was the bottleneck (its
//! latencies then include its own queueing), naming when and which drill windows it touched.

use std::collections::BTreeMap;

use super::intervals;
use crate::measure::health::{HealthReport, SATURATED_SHARE};
use crate::measure::ErrorKind;
use crate::schema::{ClosingSummary, EventReport, HarnessSummary, LagSummary, Neighbours};

/// Scheduling lag p99 above this over the run means timers and tasks ran late throughout:
/// latencies are inflated.
pub const LAG_P99_BOUND_US: u64 = 10_000;
/// The bound of a second's lag p99 (a lag storm): the monitor keeps the seconds over it.
pub use crate::measure::health::INTERVAL_LAG_P99_BOUND_US;
/// CPU saturated in at least this share of the one-second samples is a bottleneck.
pub const SATURATED_SAMPLES_BOUND: f64 = 0.2;
/// Error kinds that mean the harness ran out of file descriptors or ephemeral ports.
pub const LIMIT_ERRORS: &[(ErrorKind, &str)] = &[
    (
        ErrorKind::OpenFileLimit,
        "open-file limit reached (EMFILE/ENFILE)",
    ),
    (
        ErrorKind::EphemeralPorts,
        "ephemeral ports exhausted (EADDRNOTAVAIL; spread sockets with target.source_ips)",
    ),
];

impl HarnessSummary {
    /// Judges the run and each of its seconds; marks the `drills` whose windows overlap a
    /// second in which the harness lagged (`EventReport::harness_limited`).
    pub fn judge(
        health: &HealthReport,
        errors: &BTreeMap<String, u64>,
        drills: &mut [EventReport],
    ) -> Self {
        let share = if health.cpu_samples == 0 {
            0.0
        } else {
            f64::from(health.cpu_saturated_samples) / f64::from(health.cpu_samples)
        };
        let mut reasons = Vec::new();
        if health.cpu_samples >= 3 && share >= SATURATED_SAMPLES_BOUND {
            reasons.push(format!(
                "CPU saturated: the harness used at least {:.0}% of its {} cores in {} of {} \
                 seconds ({:.0}%)",
                SATURATED_SHARE * 100.0,
                health.cores,
                health.cpu_saturated_samples,
                health.cpu_samples,
                share * 100.0
            ));
        }
        if health.lag_p99_us > LAG_P99_BOUND_US {
            reasons.push(format!(
                "scheduling lag p99 {:.1} ms (max {:.1} ms) is over the {} ms bound: timers and \
                 tasks ran late",
                health.lag_p99_us as f64 / 1e3,
                health.lag_max_us as f64 / 1e3,
                LAG_P99_BOUND_US / 1000
            ));
        }
        let spans = intervals::limited_spans(&health.seconds.lagging, INTERVAL_LAG_P99_BOUND_US);
        if !spans.is_empty() {
            reasons.push(format!(
                "{}: scheduling lag p99 over {} ms there",
                intervals::summarize(&spans, health.seconds.count),
                INTERVAL_LAG_P99_BOUND_US / 1000
            ));
        }
        for event in intervals::flag_drills(&spans, drills) {
            reasons.push(format!(
                "drill event {event}: window affected, its figures include the harness's delays"
            ));
        }
        for (kind, meaning) in LIMIT_ERRORS {
            if let Some(n) = errors.get(kind.as_str()).filter(|n| **n > 0) {
                reasons.push(format!("{meaning}: {n} connects failed ({kind})"));
            }
        }
        HarnessSummary {
            cpu_seconds: health.cpu_seconds,
            cores: health.cores,
            cpu_saturated_share: share,
            peak_rss_bytes: health.peak_rss_bytes,
            scheduling_lag: LagSummary {
                unit: "us".into(),
                p99: health.lag_p99_us,
                max: health.lag_max_us,
            },
            verdict: if reasons.is_empty() {
                "trusted"
            } else {
                "harness_limited"
            }
            .into(),
            trusted: reasons.is_empty(),
            reasons,
            intervals: health.seconds.count,
            limited_intervals: spans,
            closing: health.closing.map(|closing| ClosingSummary {
                seconds: closing.length.as_secs_f64(),
                lag_max_us: closing.lag_max_us,
            }),
            neighbours: Neighbours::of(&health.seconds.others, health.cores),
            pace: health.pace,
        }
    }

    /// Why the harness is not trusted, in one line; `None` when it is.
    pub fn reason(&self) -> Option<String> {
        (!self.trusted).then(|| self.reasons.join("; "))
    }

    /// The lines the terminal report ends with.
    pub fn render(&self) -> String {
        let mut out = format!(
            "harness: cpu {:.1}s on {} cores, peak rss {:.1} MiB, scheduling lag p99 {:.2}ms max \
             {:.2}ms\n",
            self.cpu_seconds,
            self.cores,
            self.peak_rss_bytes as f64 / (1024.0 * 1024.0),
            self.scheduling_lag.p99 as f64 / 1e3,
            self.scheduling_lag.max as f64 / 1e3
        );
        if let Some(closing) = self.closing {
            out.push_str(&format!(
                "closing the sessions: {:.1}s, scheduling lag max {:.2}ms (not judged: every \
                 request was answered or counted unanswered before it)\n",
                closing.seconds,
                closing.lag_max_us as f64 / 1e3
            ));
        }
        if let Some(n) = self.neighbours.filter(|n| n.disturbance(0.0).is_some()) {
            out.push_str(&format!(
                "machine: other processes kept {:.2} cores busy on average besides this run, host \
                 steal {:.0}%\n",
                n.cores,
                n.steal * 100.0
            ));
        }
        if self.trusted {
            out.push_str(&format!(
                "harness verdict: trusted (the harness was not the bottleneck, judged over the run \
                 and {} one-second intervals)\n",
                self.intervals
            ));
        } else {
            out.push_str(
                "harness verdict: HARNESS-LIMITED: these numbers measure the harness, not \
                 only the server\n",
            );
            for reason in &self.reasons {
                out.push_str(&format!("  - {reason}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::health::{HealthSecond, HealthSeconds};

    /// Twenty calm seconds, with `lag_p99_us` in those `stormy` names.
    fn seconds(stormy: &[(usize, u64)]) -> HealthSeconds {
        (0..20)
            .map(|s| {
                let lag = stormy
                    .iter()
                    .find(|(at, _)| *at == s)
                    .map_or(1_000, |(_, lag)| *lag);
                HealthSecond {
                    start: Duration::from_secs(s as u64),
                    length: Duration::from_secs(1),
                    lag_p99_us: lag,
                    lag_max_us: lag.max(3_000),
                    cpu_busy: Some(0.4),
                    machine: None,
                }
            })
            .collect()
    }

    fn health() -> HealthReport {
        HealthReport {
            cpu_seconds: 10.0,
            peak_rss_bytes: 50 << 20,
            cores: 2,
            cpu_samples: 20,
            cpu_saturated_samples: 0,
            lag_p99_us: 1_100,
            lag_max_us: 3_000,
            seconds: seconds(&[]),
            closing: None,
            pace: None,
        }
    }

    #[test]
    fn one_lagging_second_limits_the_run_and_the_drill_window_it_touched() {
        // The whole run's lag p99 is fine (1.1 ms): only the per-second view sees the storm.
        let stormy = HealthReport {
            seconds: seconds(&[(5, INTERVAL_LAG_P99_BOUND_US), (12, 840_000)]),
            ..health()
        };
        let mut drills = vec![
            EventReport::window("kill", 11.0, 2.0),
            EventReport::window("kill", 15.0, 2.0),
        ];
        let summary = HarnessSummary::judge(&stormy, &BTreeMap::new(), &mut drills);
        assert!(!summary.trusted);
        assert_eq!(summary.verdict, "harness_limited");
        assert_eq!(summary.limited_intervals.len(), 1);
        let reason = summary.reason().expect("a reason");
        assert!(
            reason.contains("limited in 1 of 20 intervals (12.0s-13.0s: lag max 840.0 ms)"),
            "{reason}"
        );
        assert!(
            reason.contains("drill event kill at 11.0s: window affected"),
            "{reason}"
        );
        assert!(!reason.contains("kill at 15.0s"), "{reason}");
        assert!(drills[0].harness_limited.is_some() && drills[1].harness_limited.is_none());
        assert!(summary.render().contains("HARNESS-LIMITED"));
    }

    #[test]
    fn machine_limits_are_named_with_their_counts() {
        let limits = |errors: &BTreeMap<String, u64>| {
            HarnessSummary::judge(&health(), errors, &mut []).reasons
        };
        let mut errors = BTreeMap::new();
        assert_eq!(limits(&errors), Vec::<String>::new());
        errors.insert("timeout".to_owned(), 3);
        assert_eq!(
            limits(&errors),
            Vec::<String>::new(),
            "other errors are the server's business"
        );
        errors.insert(ErrorKind::OpenFileLimit.to_string(), 5);
        assert!(limits(&errors)[0]
            .contains("open-file limit reached (EMFILE/ENFILE): 5 connects failed"));
        errors.insert(ErrorKind::EphemeralPorts.to_string(), 2);
        let reasons = limits(&errors);
        assert!(
            reasons[1].contains("ephemeral ports exhausted")
                && reasons[1].contains("2 connects failed")
        );
    }

    #[test]
    fn a_healthy_run_is_trusted() {
        let summary = HarnessSummary::judge(&health(), &BTreeMap::new(), &mut []);
        assert_eq!(summary.verdict, "trusted");
        assert!(summary.trusted && summary.reason().is_none() && summary.intervals == 20);
        assert!(summary.render().contains("trusted"));
    }

    #[test]
    fn each_bottleneck_is_named_with_its_figure() {
        let busy = HealthReport {
            cpu_saturated_samples: 15,
            lag_p99_us: 23_400,
            ..health()
        };
        let errors = BTreeMap::from([(ErrorKind::OpenFileLimit.to_string(), 12)]);
        let summary = HarnessSummary::judge(&busy, &errors, &mut []);
        assert_eq!(summary.verdict, "harness_limited");
        assert_eq!(summary.reasons.len(), 3, "{:?}", summary.reasons);
        assert!(
            summary.reasons[0].contains("15 of 20 seconds (75%)"),
            "{}",
            summary.reasons[0]
        );
        assert!(
            summary.reasons[1].contains("23.4 ms"),
            "{}",
            summary.reasons[1]
        );
        assert!(
            summary.reasons[2].contains("12 connects"),
            "{}",
            summary.reasons[2]
        );
        assert!(summary.render().contains("HARNESS-LIMITED"));
    }
}
