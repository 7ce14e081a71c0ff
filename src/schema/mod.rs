//! summary.json's shape: the [`Summary`] document and every type it holds, in one place,
//! documented field by field as docs/reports.md describes them. These files define the data
//! and its serde attributes only; what fills them in lives with the code that measures or
//! judges it (`report/` for the summary, the verdict and the capacity answer, `measure/` for
//! the server's resources, the machine's pace and the timeline, `drill/` for the drill
//! events), each as an `impl` beside its computation.
//!
//! It imports nothing else of the crate (`tests/it/layering.rs`), so that every module that
//! fills in a part of the document reaches it downward: `measure/` and `drill/` write parts
//! of it, and `report/` imports them, so the shape could not live in `report/` without a
//! circle. The names of metrics, counters and checks are map keys here as plain strings;
//! their vocabulary stays in `measure/`.

mod capacity;
mod drills;
mod harness;
mod judgement;
mod latency;
mod run_id;
mod server;
mod server_cost;
mod shards;
mod summary;
mod transports;

pub use capacity::{
    Answer, Broken, CapacitySummary, LevelRow, LevelStatus, Quantiles, Schedule, Slo,
};
pub use drills::{ActionResult, Causes, EventReport, Percentiles, WindowSignals};
pub use harness::{ClosingSummary, HarnessSummary, LagSummary, LimitedSpan, Neighbours, Pace};
pub use judgement::{BaselineResult, CheckResult, Status, ThresholdResult, Verdict};
pub use latency::{LatencySet, LatencySummary};
pub use run_id::{RunId, RunIdError};
pub use server::{CpuFigures, MemoryFigures, ProcessResources, ServerResources, WindowCost};
pub use server_cost::{Cost, Planned, ServerCost};
pub use shards::{ShardInfo, ShardRow};
pub use summary::{Second, Summary, VisitorSummary, SCHEMA_VERSION};
pub use transports::TransportSummary;
