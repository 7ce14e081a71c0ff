//! summary.json's `capacity` section (docs/capacity.md): the levels a capacity search held,
//! each judged on its own window, and the answer with its evidence. The search is the
//! `capacity` module's, the judging and the table `report::capacity`'s.
//!
//! Three answers are kept apart by type, so that no output can mistake one for another: a
//! capacity the server set ([`Answer::Capacity`], or [`Answer::Below`] the range), a lower
//! bound the harness set ([`Answer::AtLeast`]), and no verdict ([`Answer::NoVerdict`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::server::WindowCost;
use super::server_cost::ServerCost;
use super::summary::Summary;

/// The `capacity` section of summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySummary {
    /// `visitors` (closed model: visitors alive at once) or `arrivals/s` (open model).
    pub unit: String,
    /// The search's range, and the relative resolution it narrows the answer to.
    pub from: f64,
    pub to: f64,
    pub resolution: f64,
    /// `--require N`: the exit code says whether the answer reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<f64>,
    /// `--plan-for N`: the load `server_cost` sizes the server processes for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_for: Option<f64>,
    /// The latency bounds each level was judged by, so that a report drawn from summary.json
    /// alone (the HTML report) can draw the SLO beside the levels' latencies: the search's
    /// thresholds are judged per level, and the run's own `thresholds` are left empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<Slo>,
    pub answer: Answer,
    /// What the server paid, from the levels' `server` figures (`report::server_cost`).
    pub server_cost: ServerCost,
    /// Every level, in the order run.
    pub levels: Vec<LevelRow>,
    /// A split search's fixed staircase (`capacity::schedule`); absent for a search in one
    /// process, which bisects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// The staircase of a split search, the same on every shard (recorded in each shard's
/// summary.json, where `merge` refuses shards of different schedules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Every level, ascending.
    pub levels: Vec<f64>,
    /// Each level's warm-up (not judged), then its judged plateau, seconds.
    pub warmup_s: f64,
    pub hold_s: f64,
}

/// A latency threshold of the whole run's metric (`presence_ack: ["p99 < 50ms"]`). Those of
/// one behavior are left out: the levels record the whole window's latencies, not a
/// behavior's, and a behavior's bound drawn over them would mislead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub metric: String,
    /// As written: `p99 < 50ms`.
    pub expression: String,
    /// The bound, microseconds.
    pub bound_us: f64,
}

/// A level that broke, and why (the first failure of its window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Broken {
    pub load: f64,
    pub reason: String,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// Server-bound: the SLOs held at `load` (confirmed with a longer plateau) and broke at
    /// `first_broken` (none: the range's top held). `narrowed` is false when the search
    /// stopped before reaching the resolution (a delivery check failed).
    Capacity {
        load: f64,
        first_broken: Option<Broken>,
        narrowed: bool,
    },
    /// Server-bound: the range's first level already broke.
    Below { first_broken: Broken },
    /// Harness-bound: the harness was the limit from `limited_at` on; the server held up to
    /// `load` (none: not even the first level could be judged).
    AtLeast {
        load: Option<f64>,
        limited_at: f64,
        reason: String,
    },
    /// Neither: the target went down, or the search was interrupted.
    NoVerdict {
        reason: String,
        #[serde(default)]
        target_down: bool,
    },
}

/// How one level was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelStatus {
    Held,
    Broken,
    HarnessLimited,
    TargetDown,
}

/// One level of the search: its load and what its judged window measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelRow {
    /// `step` (the staircase), `narrow` (bisecting the bracket) or `confirm`.
    pub phase: String,
    pub load: f64,
    /// The judged window, in seconds from the start of the run (after the level's warm-up).
    pub from_s: f64,
    pub to_s: f64,
    /// The most visitors alive at once in the window.
    pub visitors_peak: i64,
    /// p50 and p99 of each latency metric with samples, microseconds.
    pub metrics: BTreeMap<String, Quantiles>,
    pub errors: u64,
    /// Delivery-check violations counted in the window.
    pub check_violations: u64,
    /// The worst one-second scheduling-lag p99 of the harness in the window, microseconds.
    pub harness_lag_p99_us: u64,
    /// What each server process paid over the window, from the target's metrics; `null`
    /// without them.
    pub server: Option<WindowCost>,
    pub status: LevelStatus,
    /// Why it did not hold; empty when it did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A shard's level only: its window's own summary (encoded histograms, counters, checks,
    /// errors, the harness judged over it), which `merge` adds up with the other shards'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Box<Summary>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantiles {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
}
