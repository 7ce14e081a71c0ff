//! The per-event drill report (summary.json's `drills`, docs/drills.md): what each event did
//! to the visitors, and how its action went.

use serde::{Deserialize, Serialize};

/// One drill event, as summary.json reports it. Times in seconds are from the start of the run
/// (`at_s`) or of the event (`back_*_s`, `window_s`); latencies are in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    pub at_s: f64,
    /// `scale_in`, `scale_out`, `kill`, or `observed` (watch mode).
    pub kind: String,
    /// Instances asked for (0 when observed).
    pub count: u32,
    /// The instances acted on, comma-separated, when known.
    pub server: String,
    /// How the action went; `None` when observed or cut off by the end of the run.
    pub action: Option<ActionResult>,
    /// How long the event's window stayed open.
    pub window_s: f64,
    /// Sessions lost while the window was open.
    pub affected: u64,
    pub back: u64,
    /// Lost sessions that were not back by the end of the run: zero on a healthy server.
    pub never_back: u64,
    /// When 99% (100%) of the affected sessions were back; `None` if they never were.
    pub back_99_s: Option<f64>,
    pub back_100_s: Option<f64>,
    pub reconnect_attempts: u64,
    /// The most attempts to open a session in one second of the window.
    pub peak_reconnects_per_s: u32,
    /// How spread the comebacks were: p10 to p90 of the times sessions were back, and the
    /// standard deviation of those times.
    pub spread_ms: f64,
    pub stddev_ms: f64,
    pub reconnect: Percentiles,
    pub causes: Causes,
    pub signals: WindowSignals,
    /// The harness lagged while the window was open (the spans, as in the harness verdict):
    /// the figures above include its own delays. `None` when it kept up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_limited: Option<String>,
}

/// How an event's action went, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    pub ok: bool,
    /// `HTTP 200`, `exit 0`, or what went wrong; one entry per instance, `; `-separated.
    pub detail: String,
    pub duration_ms: f64,
    /// The instances the event acted on, when the cluster or the action's answer names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
}

/// A distribution in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// Sessions back, by why they were lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Causes {
    pub drain: u64,
    pub kill: u64,
    pub other: u64,
}

/// What agents' signals went through during the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowSignals {
    pub delivery: Percentiles,
    /// Kept while the visitor was away and delivered after it came back.
    pub queued_delivery: Percentiles,
    pub lost: u64,
}
