//! `presence-bench capacity`: the largest load at which a scenario's SLOs hold (its
//! thresholds, its delivery checks, no ungoverned error), each load level judged on its own.
//!
//! The search is one continuous run of the scenario (`run::run_with`), not a run per level:
//! the level is set while the run goes (`engine::steer`), so the visitors already connected
//! stay connected from one level to the next, as they would on a real site. Each level is a
//! warm-up (not judged) and a plateau, judged on the plateau's own window (`measure::window`).
//! The search (`search`) climbs a staircase, bisects the bracket to the resolution, then
//! confirms the answer on a longer plateau (docs/capacity.md). A shard of a split search
//! (`Options::shard`) walks a fixed staircase instead (`schedule`), and `merge` (`merge`)
//! judges the shards' levels added up.

pub mod level;
pub mod merge;
pub mod schedule;
pub mod search;
pub mod watch;

use std::time::Duration;

use tokio::sync::oneshot;

use crate::engine::steer;
use crate::measure::server_resources::Feed;
use crate::report::server_cost::Source;
use crate::report::verdict::Ending;
use crate::run::{self, Extension, Options, RunError, RunResult};
use crate::scenario::{Destination, Load, Plan};
use crate::schema::{Answer, CapacitySummary, ServerCost, Slo, Summary, Verdict};
use crate::shutdown::Shutdown;
use search::{Next, Range, Search, MAX_LEVELS};
use watch::{lock, Course, Record, Watch};

/// The search's settings; `None` ranges take the defaults [`Settings::range`] says.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub step: f64,
    pub resolution: f64,
    pub timing: Timing,
    pub require: Option<f64>,
    /// `--plan-for`: a load to estimate the server processes of, from what each paid.
    pub plan_for: Option<f64>,
}

/// How long each level is held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Not judged: the connects of a step up, or the backlog of a broken level above, settle.
    pub warmup: Duration,
    /// The judged plateau of each level.
    pub hold: Duration,
    /// The judged plateau of the confirmation.
    pub confirm: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        let hold = Duration::from_secs(10);
        Settings {
            from: None,
            to: None,
            step: 2.0,
            resolution: 0.05,
            timing: Timing {
                warmup: Duration::from_secs(5),
                hold,
                confirm: hold * 3,
            },
            require: None,
            plan_for: None,
        }
    }
}

/// A setting the search cannot run with.
#[derive(Debug, thiserror::Error)]
#[error("capacity: {0}")]
pub struct SettingsError(String);

/// The load dimension of `plan`'s model: its unit, and whether levels are whole numbers.
fn dimension(load: &Load) -> (&'static str, bool) {
    match load {
        Load::Stages(_) => ("visitors", true),
        Load::ArrivalRate { .. } => ("arrivals/s", false),
    }
}

/// The scenario's own load: its peak level (closed) or its arrival rate (open).
fn scenario_load(load: &Load) -> f64 {
    match load {
        Load::Stages(stages) => stages
            .iter()
            .map(|stage| f64::from(stage.to.max(stage.from)))
            .fold(0.0, f64::max),
        Load::ArrivalRate { per_second, .. } => *per_second,
    }
}

/// Where the server's cost comes from: the target's metrics, or the embedded cluster's, which
/// are the harness's process too.
pub fn source_of(plan: &Plan) -> Source {
    match (&plan.target.metrics_url, &plan.target.destination) {
        (None, Destination::Embedded(_)) => Source::Metrics {
            harness_included: true,
        },
        (Some(_), _) => Source::Metrics {
            harness_included: false,
        },
        (None, _) => Source::NoMetrics,
    }
}

impl Settings {
    /// The range searched over `plan`: `--to` defaults to 4 times the scenario's own load,
    /// `--from` to a sixteenth of `--to` (four doublings below it).
    pub fn range(&self, plan: &Plan) -> Result<Range, SettingsError> {
        let bad = |text: String| Err(SettingsError(text));
        let (_, whole) = dimension(&plan.load);
        let to = self
            .to
            .unwrap_or_else(|| (scenario_load(&plan.load) * 4.0).max(1.0));
        let from = self
            .from
            .unwrap_or(if whole { (to / 16.0).ceil() } else { to / 16.0 });
        if !(from > 0.0 && from.is_finite()) {
            return bad(format!("--from must be above 0, found {from}"));
        }
        if !(to > from && to.is_finite()) {
            return bad(format!("--to ({to}) must be above --from ({from})"));
        }
        if !(self.resolution > 0.0 && self.resolution < 0.5) {
            return bad(format!(
                "--resolution must be between 0% and 50%, found {}%",
                self.resolution * 100.0
            ));
        }
        if !(self.step > 1.0 && self.step.is_finite()) {
            return bad(format!("--step must be above 1, found {}", self.step));
        }
        if let Some(load) = self
            .plan_for
            .filter(|load| !(*load > 0.0 && load.is_finite()))
        {
            return bad(format!("--plan-for must be a load above 0, found {load}"));
        }
        let Timing { hold, confirm, .. } = self.timing;
        if hold < Duration::from_secs(2) || confirm < hold {
            return bad(format!(
                "--hold must be at least 2s (judged per second), and --confirm at least --hold; \
                 found {} and {}",
                humantime::format_duration(hold),
                humantime::format_duration(confirm)
            ));
        }
        Ok(Range {
            from,
            to,
            step: self.step,
            resolution: self.resolution,
            whole,
        })
    }
}

