//! A synchronised start: every shard does its preflight, then waits for the same wall-clock
//! instant (`--start-at`) and starts its schedule there, so interval `k` is the same second on
//! every shard without a coordinator. A shard that gets there too late does not run a shifted
//! schedule: it says by how much it missed the start and does not run at all.

use std::time::{Duration, SystemTime};

use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// How late a shard may start and still count as starting together with the others.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(1);

/// When the schedule starts, and how late it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartAt {
    pub at: SystemTime,
    pub tolerance: Duration,
}

/// The shard reached the start instant too late to start with the others.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "could not start at {}: {} late (tolerance {}); a shifted schedule would not line up with the \
     other shards, so none ran",
    humantime::format_rfc3339_millis(*at),
    format_late(*late),
    humantime::format_duration(*tolerance)
)]
pub struct LateStart {
    pub at: SystemTime,
    pub late: Duration,
    pub tolerance: Duration,
}

fn format_late(late: Duration) -> String {
    format!("{:.3}s", late.as_secs_f64())
}

impl StartAt {
    /// Waits until the start instant (or `stop`); answers how late it woke up, or
    /// [`LateStart`] when that is more than the tolerance.
    pub async fn wait(self, stop: &CancellationToken) -> Result<Duration, LateStart> {
        if let Ok(ahead) = self.at.duration_since(SystemTime::now()) {
            tokio::select! {
                _ = stop.cancelled() => return Ok(Duration::ZERO),
                _ = tokio::time::sleep(ahead) => {}
            }
        }
        self.lag(SystemTime::now())
    }

    /// How late `now` is for the start, checked against the tolerance.
    fn lag(self, now: SystemTime) -> Result<Duration, LateStart> {
        let late = now.duration_since(self.at).unwrap_or(Duration::ZERO);
        if late > self.tolerance {
            return Err(LateStart {
                at: self.at,
                late,
                tolerance: self.tolerance,
            });
        }
        Ok(late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_the_instant_and_measures_the_lag() {
        let at = SystemTime::now() + Duration::from_millis(150);
        let start = StartAt {
            at,
            tolerance: DEFAULT_TOLERANCE,
        };
        let lag = start.wait(&CancellationToken::new()).await.unwrap();
        assert!(SystemTime::now() >= at, "woke up before the start");
        assert!(lag < DEFAULT_TOLERANCE);
    }

    #[tokio::test]
    async fn a_start_missed_by_more_than_the_tolerance_is_refused_with_how_late() {
        let at = SystemTime::now() - Duration::from_secs(5);
        let start = StartAt {
            at,
            tolerance: DEFAULT_TOLERANCE,
        };
        let err = start.wait(&CancellationToken::new()).await.unwrap_err();
        assert!(err.late >= Duration::from_secs(5), "{err}");
        assert!(err.to_string().contains("late (tolerance 1s)"), "{err}");
        let slightly = StartAt {
            at: SystemTime::now() - Duration::from_millis(200),
            tolerance: DEFAULT_TOLERANCE,
        };
        assert!(
            slightly.lag(SystemTime::now()).is_ok(),
            "within the tolerance"
        );
    }
}
