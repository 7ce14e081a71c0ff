//! The search's hand on the run: an interval observer that times each level (a warm-up not
//! judged, then the judged plateau), adds the plateau's intervals up into a window of its
//! own, judges it when the plateau is over, and sets the next level on the steering, until
//! the search has its answer and finishes the run. What the server paid over the plateau is
//! folded from the target's scrapes that fell in it (the warm-up's are dropped).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::level::{self, WindowHealth};
use super::schedule::Walk;
use super::search::{Judged, Next, Phase, Search};
use super::Timing;
use crate::engine::steer::Steer;
use crate::measure::health::{HealthHandle, HealthSecond};
use crate::measure::new_histogram;
use crate::measure::observer::{done, IntervalObserver, Observed, Snapshot};
use crate::measure::server_resources::{window_cost, Feed};
use crate::measure::window::Window;
use crate::scenario::Threshold;
use crate::schema::{Answer, LevelRow};

/// What the search found so far: shared with the judgement at the end of the run.
#[derive(Debug, Default)]
pub struct Record {
    pub levels: Vec<LevelRow>,
    pub answer: Option<Answer>,
}

/// The record, shared between the watch (writing) and the run's judgement (reading).
pub type Shared = Arc<Mutex<Record>>;

pub fn lock(record: &Shared) -> std::sync::MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What chooses the levels: the search of one process, or a split search's walk through its
/// fixed schedule (levels at fixed instants, each level's window kept for `merge`).
pub enum Course {
    /// One process: climbs, bisects, confirms.
    Search(Search),
    /// A shard of a split search: the schedule's levels, each lasting the duration given.
    Walk(Walk, Duration),
}

impl Course {
    fn judged(&mut self, judged: Judged) -> Next {
        match self {
            Course::Search(search) => search.judged(judged),
            Course::Walk(walk, _) => walk.judged(judged),
        }
    }
}

/// The level under way.
struct Level {
    load: f64,
    phase: Phase,
    /// When it was set, from the start of the run.
    since: Duration,
    /// Its judged plateau, once the warm-up is over.
    window: Option<Window>,
}

pub struct Watch {
    course: Course,
    steer: Steer,
    timing: Timing,
    thresholds: Vec<Threshold>,
    unit: &'static str,
    health: Option<HealthHandle>,
    health_rx: oneshot::Receiver<HealthHandle>,
    /// The monitor's seconds taken but not yet judged: those of the plateau under way.
    seconds: Vec<HealthSecond>,
    /// The target's scrapes, when it has metrics.
    server: Option<Feed>,
    level: Level,
    record: Shared,
}

impl Watch {
    /// A watch that starts at the course's first level (already set on `steer`).
    pub fn new(
        (course, first): (Course, (f64, Phase)),
        steer: Steer,
        (timing, thresholds, unit): (Timing, Vec<Threshold>, &'static str),
        (health_rx, server): (oneshot::Receiver<HealthHandle>, Option<Feed>),
        record: Shared,
    ) -> Watch {
        let level = Level {
            load: first.0,
            phase: first.1,
            since: Duration::ZERO,
            window: None,
        };
        Watch {
            course,
            steer,
            timing,
            thresholds,
            unit,
            health: None,
            health_rx,
            seconds: Vec::new(),
            server,
            level,
            record,
        }
    }

    fn step(&mut self, snapshot: &Snapshot<'_>) {
        if snapshot.last || lock(&self.record).answer.is_some() {
            return;
        }
        if self.health.is_none() {
            self.health = self.health_rx.try_recv().ok();
            if let Some(health) = &self.health {
                health.keep_window_seconds();
            }
        }
        let Some(window) = &mut self.level.window else {
            // The same slack as the plateau's: a collector tick a few milliseconds early
            // does not put the window a whole interval late.
            let warm = snapshot.elapsed.saturating_sub(self.level.since) + SLACK;
            if warm >= self.timing.warmup {
                self.level.window = Some(Window::after(snapshot));
                // The warm-up's lag and scrapes are not the window's.
                if let Some(health) = &self.health {
                    health.take_lag_window();
                }
                if let Some(server) = &self.server {
                    server.take();
                }
            }
            return;
        };
        window.add(snapshot);
        let hold = if self.level.phase == Phase::Confirm {
            self.timing.confirm
        } else {
            self.timing.hold
        };
        // An interval is a second give or take a few milliseconds of the collector's timer.
        if window.length + SLACK < hold {
            return;
        }
        let (start, length) = (window.start, window.length);
        // The health monitor's seconds are not the collector's intervals: those that overlap
        // the window by most of their length are the window's, and those after it the next's.
        let half = |second: &HealthSecond| second.start + second.length / 2;
        let health = self.health.as_ref().map_or_else(
            || WindowHealth {
                seconds: Vec::new(),
                lag: new_histogram(),
            },
            |health| {
                self.seconds.extend(health.take_window_seconds());
                WindowHealth {
                    seconds: self
                        .seconds
                        .iter()
                        .filter(|second| half(second) >= start && half(second) < start + length)
                        .copied()
                        .collect(),
                    lag: health.take_lag_window(),
                }
            },
        );
        self.seconds.retain(|second| half(second) >= start + length);
        let server = self.server.as_ref().and_then(|feed| {
            let scrapes = feed.take();
            let within: Vec<_> = scrapes
                .into_iter()
                .filter(|scrape| scrape.at >= start && scrape.at <= start + length)
                .collect();
            window_cost(&within)
        });
        let level = (self.level.load, self.level.phase);
        let window = (&window.totals(), start, length);
        let (judged, mut row, summary) =
            level::judge(window, (&health, server), &self.thresholds, level);
        eprintln!(
            "capacity: level {} ({}) {} {}: {}",
            lock(&self.record).levels.len() + 1,
            row.phase,
            row.load,
            self.unit,
            if row.reason.is_empty() {
                "held"
            } else {
                &row.reason
            }
        );
        if let Course::Walk(..) = self.course {
            row.window = Some(Box::new(summary));
        }
        lock(&self.record).levels.push(row);
        match self.course.judged(judged) {
            Next::Level { load, phase } => {
                // Ramped over half the warm-up: a step up is not a connect storm at one instant.
                self.steer.set(load, self.timing.warmup / 2);
                // A walk's levels begin at fixed instants, the same on every shard.
                let since = match self.course {
                    Course::Walk(_, length) => self.level.since + length,
                    Course::Search(_) => snapshot.elapsed,
                };
                self.level = Level {
                    load,
                    phase,
                    since,
                    window: None,
                };
            }
            Next::Done(answer) => {
                lock(&self.record).answer = Some(answer);
                self.steer.finish();
            }
        }
    }
}

/// How much shorter than the plateau a window may be and still count as the whole of it.
const SLACK: Duration = Duration::from_millis(100);

impl IntervalObserver for Watch {
    fn observe<'a>(&'a mut self, snapshot: &'a Snapshot<'_>) -> Observed<'a> {
        self.step(snapshot);
        done()
    }
}
