//! The end of a run, in two steps: every visitor first stops and settles what it has in flight
//! (a request's reply, a session opening under way), and only once all of them have settled
//! do they close their sessions, together.
//!
//! Closing tens of thousands of sessions at once keeps a process busy for a second or more
//! (run 7 of the 100k run: 16,667 closes per shard, lag up to 82 ms). When the closes ran
//! beside the last replies, those replies were read in that storm: timed late, or missed and
//! counted unanswered. Settled first, nothing is measured any more once the closing begins,
//! so the harness's health is judged up to that instant (`measure::health`), not after it.
//!
//! A visitor stopped earlier (the closed model ramping down) closes at once: the gate only
//! holds visitors that settle after the run's end began.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The run's closing as the visitors and the driver share it.
#[derive(Debug, Default)]
pub struct Closing {
    begun: AtomicBool,
    settled: AtomicUsize,
    arrived: Notify,
    closing: CancellationToken,
}

impl Closing {
    /// Called by a visitor once it has stopped and settled. After the run's end began, it
    /// waits there until every visitor has settled (the closing); before, it returns at once.
    pub async fn settled(&self) {
        if !self.begun.load(Ordering::Acquire) {
            return;
        }
        self.settled.fetch_add(1, Ordering::AcqRel);
        self.arrived.notify_one();
        self.closing.cancelled().await;
    }

    /// The driver: from now on, visitors that settle wait for [`Self::close`].
    pub fn begin(&self) {
        self.begun.store(true, Ordering::Release);
    }

    /// How many visitors have settled since [`Self::begin`].
    pub fn settled_count(&self) -> usize {
        self.settled.load(Ordering::Acquire)
    }

    /// Resolves after a visitor settled (perhaps an earlier one: re-read the count).
    pub async fn arrival(&self) {
        self.arrived.notified().await;
    }

    /// Lets every visitor close; the instant the measuring ended.
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Cancelled when the closing begins (for the health monitor).
    pub fn token(&self) -> CancellationToken {
        self.closing.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn before_the_end_a_settled_visitor_goes_on_at_once() {
        let closing = Closing::default();
        closing.settled().await;
        assert_eq!(
            closing.settled_count(),
            0,
            "a ramp-down is not the run's end"
        );
    }

    #[tokio::test]
    async fn after_the_end_began_visitors_wait_for_the_closing_together() {
        let closing = Arc::new(Closing::default());
        closing.begin();
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                tokio::spawn({
                    let closing = closing.clone();
                    async move { closing.settled().await }
                })
            })
            .collect();
        while closing.settled_count() < 3 {
            closing.arrival().await;
        }
        assert!(
            waiting.iter().all(|task| !task.is_finished()),
            "nobody closes before the closing"
        );
        closing.close();
        for task in waiting {
            task.await.unwrap();
        }
        assert!(closing.token().is_cancelled());
    }
}
