//! Latency figures: one metric's distribution, and a set of them as summary.json carries it
//! (percentiles by metric, the service times of the requests, and both as encoded histograms
//! so that shards merge exactly). The run's overall figures are one such set, and each
//! behavior's (`behaviors`) another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// One behavior's latencies in summary.json (the overall ones are the same four maps, at the
/// top level of the document).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySet {
    /// By metric name; metrics without samples are left out.
    #[serde(default)]
    pub metrics: BTreeMap<String, LatencySummary>,
    /// Service times of the request metrics with samples.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service: BTreeMap<String, LatencySummary>,
    /// `metrics` as encoded histograms (`report::encoded`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, String>,
    /// `service` as encoded histograms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_histograms: BTreeMap<String, String>,
}
