//! The integration tests, as one test binary: one link instead of one per file on a
//! 2-core machine (issue 13), and the shared helper in `common` is compiled once with
//! every user in view, so an unused helper is a warning again.

mod common;

mod behaviors;
mod capacity;
mod capacity_split;
mod cluster;
mod delivery_checks;
mod docs_examples;
mod drills;
mod faults;
mod fuzz;
mod gate;
mod headers;
mod hostile;
mod html_report;
mod http_client;
mod http_transports;
mod http_visitors;
mod layering;
mod limits;
mod line_width;
mod metrics;
mod partition;
mod partition_locate;
mod progress_json;
mod run_api;
mod run_ctrl_c;
mod run_heartbeat;
mod run_length;
mod run_pacing;
mod run_reconnect;
mod run_steps;
mod run_tls;
mod run_transports;
mod scenario_params;
mod server_resources;
mod shards;
mod shutdown;
mod signals;
mod transport;
mod validate_cli;
mod visitor;
