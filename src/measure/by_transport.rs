//! The split of a run by transport: which transport a sample came from, for the report's
//! per-transport table, summary.json and the `transport` label in Prometheus.
//!
//! A visitor runs inside `attribution::as_visitor` with its transport's name, and the recorder
//! looks the name up when it records the few figures that are split (visitors started, sessions
//! opened, errors, and the [`SPLIT`] latencies). A task-local rather than a parameter: the
//! figures are recorded from a dozen places in the visitor, which then need not know about
//! the split at all, and a sample outside any visitor (an agent's) is simply not split.

use super::metric::Metric;

/// The latencies recorded per transport as well as in total: what a transport changes.
pub const SPLIT: [Metric; 2] = [Metric::Connect, Metric::PresenceAck];

/// The transport of the visitor recording, if a visitor is recording (its task's
/// [`as_visitor`](super::attribution::as_visitor) scope).
pub(super) fn current() -> Option<&'static str> {
    super::attribution::transport()
}

/// Whether `metric` is split by transport.
pub(super) fn is_split(metric: Metric) -> bool {
    SPLIT.contains(&metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latencies_a_transport_changes_are_split() {
        assert!(
            is_split(Metric::PresenceAck) && is_split(Metric::Connect) && !is_split(Metric::Blur)
        );
    }
}
