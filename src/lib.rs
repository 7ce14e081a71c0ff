//! presence-bench: a load-generation and benchmarking harness for Presence servers, with
//! an embedded reference Presence server cluster.
//!
//! Data moves one way: a scenario becomes a plan, a plan becomes tasks, tasks produce
//! samples, samples become a report: [`scenario`] -> [`run`] -> [`engine`] -> [`visitor`] /
//! [`agent`] -> [`measure`] (recorder, collector, observers) -> [`report`] (verdict).
//! docs/architecture.md draws the flow with the module of each step; [`run::run`] is a whole
//! run as one call.

pub mod agent;
pub mod capacity;
pub mod checks;
pub mod drill;
pub mod engine;
pub mod measure;
pub mod procfs;
pub mod protocol;
pub mod report;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod server;
pub mod session;
pub mod shard;
pub mod shutdown;
pub mod visitor;
