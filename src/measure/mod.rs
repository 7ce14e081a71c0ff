//! Measurement: contention-free recording ([`Recorder`]), the names of what is measured
//! ([`Metric`], [`Counter`], [`Tally`] and the Prometheus [`names`]), the [`collector`] that
//! turns samples into intervals and run totals and feeds its [`observer`]s, the harness's
//! own [`health`], the target's [`server_resources`], and the [`prometheus`] export. Formatting
//! results is `report`'s job, not this module's.

pub mod attribution;
pub mod by_transport;
pub mod collector;
pub mod error_kind;
pub mod health;
mod health_seconds;
mod held;
pub mod label;
mod latencies;
pub mod machine;
mod metric;
pub mod names;
pub mod observer;
pub mod pace;
pub mod prometheus;
mod recorder;
mod schedule;
pub mod server_resources;
mod subject;
mod waiting;
pub mod window;

pub use collector::{Interval, Live, Totals};
pub use error_kind::ErrorKind;
pub use latencies::Latencies;
pub use metric::{Check, Counter, Metric, Tally};
pub use recorder::{
    latency_micros, new_histogram, record_duration, Recorder, MAX_LATENCY_US, SIGNIFICANT_DIGITS,
};
pub use schedule::{charged_start, next_intended, TIMER_RESOLUTION};
pub(crate) use subject::edit_distance;
pub use subject::{closest, Subject, ERROR_KIND_PREFIX};
pub use waiting::{Waiting, WaitingNow};
