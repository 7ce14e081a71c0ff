//! A load level set while the run goes, instead of read from the scenario's stages: what
//! `capacity` drives one continuous run with, so that the visitors already connected stay
//! connected from one level to the next (no reconnect storm between steps) and each level
//! can be chosen from how the one before it went.
//!
//! The level is in the scenario's own dimension: visitors alive for a closed model, arrivals
//! per second for an open one. The steering side ends the run with [`Steer::finish`]: that is
//! the run's planned end, not an interruption.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A move from one level to another, linear over `over` from `at`.
#[derive(Debug, Clone, Copy)]
struct Ramp {
    from: f64,
    to: f64,
    at: Instant,
    over: Duration,
}

impl Ramp {
    fn level(&self, now: Instant) -> f64 {
        let done = now.saturating_duration_since(self.at).as_secs_f64()
            / self.over.as_secs_f64().max(1e-9);
        self.from + (self.to - self.from) * done.min(1.0)
    }
}

/// The side that sets the level (the capacity search).
#[derive(Debug)]
pub struct Steer {
    level: watch::Sender<Ramp>,
    done: CancellationToken,
}

/// The side that follows it (the load driver).
#[derive(Debug, Clone)]
pub struct Steering {
    level: watch::Receiver<Ramp>,
    done: CancellationToken,
}

/// A steer and its steering, starting at `level`.
pub fn steer(level: f64) -> (Steer, Steering) {
    let ramp = Ramp {
        from: level,
        to: level,
        at: Instant::now(),
        over: Duration::ZERO,
    };
    let (tx, rx) = watch::channel(ramp);
    let done = CancellationToken::new();
    (
        Steer {
            level: tx,
            done: done.clone(),
        },
        Steering { level: rx, done },
    )
}

impl Steer {
    /// Moves the load to `level`, linearly over `over` from now (from wherever it is), so
    /// that a step up is not a burst of connects at one instant.
    pub fn set(&self, level: f64, over: Duration) {
        let now = Instant::now();
        self.level.send_modify(|ramp| {
            *ramp = Ramp {
                from: ramp.level(now),
                to: level,
                at: now,
                over,
            }
        });
    }

    /// Ends the run: the search has its answer.
    pub fn finish(&self) {
        self.done.cancel();
    }
}

impl Steering {
    /// The level now.
    pub fn level(&self) -> f64 {
        self.level.borrow().level(Instant::now())
    }

    /// Cancelled when the steering side has finished.
    pub fn done(&self) -> &CancellationToken {
        &self.done
    }
}
