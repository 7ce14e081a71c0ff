//! A load level set while the run goes, instead of read from the scenario's stages: what
//! `capacity` drives one continuous run with, so that the visitors already connected stay
//! connected from one level to the next (no reconnect storm between steps) and each level
//! can be chosen from how the one before it went.
//!
//! The level is in the scenario's own dimension: visitors alive for a closed model, arrivals
//! per second for an open one. The steering side ends the run with [`Steer::finish`]: that is
//! the run's planned end, not an interruption.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The side that sets the level (the capacity search).
#[derive(Debug)]
pub struct Steer {
    level: watch::Sender<f64>,
    done: CancellationToken,
}

/// The side that follows it (the load driver).
#[derive(Debug, Clone)]
pub struct Steering {
    level: watch::Receiver<f64>,
    done: CancellationToken,
}

/// A steer and its steering, starting at `level`.
pub fn steer(level: f64) -> (Steer, Steering) {
    let (tx, rx) = watch::channel(level);
    let done = CancellationToken::new();
    (Steer { level: tx, done: done.clone() }, Steering { level: rx, done })
}

impl Steer {
    /// Moves the load to `level` from the driver's next tick on.
    pub fn set(&self, level: f64) {
        self.level.send_replace(level);
    }

    /// Ends the run: the search has its answer.
    pub fn finish(&self) {
        self.done.cancel();
    }
}

impl Steering {
    /// The level now.
    pub fn level(&self) -> f64 {
        *self.level.borrow()
    }

    /// Cancelled when the steering side has finished.
    pub fn done(&self) -> &CancellationToken {
        &self.done
    }
}
