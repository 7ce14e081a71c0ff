//! Warnings (not errors) about pacing: a `repeat` whose own fixed waits last longer than its
//! `every` cannot keep its schedule. Such a scenario is valid (a closed loop is a fair thing
//! to simulate) but probably not what its author meant, and its iterations run less often
//! than the file says. The harness does not charge the slip to the server
//! (docs/reports.md, "How lateness is charged"), so the only place it shows is here.

use std::fmt;
use std::time::Duration;

use super::plan::Plan;
use super::step::{Repetitions, Step};
use super::think::Think;

/// A paced loop whose fixed waits exceed its period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacingWarning {
    pub behavior: String,
    /// The loop's mean period.
    pub every: Duration,
    /// The least the loop's body waits by itself per iteration (holds, inner loops).
    pub waits: Duration,
}

impl fmt::Display for PacingWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "behavior `{}`: a repeat every {} waits at least {} per iteration by itself (holds): \
             its schedule slips and iterations start when the waits end, less often than `every` \
             says (the slip is not charged to the server)",
            self.behavior,
            humantime::format_duration(self.every),
            humantime::format_duration(self.waits)
        )
    }
}

/// Every paced loop of every behavior whose fixed waits exceed its period.
pub fn warnings(plan: &Plan) -> Vec<PacingWarning> {
    let mut out = Vec::new();
    for behavior in &plan.behaviors {
        scan(&behavior.name, &behavior.steps, &mut out);
    }
    out
}

fn scan(behavior: &str, steps: &[Step], out: &mut Vec<PacingWarning>) {
    for step in steps {
        let Step::Repeat(repeat) = step else { continue };
        scan(behavior, &repeat.steps, out);
        let Some(every) = &repeat.every else { continue };
        let waits = fixed_waits(&repeat.steps);
        if waits > every.mean() {
            out.push(PacingWarning {
                behavior: behavior.to_owned(),
                every: every.mean(),
                waits,
            });
        }
    }
}

/// The least `steps` wait by themselves: holds at their shortest, inner loops that end.
fn fixed_waits(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|step| match step {
            Step::Hold(think) => shortest(think),
            Step::Repeat(repeat) => match repeat.times {
                Repetitions::Times(times) => {
                    let period = repeat.every.as_ref().map_or(Duration::ZERO, shortest);
                    fixed_waits(&repeat.steps).max(period) * times
                }
                // Runs until the end of the run: not a per-iteration wait of the outer loop.
                Repetitions::UntilEnd => Duration::ZERO,
            },
            _ => Duration::ZERO,
        })
        .sum()
}

fn shortest(think: &Think) -> Duration {
    match *think {
        Think::Constant(duration) => duration,
        Think::Uniform { low, .. } => low,
        Think::Exponential { .. } => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(steps: &str) -> Plan {
        let yaml = format!(
            "name: t\nduration: 1s\ntarget: {{ embedded: {{ instances: 1 }} }}\n\
             load: {{ stages: [{{ hold: 1s }}] }}\n\
             behaviors:\n  - name: b\n    steps: {steps}\n"
        );
        crate::scenario::from_str(&yaml, "t.yaml").expect("a valid scenario")
    }

    #[test]
    fn a_loop_whose_holds_exceed_its_period_is_warned_about() {
        let warned = warnings(&plan(
            "[connect, { repeat: { every: 500ms, steps: [presence, { hold: 1s }] } }]",
        ));
        assert_eq!(warned.len(), 1);
        assert_eq!(
            (warned[0].every, warned[0].waits),
            (Duration::from_millis(500), Duration::from_secs(1))
        );
        assert!(
            warned[0]
                .to_string()
                .contains("a repeat every 500ms waits at least 1s"),
            "{}",
            warned[0]
        );
    }

    #[test]
    fn loops_that_fit_or_wait_randomly_are_not() {
        let fits = "[connect, { repeat: { every: 1s, steps: [presence, { hold: 1s }] } }]";
        assert!(
            warnings(&plan(fits)).is_empty(),
            "equal to the period still keeps it"
        );
        let random =
            "[connect, { repeat: { every: 500ms, steps: [presence, { hold: { exponential: \
             2s } }] } }]";
        assert!(
            warnings(&plan(random)).is_empty(),
            "an exponential hold has no fixed part"
        );
        let inner =
            "[connect, { repeat: { every: 1s, steps: [{ repeat: { times: 3, every: 400ms, steps: \
             [presence] } }] } }]";
        assert_eq!(
            warnings(&plan(inner)).len(),
            1,
            "an inner loop's pacing counts: 3 x 400ms"
        );
    }
}
