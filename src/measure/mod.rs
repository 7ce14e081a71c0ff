//! Measurement: contention-free recording ([`Recorder`]), the names of what is measured
//! ([`Metric`], [`Counter`]), and the [`collector`] that turns samples into intervals and
//! run totals. Formatting results is `report`'s job, not this module's.

pub mod collector;
mod metric;
mod recorder;
mod schedule;
mod subject;

pub use collector::{Interval, Live, Totals};
pub use metric::{Check, Counter, Metric};
pub use recorder::{new_histogram, Recorder, MAX_LATENCY_US, SIGNIFICANT_DIGITS};
pub use schedule::{charged_start, TIMER_SLACK};
pub use subject::Subject;
