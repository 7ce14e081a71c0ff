//! summary.json's `capacity` section and its terminal table: the levels a capacity search
//! held, each judged on its own window, and the answer with its evidence. The search itself
//! is the `capacity` module's; this module only says what it found.
//!
//! Three answers are kept apart by type, so that no output can mistake one for another: a
//! capacity the server set ([`Answer::Capacity`], or [`Answer::Below`] the range), a lower
//! bound the harness set ([`Answer::AtLeast`]), and no verdict ([`Answer::NoVerdict`]).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::server_cost::{self, ServerCost};
use super::table::micros;
use super::verdict::{Status, Verdict};
use crate::measure::server_resources::WindowCost;
use crate::measure::Subject;
use crate::scenario::{Threshold, Unit};

/// The `capacity` section of summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySummary {
    /// `visitors` (closed model: visitors alive at once) or `arrivals/s` (open model).
    pub unit: String,
    /// The search's range, and the relative resolution it narrows the answer to.
    pub from: f64,
    pub to: f64,
    pub resolution: f64,
    /// `--require N`: the exit code says whether the answer reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<f64>,
    /// `--plan-for N`: the load `server_cost` sizes the server processes for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_for: Option<f64>,
    /// The latency bounds each level was judged by, so that a report drawn from summary.json
    /// alone (the HTML report) can draw the SLO beside the levels' latencies: the search's
    /// thresholds are judged per level, and the run's own `thresholds` are left empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<Slo>,
    pub answer: Answer,
    /// What the server paid, from the levels' `server` figures (`report::server_cost`).
    pub server_cost: ServerCost,
    /// Every level, in the order run.
    pub levels: Vec<LevelRow>,
    /// A split search's fixed staircase (`capacity::schedule`); absent for a search in one
    /// process, which bisects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// The staircase of a split search, the same on every shard (recorded in each shard's
/// summary.json, where `merge` refuses shards of different schedules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Every level, ascending.
    pub levels: Vec<f64>,
    /// Each level's warm-up (not judged), then its judged plateau, seconds.
    pub warmup_s: f64,
    pub hold_s: f64,
}

impl Schedule {
    /// How long one level lasts, warm-up and plateau.
    pub fn level_length(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s + self.hold_s)
    }

    /// How long the whole schedule lasts.
    pub fn length(&self) -> Duration {
        self.level_length() * self.levels.len() as u32
    }

    /// In a few words, for messages: `12 levels 50..100 visitors, 5s + 10s each`.
    pub fn describe(&self, unit: &str) -> String {
        let (first, last) = (self.levels.first(), self.levels.last());
        format!(
            "{} levels {}..{} {unit}, {}s + {}s each",
            self.levels.len(),
            first.copied().unwrap_or_default(),
            last.copied().unwrap_or_default(),
            self.warmup_s,
            self.hold_s
        )
    }
}

/// A latency threshold of the whole run's metric (`presence_ack: ["p99 < 50ms"]`). Those of
/// one behavior are left out: the levels record the whole window's latencies, not a
/// behavior's, and a behavior's bound drawn over them would mislead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub metric: String,
    /// As written: `p99 < 50ms`.
    pub expression: String,
    /// The bound, microseconds.
    pub bound_us: f64,
}

