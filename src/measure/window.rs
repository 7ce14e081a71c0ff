//! A stretch of consecutive intervals added up on its own, apart from the run's totals: what
//! a load level of `capacity` is judged on, so that each level stands alone instead of being
//! blurred into every level before it (as a cumulative p99 would be).

use std::time::{Duration, SystemTime};

use super::collector::{into_totals, merge, Totals};
use super::observer::Snapshot;
use super::recorder::Recorded;

/// The intervals added so far, from the first one given.
pub struct Window {
    sum: Recorded,
    behaviors: Vec<String>,
    /// From the start of the run to the start of the window.
    pub start: Duration,
    /// From the start of the window to the end of its last interval.
    pub length: Duration,
    visitors_peak: i64,
    started_at: SystemTime,
}

impl Window {
    /// An empty window that begins where `snapshot`'s interval ends.
    pub fn after(snapshot: &Snapshot<'_>) -> Window {
        Window {
            sum: Recorded::new(snapshot.behaviors.len()),
            behaviors: snapshot.behaviors.to_vec(),
            start: snapshot.elapsed,
            length: Duration::ZERO,
            visitors_peak: 0,
            started_at: snapshot.started_at + snapshot.elapsed,
        }
    }

    /// Adds `snapshot`'s interval.
    pub fn add(&mut self, snapshot: &Snapshot<'_>) {
        merge(&mut self.sum, snapshot.interval);
        self.length = snapshot.elapsed.saturating_sub(self.start);
        self.visitors_peak = self.visitors_peak.max(snapshot.visitors_live);
    }

    /// The window's figures as a run's totals, so that they are summarised and judged the
    /// way a whole run's are.
    pub fn totals(&self) -> Totals {
        into_totals(
            self.sum.clone(),
            &self.behaviors,
            self.started_at,
            self.length,
            self.visitors_peak,
            Vec::new(),
        )
    }
}
