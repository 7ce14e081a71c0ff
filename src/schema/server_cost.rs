//! What the server paid in a capacity search, summary.json's `capacity.server_cost`: the cost
//! per unit of load at the answer, and the server processes a load the user names
//! (`--plan-for`) would take, with the range of loads it was measured over beside it, so that
//! an extrapolation is never mistaken for a measurement (`report::server_cost` works it out).

use serde::{Deserialize, Serialize};

use super::server::WindowCost;

/// summary.json's `capacity.server_cost`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerCost {
    NotMeasured { reason: String },
    Measured(Cost),
}

/// The cost read at one level that held (the answer's), and what it says of a planned load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// The level it is read at, and how many server processes were measured there.
    pub at: f64,
    pub processes: u32,
    /// Each process's figures there.
    pub per_process: WindowCost,
    /// The load the costs below are per: 1000 (visitors) or 1 (arrival/s).
    pub per: f64,
    pub cpu_s_per_s: f64,
    pub memory_bytes: f64,
    /// The lowest and highest levels that held with figures: the range measured.
    pub measured_from: f64,
    pub measured_to: f64,
    pub harness_included: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Planned>,
}

/// `--plan-for LOAD`: the processes it takes, each at the load one held, and what they pay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    pub load: f64,
    pub processes: u64,
    pub cpu_s_per_s: f64,
    pub memory_bytes: f64,
    /// The capacity is a lower bound (the harness was the limit, or the range's top held):
    /// this many processes is at most what the load takes.
    pub at_most: bool,
    /// `load` is outside the range measured.
    pub extrapolated: bool,
}