impl Slo {
    /// The latency bounds of `thresholds`.
    pub fn of(thresholds: &[Threshold]) -> Vec<Slo> {
        thresholds
            .iter()
            .filter_map(|threshold| match &threshold.subject {
                Subject::Metric(metric)
                    if threshold.behavior.is_none()
                        && threshold.stat.unit(&threshold.subject) == Unit::Micros =>
                {
                    Some(Slo {
                        metric: metric.name().to_owned(),
                        expression: threshold.expression.clone(),
                        bound_us: threshold.bound,
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// A level that broke, and why (the first failure of its window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Broken {
    pub load: f64,
    pub reason: String,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// Server-bound: the SLOs held at `load` (confirmed with a longer plateau) and broke at
    /// `first_broken` (none: the range's top held). `narrowed` is false when the search
    /// stopped before reaching the resolution (a delivery check failed).
    Capacity {
        load: f64,
        first_broken: Option<Broken>,
        narrowed: bool,
    },
    /// Server-bound: the range's first level already broke.
    Below { first_broken: Broken },
    /// Harness-bound: the harness was the limit from `limited_at` on; the server held up to
    /// `load` (none: not even the first level could be judged).
    AtLeast {
        load: Option<f64>,
        limited_at: f64,
        reason: String,
    },
    /// Neither: the target went down, or the search was interrupted.
    NoVerdict {
        reason: String,
        #[serde(default)]
        target_down: bool,
    },
}

/// How one level was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelStatus {
    Held,
    Broken,
    HarnessLimited,
    TargetDown,
}

/// One level of the search: its load and what its judged window measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelRow {
    /// `step` (the staircase), `narrow` (bisecting the bracket) or `confirm`.
    pub phase: String,
    pub load: f64,
    /// The judged window, in seconds from the start of the run (after the level's warm-up).
    pub from_s: f64,
    pub to_s: f64,
    /// The most visitors alive at once in the window.
    pub visitors_peak: i64,
    /// p50 and p99 of each latency metric with samples, microseconds.
    pub metrics: BTreeMap<String, Quantiles>,
    pub errors: u64,
    /// Delivery-check violations counted in the window.
    pub check_violations: u64,
    /// The worst one-second scheduling-lag p99 of the harness in the window, microseconds.
    pub harness_lag_p99_us: u64,
    /// What each server process paid over the window, from the target's metrics; `null`
    /// without them.
    pub server: Option<WindowCost>,
    pub status: LevelStatus,
    /// Why it did not hold; empty when it did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A shard's level only: its window's own summary (encoded histograms, counters, checks,
    /// errors, the harness judged over it), which `merge` adds up with the other shards'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Box<super::Summary>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantiles {
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
}

impl CapacitySummary {
    /// The run's outcome, from the answer and `--require` (docs/capacity.md): 0 a capacity
    /// found that reaches the requirement (or none given), 1 a capacity below it, 3 no
    /// verdict on the server. A lower bound the harness set proves a requirement it reaches
    /// (exit 0), and proves nothing otherwise (exit 3).
    pub fn verdict(&self) -> Verdict {
        let line = self.answer_line();
        let meets = |load: f64| self.require.is_none_or(|require| load >= require);
        match &self.answer {
            Answer::Capacity { load, .. } if meets(*load) => Verdict::new(Status::Passed, line),
            Answer::Capacity { .. } | Answer::Below { .. } => Verdict::new(Status::Failed, line),
            Answer::AtLeast { load, .. } => {
                let proven = self
                    .require
                    .is_some_and(|require| load.is_some_and(|load| load >= require));
                Verdict {
                    exit_code: if proven { 0 } else { 3 },
                    ..Verdict::new(Status::HarnessLimited, line)
                }
            }
            Answer::NoVerdict {
                target_down: true, ..
            } => Verdict::new(Status::TargetDown, line),
            Answer::NoVerdict { .. } => Verdict::new(Status::Interrupted, line),
        }
    }

    /// The answer in one line, as the table ends with it.
    pub fn answer_line(&self) -> String {
        let unit = &self.unit;
        let load = |value: f64| shown(value, unit);
        let mut line = match &self.answer {
            Answer::Capacity { load: at, first_broken: Some(broken), narrowed: true } => format!(
                "capacity {} (±{:.0}%); first broken at {}: {}",
                load(*at),
                self.resolution * 100.0,
                shown(broken.load, unit),
                broken.reason
            ),
            Answer::Capacity { load: at, first_broken: Some(broken), narrowed: false } => format!(
                "capacity {} (not narrowed further: the search stopped); broken at {}: {}",
                load(*at),
                shown(broken.load, unit),
                broken.reason
            ),
            Answer::Capacity { load: at, first_broken: None, .. } => {
                format!("capacity at least {}: the top of the range held (raise --to)", load(*at))
            }
            Answer::Below { first_broken } => format!(
                "capacity below {}: the first level broke: {}",
                shown(first_broken.load, unit),
                first_broken.reason
            ),
            Answer::AtLeast { load: Some(at), limited_at, reason } => format!(
                "capacity at least {}: the harness was the limit from {} on ({reason}); add --processes, or shards on more machines",
                load(*at),
                shown(*limited_at, unit)
            ),
            Answer::AtLeast { load: None, limited_at, reason } => format!(
                "no capacity measured: the harness was the limit from the first level, {} ({reason}); lower --from, add --processes, or shards on more machines",
                shown(*limited_at, unit)
            ),
            Answer::NoVerdict { reason, .. } => format!("no verdict: {reason}"),
        };
        if let Some(require) = self.require {
            let _ = write!(line, "; required {}", shown(require, unit));
        }
        line
    }

    /// The table of levels, then the answer: what `capacity` prints.
    pub fn render(&self, shown_metrics: &[String]) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "{:>3} {:<8} {:>12} {:>6}",
            "#", "phase", self.unit, "peak"
        );
        for metric in shown_metrics {
            let _ = write!(out, " {:>22}", format!("{metric} p50/p99"));
        }
        let _ = writeln!(
            out,
            " {:>6} {:>6} {:>9} {:>20}  result",
            "errors", "checks", "lag p99", "server cpu, memory"
        );
        for (index, level) in self.levels.iter().enumerate() {
            let _ = write!(
                out,
                "{:>3} {:<8} {:>12} {:>6}",
                index + 1,
                level.phase,
                shown(level.load, ""),
                level.visitors_peak
            );
            for metric in shown_metrics {
                let figures = level.metrics.get(metric).map_or_else(
                    || "-".to_owned(),
                    |q| format!("{}/{}", micros(q.p50), micros(q.p99)),
                );
                let _ = write!(out, " {figures:>22}");
            }
            let result = match level.status {
                LevelStatus::Held => "held".to_owned(),
                LevelStatus::Broken => format!("BROKEN: {}", level.reason),
                LevelStatus::HarnessLimited => format!("HARNESS-LIMITED: {}", level.reason),
                LevelStatus::TargetDown => format!("TARGET DOWN: {}", level.reason),
            };
            let _ = writeln!(
                out,
                " {:>6} {:>6} {:>9} {:>20}  {result}",
                level.errors,
                level.check_violations,
                micros(level.harness_lag_p99_us),
                server_cost::cell(level.server.as_ref()),
            );
        }
        let _ = writeln!(out, "\n{}", self.answer_line());
        out.push_str(&self.server_cost.render(&self.unit, self.plan_for));
        out
    }
}

/// A load as shown: whole visitors, arrival rates to a tenth.
pub(super) fn shown(value: f64, unit: &str) -> String {
    let number = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(answer: Answer, require: Option<f64>) -> CapacitySummary {
        CapacitySummary {
            unit: "visitors".into(),
            from: 100.0,
            to: 1600.0,
            resolution: 0.05,
            require,
            plan_for: None,
            slos: Vec::new(),
            answer,
            server_cost: ServerCost::NotMeasured {
                reason: "no metrics_url".into(),
            },
            levels: Vec::new(),
            schedule: None,
        }
    }

    fn broken(load: f64) -> Broken {
        Broken {
            load,
            reason: "presence_ack \"p99 < 100ms\" measured 131ms".into(),
        }
    }

    #[test]
    fn each_answer_has_its_own_words_and_exit_code() {
        let found = Answer::Capacity {
            load: 760.0,
            first_broken: Some(broken(800.0)),
            narrowed: true,
        };
        let verdict = summary(found.clone(), None).verdict();
        assert_eq!(
            (verdict.status, verdict.exit_code, verdict.reason.as_str()),
            (
                Status::Passed,
                0,
                "capacity 760 visitors (±5%); first broken at 800 visitors: presence_ack \"p99 < 100ms\" measured 131ms"
            )
        );
        assert_eq!(
            summary(found.clone(), Some(1000.0)).verdict().exit_code,
            1,
            "below --require"
        );
        assert_eq!(
            summary(found, Some(700.0)).verdict().exit_code,
            0,
            "meets --require"
        );
        let below = summary(
            Answer::Below {
                first_broken: broken(100.0),
            },
            None,
        )
        .verdict();
        assert_eq!((below.status, below.exit_code), (Status::Failed, 1));

        let limited = Answer::AtLeast {
            load: Some(400.0),
            limited_at: 800.0,
            reason: "lag".into(),
        };
        let verdict = summary(limited.clone(), None).verdict();
        assert_eq!(
            (verdict.status, verdict.exit_code),
            (Status::HarnessLimited, 3)
        );
        assert!(verdict
            .reason
            .starts_with("capacity at least 400 visitors: the harness was the limit from 800"));
        assert!(
            !verdict.reason.contains('±'),
            "never a capacity: {}",
            verdict.reason
        );
        assert_eq!(
            summary(limited.clone(), Some(300.0)).verdict().exit_code,
            0,
            "the bound proves the requirement"
        );
        assert_eq!(
            summary(limited, Some(500.0)).verdict().exit_code,
            3,
            "and proves nothing above it"
        );

        let none = summary(
            Answer::NoVerdict {
                reason: "stopped".into(),
                target_down: false,
            },
            Some(1.0),
        )
        .verdict();
        assert_eq!((none.status, none.exit_code), (Status::Interrupted, 3));
        let down = summary(
            Answer::NoVerdict {
                reason: "refused".into(),
                target_down: true,
            },
            None,
        )
        .verdict();
        assert_eq!(
            (down.status, down.exit_code, down.reason.as_str()),
            (Status::TargetDown, 3, "no verdict: refused")
        );
    }

    #[test]
    fn the_slos_are_the_whole_run_s_latency_bounds() {
        let text = "name: t\nduration: 10s\nload: { stages: [{ hold: 10s }] }\nbehaviors: [{ name: a, steps: [connect] }]\n\
            thresholds:\n  presence_ack: [\"p99 < 50ms\", \"rate > 5/s\"]\n  presence_ack{behavior:a}: [\"p99 < 9ms\"]\n  errors: [\"count == 0\"]\n";
        let thresholds = crate::scenario::from_str(text, "t.yaml")
            .unwrap()
            .thresholds;
        let slo = Slo {
            metric: "presence_ack".into(),
            expression: "p99 < 50ms".into(),
            bound_us: 50_000.0,
        };
        assert_eq!(Slo::of(&thresholds), [slo]);
    }

    #[test]
    fn the_section_reads_back_as_written() {
        let written = summary(
            Answer::AtLeast {
                load: None,
                limited_at: 100.0,
                reason: "cpu".into(),
            },
            None,
        );
        let json = serde_json::to_string(&written).unwrap();
        assert!(json.contains(r#""kind":"at_least""#), "{json}");
        assert_eq!(
            serde_json::from_str::<CapacitySummary>(&json).unwrap(),
            written
        );
    }
}
