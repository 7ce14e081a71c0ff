//! What the server paid in a capacity search, summary.json's `capacity.server_cost`: the cost
//! per unit of load at the answer (per 1,000 visitors, or per arrival a second), and the
//! server processes a load the user names (`--plan-for`) would take, with the range of loads
//! it was measured over beside it, so that an extrapolation is never mistaken for a
//! measurement. Arithmetic on the levels' figures only (`LevelRow::server`, per process over
//! each judged plateau); the scraping is `measure::server_resources`'.
//!
//! The processes are sized by the capacity, not by a budget of cores or bytes: each takes the
//! load it was seen to hold (the answer's, over the processes measured), and pays what it paid
//! there. That assumes the server scales out evenly; it says nothing of a shared backend.

use std::fmt::Write;

use crate::schema::{Answer, Cost, LevelRow, LevelStatus, Planned, ServerCost, WindowCost};

const MIB: f64 = 1_048_576.0;

/// Where the server's figures came from, or why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No `target.metrics_url`, and not an embedded cluster.
    NoMetrics,
    /// Scraped from the target's metrics; `harness_included` when the server runs in the
    /// harness's own process (embedded), whose figures are then both sides' together.
    Metrics { harness_included: bool },
}

/// The load a cost is given per in `unit`: 1,000 visitors, or one arrival a second.
fn per(unit: &str) -> f64 {
    if unit == "visitors" {
        1000.0
    } else {
        1.0
    }
}

/// The load a search's answer says held, and whether it is only a lower bound.
fn answered(answer: &Answer) -> Option<(f64, bool)> {
    match answer {
        Answer::Capacity {
            load, first_broken, ..
        } => Some((*load, first_broken.is_none())),
        Answer::AtLeast {
            load: Some(load), ..
        } => Some((*load, true)),
        Answer::AtLeast { load: None, .. } | Answer::Below { .. } | Answer::NoVerdict { .. } => {
            None
        }
    }
}

impl ServerCost {
    /// The search's cost: read at the answer's level (its last run, the confirmation), or
    /// without an answer at the highest level that held, which sizes nothing.
    pub fn of(
        levels: &[LevelRow],
        answer: &Answer,
        unit: &str,
        plan_for: Option<f64>,
        source: &Source,
    ) -> ServerCost {
        let harness_included = match source {
            Source::NoMetrics => {
                return ServerCost::NotMeasured {
                    reason: "no metrics_url".into(),
                }
            }
            Source::Metrics { harness_included } => *harness_included,
        };
        let held: Vec<(f64, WindowCost)> = levels
            .iter()
            .filter(|level| level.status == LevelStatus::Held)
            .filter_map(|level| Some((level.load, level.server?)))
            .collect();
        let Some(&(measured_to, highest)) = held.iter().max_by(|a, b| a.0.total_cmp(&b.0)) else {
            let reason = if levels.iter().any(|level| level.server.is_some()) {
                "no level held"
            } else {
                "no process_cpu_seconds_total and process_resident_memory_bytes scraped in any \
                 level"
            };
            return ServerCost::NotMeasured {
                reason: reason.into(),
            };
        };
        let measured_from = held
            .iter()
            .map(|(load, _)| *load)
            .fold(measured_to, f64::min);
        // The answer's level (the last run there: the confirmation); without an answer, the
        // highest that held, which gives a cost but sizes nothing.
        let at_answer = answered(answer).and_then(|(load, at_most)| {
            held.iter()
                .rev()
                .find(|(at, _)| *at == load)
                .map(|(at, cost)| (*at, *cost, Some(at_most)))
        });
        let (at, per_process, sizes) = at_answer.unwrap_or((measured_to, highest, None));
        let per = per(unit);
        let processes = per_process.processes;
        let scale = f64::from(processes) / at * per;
        let plan = plan_for.zip(sizes).map(|(load, at_most)| {
            let needed = (load * f64::from(processes) / at).ceil().max(1.0) as u64;
            Planned {
                load,
                processes: needed,
                cpu_s_per_s: needed as f64 * per_process.cpu_s_per_s,
                memory_bytes: needed as f64 * per_process.memory_bytes as f64,
                at_most,
                extrapolated: load < measured_from || load > measured_to,
            }
        });
        ServerCost::Measured(Cost {
            at,
            processes,
            per_process,
            per,
            cpu_s_per_s: per_process.cpu_s_per_s * scale,
            memory_bytes: per_process.memory_bytes as f64 * scale,
            measured_from,
            measured_to,
            harness_included,
            plan,
        })
    }

