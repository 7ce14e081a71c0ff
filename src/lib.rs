//! presence-bench: a load-generation and benchmarking harness for Presence servers, with
//! an embedded reference Presence server cluster.
//!
//! Data moves one way: a scenario becomes a plan, a plan becomes tasks, tasks produce
//! samples, samples become a report: [`scenario`] -> [`run`] -> [`engine`] -> [`visitor`] /
//! [`agent`] -> [`measure`] (recorder, collector, observers) -> [`report`] (verdict).
//! summary.json's shape is [`schema`], below every module that fills a part of it in.
//! The module map, and how the folders may import each other, is docs/architecture.md, the
//! one place it is kept; [`run::run`] is a whole run as one call.

pub mod agent;
pub mod capacity;
pub mod checks;
pub mod client;
pub mod drill;
pub mod engine;
pub mod heap;
pub mod measure;
pub mod net;
pub mod procfs;
pub mod report;
pub mod run;
pub mod runtime;
pub mod scenario;
pub mod schema;
pub mod server;
pub mod session;
pub mod shard;
pub mod shutdown;
pub mod visitor;
pub mod wire;
