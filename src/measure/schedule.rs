//! Timing scheduled actions from intent, the coordinated-omission correction.

use std::time::{Duration, Instant};

/// How late a timer may fire before the delay counts as latency (tokio's timer tick is 1 ms).
pub const TIMER_SLACK: Duration = Duration::from_millis(2);

/// The instant a scheduled action's latency is measured from. Timers fire up to one tick
/// late; that much lateness is the harness's clock, not the server, so it is forgiven.
/// Anything later (a visitor or agent held up by a slow reply) is charged: the action is
/// timed from when it was scheduled.
pub fn charged_start(scheduled: Instant, now: Instant) -> Instant {
    if now.saturating_duration_since(scheduled) <= TIMER_SLACK {
        now
    } else {
        scheduled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_lateness_is_forgiven_but_stalls_are_charged() {
        let scheduled = Instant::now();
        let on_time = scheduled + Duration::from_micros(900);
        assert_eq!(charged_start(scheduled, on_time), on_time);
        let stalled = scheduled + Duration::from_millis(500);
        assert_eq!(charged_start(scheduled, stalled), scheduled);
    }
}
