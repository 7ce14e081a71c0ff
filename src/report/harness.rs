//! "Can the numbers be trusted?": the harness's own health over the run, and a plain verdict
//! when the harness itself was the bottleneck (its latencies then include its own queueing).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::measure::health::{HealthReport, SATURATED_SHARE};
use crate::protocol::client::{EPHEMERAL_PORTS, OPEN_FILE_LIMIT};

/// Scheduling lag p99 above this means timers and tasks ran late: latencies are inflated.
pub const LAG_P99_BOUND_US: u64 = 10_000;
/// CPU saturated in at least this share of the one-second samples is a bottleneck.
pub const SATURATED_SAMPLES_BOUND: f64 = 0.2;
/// Error kinds that mean the harness ran out of file descriptors or ephemeral ports.
pub const LIMIT_ERRORS: &[(&str, &str)] = &[
    (OPEN_FILE_LIMIT, "open-file limit reached (EMFILE/ENFILE)"),
    (EPHEMERAL_PORTS, "ephemeral ports exhausted (EADDRNOTAVAIL; spread sockets with target.source_ips)"),
];

/// The `harness` section of summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarnessSummary {
    pub cpu_seconds: f64,
    pub cores: usize,
    /// Share of one-second samples with at least 90% of all cores busy.
    pub cpu_saturated_share: f64,
    pub peak_rss_bytes: u64,
    pub scheduling_lag: LagSummary,
    /// `trusted`, or `harness_limited` when the harness was the bottleneck.
    pub verdict: String,
    /// Why the verdict is `harness_limited`, each with the measured figure.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    pub unit: String,
    pub p99: u64,
    pub max: u64,
}

impl HarnessSummary {
    pub fn judge(health: &HealthReport, errors: &BTreeMap<String, u64>) -> Self {
        let share = if health.cpu_samples == 0 {
            0.0
        } else {
            f64::from(health.cpu_saturated_samples) / f64::from(health.cpu_samples)
        };
        let mut reasons = Vec::new();
        if health.cpu_samples >= 3 && share >= SATURATED_SAMPLES_BOUND {
            reasons.push(format!(
                "CPU saturated: the harness used at least {:.0}% of its {} cores in {} of {} seconds ({:.0}%)",
                SATURATED_SHARE * 100.0,
                health.cores,
                health.cpu_saturated_samples,
                health.cpu_samples,
                share * 100.0
            ));
        }
        if health.lag_p99_us > LAG_P99_BOUND_US {
            reasons.push(format!(
                "scheduling lag p99 {:.1} ms (max {:.1} ms) is over the {} ms bound: timers and tasks ran late",
                health.lag_p99_us as f64 / 1e3,
                health.lag_max_us as f64 / 1e3,
                LAG_P99_BOUND_US / 1000
            ));
        }
        for (kind, meaning) in LIMIT_ERRORS {
            if let Some(n) = errors.get(*kind).filter(|n| **n > 0) {
                reasons.push(format!("{meaning}: {n} connects failed ({kind})"));
            }
        }
        HarnessSummary {
            cpu_seconds: health.cpu_seconds,
            cores: health.cores,
            cpu_saturated_share: share,
            peak_rss_bytes: health.peak_rss_bytes,
            scheduling_lag: LagSummary { unit: "us".into(), p99: health.lag_p99_us, max: health.lag_max_us },
            verdict: if reasons.is_empty() { "trusted" } else { "harness_limited" }.into(),
            reasons,
        }
    }

    /// The lines the terminal report ends with.
    pub fn render(&self) -> String {
        let mut out = format!(
            "harness: cpu {:.1}s on {} cores, peak rss {:.1} MiB, scheduling lag p99 {:.2}ms max {:.2}ms\n",
            self.cpu_seconds,
            self.cores,
            self.peak_rss_bytes as f64 / (1024.0 * 1024.0),
            self.scheduling_lag.p99 as f64 / 1e3,
            self.scheduling_lag.max as f64 / 1e3
        );
        if self.reasons.is_empty() {
            out.push_str("harness verdict: trusted (the harness was not the bottleneck)\n");
        } else {
            out.push_str("harness verdict: HARNESS-LIMITED: these numbers measure the harness, not only the server\n");
            for reason in &self.reasons {
                out.push_str(&format!("  - {reason}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> HealthReport {
        HealthReport {
            cpu_seconds: 10.0,
            peak_rss_bytes: 50 << 20,
            cores: 2,
            cpu_samples: 20,
            cpu_saturated_samples: 0,
            lag_p99_us: 1_100,
            lag_max_us: 3_000,
        }
    }

    #[test]
    fn machine_limits_are_named_with_their_counts() {
        let limits = |errors: &BTreeMap<String, u64>| HarnessSummary::judge(&health(), errors).reasons;
        let mut errors = BTreeMap::new();
        assert_eq!(limits(&errors), Vec::<String>::new());
        errors.insert("timeout".to_owned(), 3);
        assert_eq!(limits(&errors), Vec::<String>::new(), "other errors are the server's business");
        errors.insert(OPEN_FILE_LIMIT.to_owned(), 5);
        assert!(limits(&errors)[0].contains("open-file limit reached (EMFILE/ENFILE): 5 connects failed"));
        errors.insert(EPHEMERAL_PORTS.to_owned(), 2);
        let reasons = limits(&errors);
        assert!(reasons[1].contains("ephemeral ports exhausted") && reasons[1].contains("2 connects failed"));
    }

    #[test]
    fn a_healthy_run_is_trusted() {
        let summary = HarnessSummary::judge(&health(), &BTreeMap::new());
        assert_eq!(summary.verdict, "trusted");
        assert!(summary.render().contains("trusted"));
    }

    #[test]
    fn each_bottleneck_is_named_with_its_figure() {
        let busy = HealthReport { cpu_saturated_samples: 15, lag_p99_us: 23_400, ..health() };
        let errors = BTreeMap::from([(OPEN_FILE_LIMIT.to_owned(), 12)]);
        let summary = HarnessSummary::judge(&busy, &errors);
        assert_eq!(summary.verdict, "harness_limited");
        assert_eq!(summary.reasons.len(), 3, "{:?}", summary.reasons);
        assert!(summary.reasons[0].contains("15 of 20 seconds (75%)"), "{}", summary.reasons[0]);
        assert!(summary.reasons[1].contains("23.4 ms"), "{}", summary.reasons[1]);
        assert!(summary.reasons[2].contains("12 connects"), "{}", summary.reasons[2]);
        assert!(summary.render().contains("HARNESS-LIMITED"));
    }
}
