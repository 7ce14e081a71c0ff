//! The reference Presence server: a cluster of instances in one process sharing one state,
//! a directory for `/locate` and admin routes. A guest in this crate: of the rest it imports
//! only the wire protocol (`wire`), the shared HTTP plumbing (`net`) and the process helpers
//! (`procfs`, `runtime`), never the harness (`tests/it/layering.rs`).
//!
//! - [`cluster`]: the `Cluster` handle (start, scale, kill, shutdown).
//! - `instance`, `routes`: one instance's listener and HTTP surface.
//! - `directory`, `discovery`, `placement`, `ring`: `/locate`, admin routes, consistent
//!   hashing.
//! - `session`: one task per presence session, whatever transport carries it.
//! - `sockjs`: the SockJS transports (WebSocket, xhr, xhr_streaming, eventsource) and raw
//!   WebSocket; `sockjs_test`: the SockJS test suite's services (`--sockjs-test-endpoints`).
//! - `state`: the one shared state.
//! - [`metrics`]: the server's own Prometheus metrics, served at the directory's `/metrics`.
//! - [`partition`]: `serve --processes P`, the server over P processes split by group.
//! - `faults`: deliberate protocol violations for testing the harness, off by default.

pub mod cluster;
mod directory;
mod discovery;
pub mod error;
mod faults;
pub mod instance;
pub mod metrics;
pub mod partition;
mod placement;
mod ring;
mod routes;
mod session;
pub mod settings;
mod sockjs;
mod sockjs_test;
mod state;

pub use cluster::Cluster;
pub use error::ServerError;
pub use instance::{InstanceInfo, InstanceState};
pub use settings::Settings;
