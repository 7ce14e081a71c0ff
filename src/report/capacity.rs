//! What a capacity search found, said: the exit code its answer earns, the answer in one line
//! and the terminal table of its levels. The search itself is the `capacity` module's, and
//! summary.json's `capacity` section (the answer's three kinds kept apart by type) is
//! `schema`'s; this module only says what it found.

use std::fmt::Write;
use std::time::Duration;

use super::server_cost;
use super::table::micros;
use crate::measure::Subject;
use crate::scenario::{Threshold, Unit};
use crate::schema::{Answer, CapacitySummary, LevelStatus, Schedule, Slo, Status, Verdict};

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
            Answer::Capacity {
                load: at,
                first_broken: Some(broken),
                narrowed: true,
            } => format!(
                "capacity {} (±{:.0}%); first broken at {}: {}",
                load(*at),
                self.resolution * 100.0,
                shown(broken.load, unit),
                broken.reason
            ),
            Answer::Capacity {
                load: at,
                first_broken: Some(broken),
                narrowed: false,
            } => format!(
                "capacity {} (not narrowed further: the search stopped); broken at {}: {}",
                load(*at),
                shown(broken.load, unit),
                broken.reason
            ),
            Answer::Capacity {
                load: at,
                first_broken: None,
                ..
            } => {
                format!(
                    "capacity at least {}: the top of the range held (raise --to)",
                    load(*at)
                )
            }
            Answer::Below { first_broken } => format!(
                "capacity below {}: the first level broke: {}",
                shown(first_broken.load, unit),
                first_broken.reason
            ),
            Answer::AtLeast {
                load: Some(at),
                limited_at,
                reason,
            } => format!(
                "capacity at least {}: the harness was the limit from {} on ({reason}); add \
                 --processes, or shards on more machines",
                load(*at),
                shown(*limited_at, unit)
            ),
            Answer::AtLeast {
                load: None,
                limited_at,
                reason,
            } => format!(
                "no capacity measured: the harness was the limit from the first level, {} \
                 ({reason}); lower --from, add --processes, or shards on more machines",
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
    use crate::schema::{Broken, ServerCost};

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
                "capacity 760 visitors (±5%); first broken at 800 visitors: \
                 presence_ack \"p99 < 100ms\" measured 131ms"
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
        let text = "name: t\nduration: 10s\nload: { stages: [{ hold: 10s }] }\n\
                    behaviors: [{ name: a, steps: [connect] }]\n\
                    thresholds:\n  presence_ack: [\"p99 < 50ms\", \"rate > 5/s\"]\n  \
                    presence_ack{behavior:a}: [\"p99 < 9ms\"]\n  errors: [\"count == 0\"]\n";
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
