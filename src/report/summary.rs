//! `summary.json` made from a run's totals, written and read back. Its shape (docs/reports.md)
//! is `schema`'s; other tools, `compare` and CI gates read it back.

use std::path::Path;

use hdrhistogram::Histogram;

use super::transports;
use crate::measure::{Check, Counter, Metric, Totals};
use crate::schema::{LatencySet, LatencySummary, Summary, VisitorSummary, SCHEMA_VERSION};

impl LatencySummary {
    /// The figures of `histogram`, whose samples came over `seconds`.
    pub fn from_histogram(histogram: &Histogram<u64>, seconds: f64) -> Self {
        let count = histogram.len();
        let at = |q| {
            if count == 0 {
                0
            } else {
                histogram.value_at_quantile(q)
            }
        };
        LatencySummary {
            unit: "us".into(),
            count,
            rate: if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            },
            min: if count == 0 { 0 } else { histogram.min() },
            mean: if count == 0 { 0.0 } else { histogram.mean() },
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            p999: at(0.999),
            max: if count == 0 { 0 } else { histogram.max() },
        }
    }
}

impl VisitorSummary {
    /// Sessions opened per second between the first and the last, when they took any time.
    pub fn opening_rate(&self, sessions_opened: u64) -> Option<f64> {
        let [first, last] = self.sessions_opened_s?;
        (last > first).then(|| sessions_opened as f64 / (last - first))
    }
}

impl Summary {
    pub fn from_totals(scenario: &str, target: &str, totals: &Totals) -> Self {
        let seconds = totals.elapsed.as_secs_f64();
        let latencies = Metric::ALL
            .iter()
            .map(|metric| (metric.name(), totals.histogram(*metric)));
        let service = Metric::REQUESTS
            .iter()
            .filter_map(|metric| Some((metric.name(), totals.service(*metric)?)));
        let LatencySet {
            metrics,
            service,
            histograms,
            service_histograms,
        } = LatencySet::new(latencies, service, seconds);
        let behaviors = totals
            .behaviors()
            .map(|(name, set)| (name.to_owned(), LatencySet::of(set, seconds)))
            .collect();
        Summary {
            schema: SCHEMA_VERSION,
            scenario: scenario.to_owned(),
            run_id: None,
            started_at: humantime::format_rfc3339_millis(totals.started_at).to_string(),
            duration_seconds: seconds,
            target: target.to_owned(),
            visitors: VisitorSummary {
                started: totals.counter(Counter::VisitorsStarted),
                completed: totals.counter(Counter::VisitorsCompleted),
                peak: totals.visitors_peak,
                sessions_opened_s: totals
                    .openings
                    .map(|(first, last)| [first.as_secs_f64(), last.as_secs_f64()]),
            },
            metrics,
            service,
            counters: Counter::ALL
                .iter()
                .map(|c| (c.name().to_owned(), totals.counter(*c)))
                .collect(),
            checks: Check::ALL
                .iter()
                .map(|c| (c.name().to_owned(), totals.violations(*c)))
                .collect(),
            errors: totals
                .errors
                .iter()
                .map(|(kind, n)| ((*kind).to_owned(), *n))
                .collect(),
            transports: transports::from_totals(totals, seconds),
            thresholds: Vec::new(),
            check_results: Vec::new(),
            baseline: Vec::new(),
            outcome: None,
            aborted: None,
            harness: None,
            server_resources: None,
            drills: Vec::new(),
            histograms,
            service_histograms,
            behaviors,
            timeline: totals.timeline.clone(),
            shard: None,
            shards: Vec::new(),
            partial: false,
            capacity: None,
        }
    }

    /// Writes pretty JSON to `path`, whole or not at all: written beside it, then renamed over
    /// it, so a reader waiting for it (`merge --wait`) never takes half a summary.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        std::fs::write(&partial, json + "\n")?;
        std::fs::rename(&partial, path)
    }

    /// Reads a summary.json back.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|err| format!("{}: not a presence-bench summary: {err}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::new_histogram;

    #[test]
    fn latency_summary_reads_the_histogram() {
        let mut histogram = new_histogram();
        for v in 1..=1000u64 {
            histogram.record(v * 10).unwrap();
        }
        let summary = LatencySummary::from_histogram(&histogram, 10.0);
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.rate, 100.0);
        assert_eq!(summary.min, 10);
        assert!(
            (summary.p50 as i64 - 5000).abs() <= 5,
            "p50 {}",
            summary.p50
        );
        assert!(
            (summary.p99 as i64 - 9900).abs() <= 10,
            "p99 {}",
            summary.p99
        );
        assert!(
            (summary.max as i64 - 10000).abs() <= 10,
            "max {}",
            summary.max
        );
    }

    #[test]
    fn empty_histograms_give_zeros() {
        let summary = LatencySummary::from_histogram(&new_histogram(), 0.0);
        assert_eq!(
            (summary.count, summary.p99, summary.max, summary.rate),
            (0, 0, 0, 0.0)
        );
    }
}
