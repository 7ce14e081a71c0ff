//! The target's own CPU and memory, from its Prometheus metrics (scraped and folded by
//! `measure::server_resources`): over the whole run (`server_resources`), and over a window
//! of it (a capacity level's `server`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What was learnt of the target's resources; summary.json's `server_resources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerResources {
    pub url: String,
    /// Scrapes answered, and scrapes that failed (no answer, not 200, no process series).
    pub scrapes: u64,
    pub failed: u64,
    /// Memory's slope is fitted from this far into the run on (a fifth of `duration`).
    pub steady_from_s: f64,
    /// Per process: the `process` label's value, or `server` when the series carry none.
    pub processes: BTreeMap<String, ProcessResources>,
}

/// One server process's CPU and memory over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessResources {
    /// CPU seconds per second between consecutive scrapes (1.0: one core busy).
    pub cpu: Option<CpuFigures>,
    pub memory: MemoryFigures,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuFigures {
    pub intervals: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryFigures {
    pub samples: u64,
    /// Resident bytes at the first and the last sample of the steady part (0 without one).
    pub steady_first_bytes: u64,
    pub last_bytes: u64,
    pub max_bytes: u64,
    /// Least-squares slope over the steady part, bytes per hour; `None` with under 3 samples
    /// there.
    pub slope_bytes_per_hour: Option<f64>,
}

/// What the server paid over a window of the run (a capacity level's plateau), per process:
/// the mean over the processes measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowCost {
    /// Processes with both series in the window (a partitioned server's each, or the one
    /// `server`).
    pub processes: u32,
    /// CPU seconds per second, from the first to the last scrape of the window.
    pub cpu_s_per_s: f64,
    /// Resident memory, the mean of the window's scrapes.
    pub memory_bytes: u64,
}
