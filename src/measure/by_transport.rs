//! The split of a run by transport: which transport a sample came from, for the report's
//! per-transport table, summary.json and the `transport` label in Prometheus.
//!
//! A visitor runs inside [`scope`] with its transport's name, and the recorder looks the
//! name up when it records the few figures that are split (visitors started, sessions
//! opened, errors, and the [`SPLIT`] latencies). A task-local rather than a parameter: the
//! figures are recorded from a dozen places in the visitor, which then need not know about
//! the split at all, and a sample outside any visitor (an agent's) is simply not split.

use std::future::Future;

use super::metric::Metric;

/// The latencies recorded per transport as well as in total: what a transport changes.
pub const SPLIT: [Metric; 2] = [Metric::Connect, Metric::PresenceAck];

tokio::task_local! {
    static TRANSPORT: &'static str;
}

/// Runs `future` (a visitor) with its samples split under `transport`. A plain function,
/// not an `async fn`: that would hold `future` twice (as its argument, and inside the scope),
/// doubling the size of every visitor's task.
pub fn scope<F: Future>(transport: &'static str, future: F) -> impl Future<Output = F::Output> {
    TRANSPORT.scope(transport, future)
}

/// The transport of the visitor recording, if a visitor is recording.
pub(super) fn current() -> Option<&'static str> {
    TRANSPORT.try_with(|transport| *transport).ok()
}

/// Whether `metric` is split by transport.
pub(super) fn is_split(metric: Metric) -> bool {
    SPLIT.contains(&metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_are_split_inside_a_scope_only() {
        assert_eq!(current(), None);
        assert_eq!(scope("xhr_polling", async { current() }).await, Some("xhr_polling"));
        assert!(is_split(Metric::PresenceAck) && !is_split(Metric::Blur));
    }

    #[test]
    fn a_scope_adds_a_few_bytes_to_a_visitor_not_a_second_copy() {
        let visitor = async {
            let held = [7u8; 2048];
            tokio::task::yield_now().await;
            held.len()
        };
        let alone = std::mem::size_of_val(&visitor);
        let scoped = scope("sockjs", visitor);
        // As an `async fn`, the scope held its argument and the scoped copy: twice the size
        // (the whole visitor task measured 11,264 bytes instead of 5,656 in a debug build).
        assert!(std::mem::size_of_val(&scoped) <= alone + 32, "{} for {alone}", std::mem::size_of_val(&scoped));
    }
}
