//! Which visitor a sample belongs to: its behavior and its transport. A visitor runs as one
//! task for its whole life, so both are set once for the task ([`as_visitor`]) and every
//! sample recorded from inside it, however deep (the session opener, the drill accounting,
//! the checks), is counted for them too, without arguments threaded through every recording
//! call. Samples recorded elsewhere (agents, the checks' own timers) belong to no visitor.
//! One task-local for both: one scope in every visitor's future, one lookup per sample.

use std::future::Future;

/// What a visitor's samples are counted under besides the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Visitor {
    /// Index into the plan's behaviors.
    behavior: usize,
    /// The transport's name (`measure::by_transport`); `None` where nothing is split.
    transport: Option<&'static str>,
}

tokio::task_local! {
    static VISITOR: Visitor;
}

/// Runs `future` as a visitor of behavior `behavior` (an index into the plan's behaviors)
/// on `transport`.
///
/// A plain function, not an `async fn`: wrapping the future in another state machine would
/// keep a second copy of it (rustc does not overlap a moved-in future with its awaited slot),
/// doubling every visitor's footprint.
pub fn as_visitor<F: Future>(
    behavior: usize,
    transport: &'static str,
    future: F,
) -> impl Future<Output = F::Output> {
    VISITOR.scope(
        Visitor {
            behavior,
            transport: Some(transport),
        },
        future,
    )
}

/// The behavior of the task recording now, if it is a visitor's.
pub(crate) fn current() -> Option<usize> {
    VISITOR.try_with(|visitor| visitor.behavior).ok()
}

/// The transport of the task recording now, if it is a visitor's.
pub(crate) fn transport() -> Option<&'static str> {
    VISITOR.try_with(|visitor| visitor.transport).ok().flatten()
}

/// Runs `f` as a visitor of behavior `behavior`, outside any task and any transport split
/// (benchmarks, tests).
pub fn sync_as_behavior<R>(behavior: usize, f: impl FnOnce() -> R) -> R {
    VISITOR.sync_scope(
        Visitor {
            behavior,
            transport: None,
        },
        f,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_knows_its_behavior_and_others_have_none() {
        assert_eq!(current(), None);
        assert_eq!(as_visitor(2, "sockjs", async { current() }).await, Some(2));
        assert_eq!(sync_as_behavior(1, current), Some(1));
        let spawned = tokio::spawn(as_visitor(3, "sockjs", async {
            tokio::task::yield_now().await;
            current()
        }));
        assert_eq!(spawned.await.unwrap(), Some(3), "kept across polls");
        assert_eq!(current(), None);
    }

    #[tokio::test]
    async fn samples_are_split_by_transport_inside_a_visitor_only() {
        assert_eq!(transport(), None);
        assert_eq!(
            as_visitor(0, "xhr_polling", async { transport() }).await,
            Some("xhr_polling")
        );
        assert_eq!(
            sync_as_behavior(1, transport),
            None,
            "a bench's samples are not split"
        );
    }

    #[test]
    fn a_scope_adds_a_few_bytes_to_a_visitor_not_a_second_copy() {
        let visitor = async {
            let held = [7u8; 2048];
            tokio::task::yield_now().await;
            held.len()
        };
        let alone = std::mem::size_of_val(&visitor);
        let scoped = as_visitor(0, "sockjs", visitor);
        // As an `async fn`, the scope held its argument and the scoped copy: twice the size
        // (the whole visitor task measured 11,264 bytes instead of 5,656 in a debug build).
        // One scope holds both tags (24 bytes) and its key: 48 bytes in all, where the two
        // scopes it replaces (behavior, transport) took up to 32 each.
        assert!(
            std::mem::size_of_val(&scoped) <= alone + 48,
            "{} for {alone}",
            std::mem::size_of_val(&scoped)
        );
    }
}
