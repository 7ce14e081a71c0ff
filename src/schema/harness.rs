//! "Can the numbers be trusted?": the harness's own health over the run and in the seconds it
//! lagged, what the rest of the machine did meanwhile, and the machine's pace (summary.json's
//! `harness`).

use serde::{Deserialize, Serialize};

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
    /// The verdict as a boolean: false exactly when `verdict` is `harness_limited`.
    #[serde(default = "trusted_before_per_interval_verdicts")]
    pub trusted: bool,
    /// Why the verdict is `harness_limited`, each with the measured figure.
    pub reasons: Vec<String>,
    /// One-second intervals judged.
    #[serde(default)]
    pub intervals: usize,
    /// The intervals in which the harness lagged, merged into spans.
    #[serde(default)]
    pub limited_intervals: Vec<LimitedSpan>,
    /// The sessions' closing after the run, not judged (see `visitor::Closing`): how long it
    /// took and how late the harness's timers ran meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing: Option<ClosingSummary>,
    /// What the rest of the machine did meanwhile (absent without /proc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<Neighbours>,
    /// The machine's pace over the run: how long each part of a fixed piece of work took, the
    /// median second's fastest (`measure::pace`); `compare` scales runs of different paces to
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<Pace>,
}

/// The `harness.closing` section of summary.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClosingSummary {
    pub seconds: f64,
    pub lag_max_us: u64,
}

/// What a summary written before `trusted` existed is read as (its `verdict` still says what
/// it was; nothing that reads summaries back judges the harness).
fn trusted_before_per_interval_verdicts() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    pub unit: String,
    pub p99: u64,
    pub max: u64,
}

/// Consecutive seconds in which the harness's scheduling lag was over the bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitedSpan {
    /// From and to, in seconds from the start of the run.
    pub from_s: f64,
    pub to_s: f64,
    /// How many one-second intervals the span holds.
    pub intervals: u32,
    /// The largest lag in the span, microseconds.
    pub lag_max_us: u64,
    /// Whether the harness kept at least 90% of all cores busy in any of these seconds.
    pub cpu_saturated: bool,
    /// Whether the whole machine had no CPU to spare in any of these seconds.
    #[serde(default)]
    pub machine_saturated: bool,
    /// The largest share of the machine's CPU the host kept for itself (steal).
    #[serde(default)]
    pub steal_max: f64,
}

/// summary.json's `harness.neighbours`: the machine's CPU besides this process, on average
/// over the one-second samples that have both readings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neighbours {
    /// Cores kept busy by everything but this process (an embedded server is this process).
    pub cores: f64,
    /// Share of the machine's CPU time the host kept for itself.
    pub steal: f64,
}

/// The run's pace (`measure::pace`): each part of the probe's work, in microseconds, the
/// median second's fastest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pace {
    /// The walk over the buffer: arithmetic, branches, memory.
    pub compute_us: f64,
    /// The datagrams through the socket pair: system calls.
    pub syscalls_us: f64,
    /// One message to a thread waiting for it and its answer back, the median of the probe's
    /// round trips in a row: waking a thread that just went to sleep.
    pub wakeup_us: f64,
    /// The first of those round trips, after the probe slept between two timings: waking a
    /// thread (and maybe a core) that had nothing to do, which on a virtual machine goes
    /// through the host, as a message to a server that was idle does.
    #[serde(default)]
    pub cold_wakeup_us: f64,
}