    /// The lines after the answer: the cost, and the plan's processes with their range.
    pub fn render(&self, unit: &str, plan_for: Option<f64>) -> String {
        let cost = match self {
            ServerCost::NotMeasured { reason } => {
                return format!("server cost: not measured ({reason})\n")
            }
            ServerCost::Measured(cost) => cost,
        };
        let shown = |load: f64| super::capacity::shown(load, unit);
        let mut out = format!(
            "server cost{}: {:.3} CPU s/s and {:.1} MiB per {}, read at {} on {} process{} ({})\n",
            if cost.harness_included {
                " (embedded: the harness's own CPU and memory included)"
            } else {
                ""
            },
            cost.cpu_s_per_s,
            cost.memory_bytes / MIB,
            if cost.per == 1.0 {
                "arrival/s".to_owned()
            } else {
                format!("1,000 {unit}")
            },
            shown(cost.at),
            cost.processes,
            if cost.processes == 1 { "" } else { "es" },
            cell(Some(&cost.per_process)).trim(),
        );
        let range = if cost.measured_from == cost.measured_to {
            format!("measured at {} only", shown(cost.measured_to))
        } else {
            format!(
                "measured from {} to {}",
                shown(cost.measured_from),
                shown(cost.measured_to)
            )
        };
        match (&cost.plan, plan_for) {
            (Some(plan), _) => {
                let _ = writeln!(
                    out,
                    "for {}: {}{} server process{} of {} each, {:.2} CPU s/s and {:.1} MiB in all; \
                     {range}{}",
                    shown(plan.load),
                    if plan.at_most { "at most " } else { "" },
                    plan.processes,
                    if plan.processes == 1 { "" } else { "es" },
                    shown(cost.at / f64::from(cost.processes)),
                    plan.cpu_s_per_s,
                    plan.memory_bytes / MIB,
                    if plan.extrapolated { ", extrapolated beyond" } else { "" },
                );
            }
            (None, Some(load)) => {
                let _ = writeln!(
                    out,
                    "for {}: no estimate, no capacity found to size by; {range}",
                    shown(load)
                );
            }
            (None, None) => {}
        }
        out
    }
}

