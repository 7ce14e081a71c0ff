//! The whole document, and the small parts of it that belong to no other concern: what the
//! visitors reached and the run's timeline.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::capacity::CapacitySummary;
use super::drills::EventReport;
use super::harness::HarnessSummary;
use super::judgement::{BaselineResult, CheckResult, ThresholdResult, Verdict};
use super::latency::{LatencySet, LatencySummary};
use super::run_id::RunId;
use super::server::ServerResources;
use super::shards::{ShardInfo, ShardRow};
use super::transports::TransportSummary;

/// Version of the summary schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

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

/// One interval of the run's timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Second {
    /// Visitors alive at the interval's end.
    pub visitors_live: i64,
    /// Messages sent and received in the interval.
    pub messages: u64,
    /// Errors in the interval.
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary.json with every section filled in, as written before the types moved here
    /// (issue 27). Baselines and CI histories already on disk are read back by this schema, and
    /// docs/reports.md documents it: names, order and what an empty section leaves out must
    /// stay as they are.
    const EVERY_SECTION: &str = include_str!("every_section.json");

    #[test]
    fn a_summary_with_every_section_writes_back_byte_for_byte() {
        let summary: Summary = serde_json::from_str(EVERY_SECTION).expect("the document reads");
        let written = serde_json::to_string_pretty(&summary).expect("it writes") + "\n";
        assert_eq!(written, EVERY_SECTION);
        for field in [
            "\"duration_seconds\": ",
            "\"sessions_opened_s\": ",
            "\"check_results\": ",
            "\"server_resources\": ",
            "\"peak_reconnects_per_s\": ",
        ] {
            assert!(written.contains(field), "{field} is gone");
        }
    }

    #[test]
    fn empty_sections_are_left_out() {
        let summary: Summary = serde_json::from_str(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":1.0,"target":"x",
                "visitors":{"started":0,"completed":0,"peak":0},"metrics":{},"counters":{},
                "errors":{}}"#,
        )
        .expect("a summary of a run that did nothing reads");
        let written = serde_json::to_string(&summary).expect("it writes");
        assert_eq!(
            written,
            concat!(
                r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":1.0,"#,
                r#""target":"x","visitors":{"started":0,"completed":0,"peak":0},"metrics":{},"#,
                r#""counters":{},"checks":{},"errors":{},"thresholds":[]}"#
            )
        );
    }
}
