//! `summary.json`: the run's results in a stable, documented schema (docs/reports.md) that
//! other tools, `compare` and CI gates read back.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::capacity::CapacitySummary;
use super::exercise::CheckResult;
use super::harness::HarnessSummary;
use super::latency_set::LatencySet;
use super::regression::BaselineResult;
use super::run_id::RunId;
use super::split::ShardInfo;
use super::threshold::ThresholdResult;
use super::transports::{self, TransportSummary};
use super::verdict::Verdict;
use crate::drill::EventReport;
use crate::measure::server_resources::ServerResources;
use crate::measure::{Check, Counter, Metric, Second, Totals};

/// Version of the summary schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One latency metric's distribution, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub unit: String,
    pub count: u64,
    /// Samples per second over the run.
    pub rate: f64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencySummary {
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

/// What the visitors of a run reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorSummary {
    pub started: u64,
    pub completed: u64,
    /// The most alive at once.
    pub peak: i64,
    /// When the first and the last session of the run opened, seconds from its start: a
    /// connect storm opens `sessions_opened` in that span. Absent without sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_opened_s: Option<[f64; 2]>,
}

impl VisitorSummary {
    /// Sessions opened per second between the first and the last, when they took any time.
    pub fn opening_rate(&self, sessions_opened: u64) -> Option<f64> {
        let [first, last] = self.sessions_opened_s?;
        (last > first).then(|| sessions_opened as f64 / (last - first))
    }
}

/// The whole summary.json document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: u32,
    pub scenario: String,
    /// The run this summary is of (`report::run_id`): the same in every shard of one run and
    /// in their merge; absent for a whole run not given one (and in older summaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// RFC 3339 wall-clock start.
    pub started_at: String,
    pub duration_seconds: f64,
    /// What was loaded: `embedded (3 instances)` or a URL.
    pub target: String,
    pub visitors: VisitorSummary,
    /// Latencies by metric name; metrics without samples are left out.
    pub metrics: BTreeMap<String, LatencySummary>,
    /// Service times (from the actual send) of the request metrics that have samples, by
    /// metric name, beside their latencies from intent in `metrics` (docs/reports.md).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service: BTreeMap<String, LatencySummary>,
    pub counters: BTreeMap<String, u64>,
    /// Delivery-guarantee violations by check name (docs/protocol.md section 3); zero is a pass.
    #[serde(default)]
    pub checks: BTreeMap<String, u64>,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// The visitors split by transport (`report::transports`); absent in older summaries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transports: BTreeMap<String, TransportSummary>,
    /// The scenario's thresholds against what was measured (see `report::threshold`).
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// The delivery checks no threshold governs, judged, with whether each was exercised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_results: Vec<CheckResult>,
    /// The comparison with `--baseline`, one result per metric; left out without a baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline: Vec<BaselineResult>,
    /// How the run ended, why, and its exit code (docs/ci.md); absent in older summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Verdict>,
    /// Why the run was stopped by a failing `abort_on_fail` threshold; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    /// The harness's own health and whether its numbers can be trusted (docs/reports.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<HarnessSummary>,
    /// The target's CPU and memory over the run, from its metrics (`target.metrics_url`, or
    /// the embedded cluster's); absent when nothing was scraped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_resources: Option<ServerResources>,
    /// Drill events in start order (docs/drills.md); left out without a `drills` section.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<EventReport>,
    /// Every latency metric's histogram (`report::encoded`), so that summaries merge exactly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, String>,
    /// The same for the service times (`service`), so that they merge exactly too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_histograms: BTreeMap<String, String>,
    /// The latencies of each behavior of the scenario, by behavior name (docs/reports.md):
    /// the same figures and histograms as the overall ones above.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub behaviors: BTreeMap<String, LatencySet>,
    /// Per interval (a second): visitors alive, messages, errors; aligned across shards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Second>,
    /// Which shard of a split run this is (docs/distributed.md); absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// A merged summary: one row per shard; absent for a single run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardRow>,
    /// A merged run judged without some shards (`merge --allow-missing`): partial figures.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// A capacity search's levels and answer (`presence-bench capacity`, docs/capacity.md);
    /// absent for a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacitySummary>,
}

/// One shard of a merged run, for the per-shard table: a bad runner shows here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRow {
    pub index: u32,
    /// False when its summary was missing (a partial merge, `--allow-missing`).
    pub present: bool,
    pub visitors: u64,
    pub errors: u64,
    /// The shard's own harness verdict (`ok` or `limited`), empty when unknown.
    pub harness: String,
    /// The shard's own outcome status, as its summary.json says.
    pub status: String,
    pub start_lag_ms: Option<f64>,
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