/// Searches the capacity of `plan`'s target: one run, judged level by level, reported as a
/// run is (`options`: the outputs), with the answer as its verdict and in summary.json's
/// `capacity` section.
pub async fn search(
    mut plan: Plan,
    settings: &Settings,
    options: Options,
    shutdown: Shutdown,
) -> Result<RunResult, RunError> {
    let range = settings
        .range(&plan)
        .map_err(|err| RunError::Invalid(err.to_string()))?;
    if plan.drills.is_some() {
        return Err(RunError::Invalid(
            "capacity: the scenario has drills; a capacity search holds steady levels (remove the \
             `drills` section)"
                .into(),
        ));
    }
    let timing = settings.timing;
    // Judged per level, never on the run so far: nothing aborts on the cumulative figures.
    for threshold in &mut plan.thresholds {
        threshold.abort_after = None;
    }
    let (unit, _) = dimension(&plan.load);
    let schedule = options
        .shard
        .is_split()
        .then(|| schedule::staircase(range, timing.warmup, timing.hold))
        .transpose()
        .map_err(|err| RunError::Invalid(err.to_string()))?;
    let (course, first) = match &schedule {
        Some(schedule) => {
            eprintln!(
                "capacity: a split search walks a fixed schedule: {}",
                schedule.describe(unit)
            );
            // The steering ends the run at the schedule's end; the margin is never reached.
            plan.duration = schedule.length() + timing.hold;
            let (walk, first) = schedule::Walk::start(schedule.clone());
            (Course::Walk(walk, schedule.level_length()), first)
        }
        None => {
            // Long enough for any search; the steering ends the run when the search has its
            // answer.
            plan.duration = (timing.warmup + timing.confirm) * MAX_LEVELS as u32;
            let (search, first) = Search::start(range);
            (Course::Search(search), first)
        }
    };
    let Next::Level { load, phase } = first else {
        unreachable!("a search starts with a level")
    };
    // From nothing up to the first level over half its warm-up, as every step after it.
    let (steer, steering) = steer::steer(0.0);
    steer.set(load, timing.warmup / 2);
    let (health_tx, health_rx) = oneshot::channel();
    let record = std::sync::Arc::new(std::sync::Mutex::new(Record::default()));
    let shown = shown_metrics(&plan);
    let slos = Slo::of(&plan.thresholds);
    let source = source_of(&plan);
    let feed = (source != Source::NoMetrics).then(Feed::default);
    let watch = Watch::new(
        (course, (load, phase)),
        steer,
        (timing, plan.thresholds.clone(), unit),
        (health_rx, feed.clone()),
        record.clone(),
    );
    let (settings, start) = (settings.clone(), std::time::Instant::now());
    // summary.json on stdout (`--summary-json -`) keeps stdout for itself, as `run` does.
    let table_on_stderr = options.gate.summary_json.as_deref() == Some(std::path::Path::new("-"));
    let judge = move |summary: &mut Summary, ending: &Ending| -> Verdict {
        let mut record = lock(&record);
        let answer = match (&ending.target_down, record.answer.take()) {
            (Some(reason), _) => Answer::NoVerdict {
                reason: reason.clone(),
                target_down: true,
            },
            (None, Some(answer)) => answer,
            (None, None) => Answer::NoVerdict {
                reason:
                    "stopped before the search had its answer; the table shows the levels judged"
                        .into(),
                target_down: false,
            },
        };
        let levels = std::mem::take(&mut record.levels);
        let capacity = CapacitySummary {
            unit: unit.to_owned(),
            from: range.from,
            to: range.to,
            resolution: range.resolution,
            require: settings.require,
            plan_for: settings.plan_for,
            slos,
            server_cost: ServerCost::of(&levels, &answer, unit, settings.plan_for, &source),
            answer,
            levels,
            schedule,
        };
        conclude(summary, capacity, &shown, start.elapsed(), table_on_stderr)
    };
    let extension = Extension {
        observers: vec![Box::new(watch)],
        steering: Some(steering),
        health: Some(health_tx),
        server_feed: feed,
        judge: Some(Box::new(judge)),
    };
    run::run_with(plan, options, shutdown, extension).await
}

/// Prints a search's table of levels and its answer (on stderr when stdout is summary.json's),
/// and makes them the run's (`summary`'s capacity section and verdict): how a search in one
/// process ends, and how `merge` ends a split one.
pub fn conclude(
    summary: &mut Summary,
    capacity: CapacitySummary,
    shown: &[String],
    took: Duration,
    table_on_stderr: bool,
) -> Verdict {
    let verdict = capacity.verdict();
    let report = format!(
        "capacity of {} on {}: {} levels in {:.0}s\n\n{}{}",
        summary.scenario,
        summary.target,
        capacity.levels.len(),
        took.as_secs_f64(),
        capacity.render(shown),
        verdict.line()
    );
    if table_on_stderr {
        eprintln!("{report}");
    } else {
        println!("{report}");
    }
    summary.capacity = Some(capacity);
    summary.outcome = Some(verdict.clone());
    verdict
}

/// The latency metrics the table shows: those the thresholds bound, else `presence_ack`.
pub fn shown_metrics(plan: &Plan) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for threshold in &plan.thresholds {
        if let crate::measure::Subject::Metric(metric) = threshold.subject {
            if !names.iter().any(|name| name == metric.name()) {
                names.push(metric.name().to_owned());
            }
        }
    }
    if names.is_empty() {
        names.push(crate::measure::Metric::PresenceAck.name().to_owned());
    }
    names
}