/// A level's cost in the table: CPU s/s and memory of each process, `-` when not measured.
/// Thousandths of a core: an idle level's few milliseconds a second are not 0.
pub fn cell(cost: Option<&WindowCost>) -> String {
    cost.map_or_else(
        || "-".to_owned(),
        |cost| {
            format!(
                "{:.3} s/s {:.1} MiB",
                cost.cpu_s_per_s,
                cost.memory_bytes as f64 / MIB
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Broken;

    const METRICS: Source = Source::Metrics {
        harness_included: false,
    };

    fn level(load: f64, status: LevelStatus, server: Option<(f64, u64)>) -> LevelRow {
        LevelRow {
            phase: "step".into(),
            load,
            from_s: 0.0,
            to_s: 1.0,
            visitors_peak: load as i64,
            metrics: Default::default(),
            errors: 0,
            check_violations: 0,
            harness_lag_p99_us: 0,
            server: server.map(|(cpu_s_per_s, memory_bytes)| WindowCost {
                processes: 2,
                cpu_s_per_s,
                memory_bytes,
            }),
            status,
            reason: String::new(),
            window: None,
        }
    }

    fn capacity(load: f64) -> Answer {
        Answer::Capacity {
            load,
            first_broken: Some(Broken {
                load: 440.0,
                reason: "p99".into(),
            }),
            narrowed: true,
        }
    }

    /// Two processes measured: 200 visitors held on 0.1 s/s and 64 MiB each, 400 on 0.2 s/s
    /// and 96 MiB each, 440 broke.
    fn levels() -> Vec<LevelRow> {
        vec![
            level(200.0, LevelStatus::Held, Some((0.1, 64 << 20))),
            level(440.0, LevelStatus::Broken, Some((0.9, 128 << 20))),
            level(400.0, LevelStatus::Held, Some((0.2, 96 << 20))),
        ]
    }

    #[test]
    fn the_cost_is_read_at_the_answer_and_sizes_the_planned_load_by_what_a_process_held() {
        let ServerCost::Measured(cost) = ServerCost::of(
            &levels(),
            &capacity(400.0),
            "visitors",
            Some(1000.0),
            &METRICS,
        ) else {
            panic!("measured")
        };
        assert_eq!((cost.at, cost.processes, cost.per), (400.0, 2, 1000.0));
        // Two processes of 0.2 s/s for 400 visitors: 1 s/s per 1,000; 2 x 96 MiB: 480 MiB.
        assert!((cost.cpu_s_per_s - 1.0).abs() < 1e-9, "{cost:?}");
        assert!((cost.memory_bytes - 480.0 * MIB).abs() < 1.0, "{cost:?}");
        assert_eq!(
            (cost.measured_from, cost.measured_to),
            (200.0, 400.0),
            "held levels only"
        );
        let plan = cost.plan.clone().expect("a plan");
        // 200 visitors a process: 5 processes for 1,000, each paying what one paid at 400.
        assert_eq!(
            (plan.processes, plan.at_most, plan.extrapolated),
            (5, false, true)
        );
        assert!(
            (plan.cpu_s_per_s - 1.0).abs() < 1e-9 && (plan.memory_bytes - 480.0 * MIB).abs() < 1.0,
            "{plan:?}"
        );
        let text = ServerCost::Measured(cost).render("visitors", Some(1000.0));
        assert!(
            text.contains(
                "1.000 CPU s/s and 480.0 MiB per 1,000 visitors, read at 400 visitors on \
                 2 processes"
            ),
            "{text}"
        );
        assert!(
            text.contains("for 1000 visitors: 5 server processes of 200 visitors each")
                && text.contains("measured from 200 visitors to 400 visitors, extrapolated beyond"),
            "{text}"
        );
    }

    #[test]
    fn a_lower_bound_sizes_at_most_and_no_answer_sizes_nothing() {
        let at_least = Answer::AtLeast {
            load: Some(400.0),
            limited_at: 800.0,
            reason: "lag".into(),
        };
        let ServerCost::Measured(cost) =
            ServerCost::of(&levels(), &at_least, "visitors", Some(300.0), &METRICS)
        else {
            panic!()
        };
        let plan = cost.plan.expect("a plan");
        assert_eq!(
            (plan.processes, plan.at_most, plan.extrapolated),
            (2, true, false)
        );
        let below = Answer::Below {
            first_broken: Broken {
                load: 200.0,
                reason: "p99".into(),
            },
        };
        let none = ServerCost::of(&levels(), &below, "visitors", Some(300.0), &METRICS);
        let ServerCost::Measured(cost) = &none else {
            panic!()
        };
        assert_eq!(
            (cost.at, cost.plan.is_none()),
            (400.0, true),
            "the highest held: a cost, no size"
        );
        assert!(none
            .render("visitors", Some(300.0))
            .contains("for 300 visitors: no estimate"));
        // An open model's cost is per arrival a second.
        let ServerCost::Measured(cost) =
            ServerCost::of(&levels(), &capacity(400.0), "arrivals/s", None, &METRICS)
        else {
            panic!()
        };
        assert!((cost.cpu_s_per_s - 0.001).abs() < 1e-12, "{cost:?}");
    }

    #[test]
    fn without_metrics_or_figures_the_cost_says_why_it_was_not_measured() {
        let answer = capacity(400.0);
        let none = ServerCost::of(
            &levels(),
            &answer,
            "visitors",
            Some(1000.0),
            &Source::NoMetrics,
        );
        assert_eq!(
            none.render("visitors", Some(1000.0)),
            "server cost: not measured (no metrics_url)\n"
        );
        let bare: Vec<LevelRow> = levels()
            .into_iter()
            .map(|level| LevelRow {
                server: None,
                ..level
            })
            .collect();
        let ServerCost::NotMeasured { reason } =
            ServerCost::of(&bare, &answer, "visitors", None, &METRICS)
        else {
            panic!()
        };
        assert!(
            reason.starts_with("no process_cpu_seconds_total"),
            "{reason}"
        );
        let broken = vec![level(200.0, LevelStatus::Broken, Some((0.1, 1)))];
        let cost = ServerCost::of(&broken, &answer, "visitors", None, &METRICS);
        assert_eq!(
            cost,
            ServerCost::NotMeasured {
                reason: "no level held".into()
            }
        );
    }
}
