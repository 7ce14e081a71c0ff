//! Which behavior a sample belongs to. A visitor runs as one task for its whole life, so its
//! behavior is set once for the task ([`as_behavior`]) and every sample recorded from inside
//! it, however deep (the session opener, the drill accounting, the checks), is counted for that
//! behavior too, without a behavior argument threaded through every recording call. Samples
//! recorded elsewhere (agents, the checks' own timers) belong to no behavior.

use std::future::Future;

tokio::task_local! {
    /// Index into the plan's behaviors of the visitor whose task this is.
    static BEHAVIOR: usize;
}

/// Runs `future` as a visitor of behavior `behavior` (an index into the plan's behaviors).
///
/// A plain function, not an `async fn`: wrapping the future in another state machine would
/// keep a second copy of it (rustc does not overlap a moved-in future with its awaited slot),
/// doubling every visitor's footprint.
pub fn as_behavior<F: Future>(behavior: usize, future: F) -> impl Future<Output = F::Output> {
    BEHAVIOR.scope(behavior, future)
}

/// The behavior of the task recording now, if it is a visitor's.
pub(crate) fn current() -> Option<usize> {
    BEHAVIOR.try_with(|behavior| *behavior).ok()
}

/// Runs `f` as a visitor of behavior `behavior`, outside any task (benchmarks, tests).
pub fn sync_as_behavior<R>(behavior: usize, f: impl FnOnce() -> R) -> R {
    BEHAVIOR.sync_scope(behavior, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_knows_its_behavior_and_others_have_none() {
        assert_eq!(current(), None);
        assert_eq!(as_behavior(2, async { current() }).await, Some(2));
        assert_eq!(sync_as_behavior(1, current), Some(1));
        let spawned = tokio::spawn(as_behavior(3, async {
            tokio::task::yield_now().await;
            current()
        }));
        assert_eq!(spawned.await.unwrap(), Some(3), "kept across polls");
        assert_eq!(current(), None);
    }
}
