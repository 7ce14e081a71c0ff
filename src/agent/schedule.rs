//! An agent's share of an open-model rate: sends at fixed intervals, the agents of a run
//! offset from each other so that together they send evenly.

use std::time::{Duration, Instant};

/// Allowed backlog after a stall (a lost session): older sends are skipped, not burst out.
const MAX_BACKLOG: Duration = Duration::from_secs(1);

/// The send times of one agent.
#[derive(Debug)]
pub struct Schedule {
    interval: Duration,
    next: Instant,
}

impl Schedule {
    /// `per_second` for this agent, which is number `index` of `count`.
    pub fn new(per_second: f64, index: u32, count: u32) -> Self {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(1e-6));
        let offset = interval.mul_f64(f64::from(index) / f64::from(count.max(1)));
        Schedule {
            interval,
            next: Instant::now() + offset,
        }
    }

    /// When the next send is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// Takes the due send: answers when it was scheduled, and moves to the following one.
    pub fn advance(&mut self) -> Instant {
        let now = Instant::now();
        if now.saturating_duration_since(self.next) > MAX_BACKLOG {
            self.next = now - MAX_BACKLOG;
        }
        let scheduled = self.next;
        self.next += self.interval;
        scheduled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_spread_over_one_interval() {
        let first = Schedule::new(10.0, 0, 4);
        let third = Schedule::new(10.0, 2, 4);
        let gap = third.next().duration_since(first.next());
        assert!(
            gap >= Duration::from_millis(49) && gap <= Duration::from_millis(51),
            "{gap:?}"
        );
    }

    #[test]
    fn a_long_stall_is_not_burst_out() {
        let mut schedule = Schedule::new(100.0, 0, 1);
        schedule.next -= Duration::from_secs(10);
        let scheduled = schedule.advance();
        assert!(Instant::now().duration_since(scheduled) <= MAX_BACKLOG + Duration::from_millis(5));
    }
}
