//! The search of a split run (`capacity --processes`, or `--shard K/N` on several machines):
//! a fixed staircase computed from the settings alone, since shards that share no coordinator
//! cannot bisect a bracket that only their merged levels show. Every shard runs every level
//! at the same instants (they share `--start-at`), its stripe of each; `merge` judges each
//! level on the shards' windows added up, and reads the answer off the judged staircase with
//! [`answer`].
//!
//! The levels are spaced by the resolution (each at most `1 + resolution` times the one
//! below), from `--from` to `--to`: the highest level that held and the first that broke are
//! then adjacent, so the answer is as narrow as a bisection's without one. A bisection takes
//! a handful of levels; this takes `ln(to/from) / ln(1 + resolution)` (58 with the defaults),
//! so the schedule is refused past [`MAX_SCHEDULE`] levels with the figures to narrow it by.
//! There is no confirmation plateau: the level to confirm is not known in advance.

use std::time::Duration;

use super::search::{Judged, Next, Phase, Range};
use super::SettingsError;
use crate::schema::{Answer, Broken, Schedule};

/// Most levels a schedule holds: a split search runs every one of them, well past the knee.
pub const MAX_SCHEDULE: usize = 64;

/// The staircase over `range`, each level held for `warmup` then `hold`.
pub fn staircase(
    range: Range,
    warmup: Duration,
    hold: Duration,
) -> Result<Schedule, SettingsError> {
    let round = |load: f64| {
        if range.whole {
            load.round()
        } else {
            (load * 10.0).round() / 10.0
        }
    };
    let least_step = if range.whole { 1.0 } else { 0.1 };
    let mut levels = vec![round(range.from)];
    while let Some(&last) = levels.last().filter(|last| **last < range.to) {
        let next = round((last * (1.0 + range.resolution)).max(last + least_step));
        levels.push(next.min(range.to));
        if levels.len() > MAX_SCHEDULE {
            let needed = ((range.to / range.from).ln() / (1.0 + range.resolution).ln()).ceil();
            return Err(SettingsError(format!(
                "a split search runs every level of its schedule: from {} to {} at {}% steps is \
                 about {needed} levels, more than {MAX_SCHEDULE}; narrow --from and --to (around a \
                 one-process search's answer) or coarsen --resolution",
                range.from,
                range.to,
                range.resolution * 100.0
            )));
        }
    }
    Ok(Schedule {
        levels,
        warmup_s: warmup.as_secs_f64(),
        hold_s: hold.as_secs_f64(),
    })
}

/// A shard's walk through the schedule: every level in turn, whatever its stripe showed
/// (the stripe alone cannot say whether the level held), stopping early only when the
/// target is down. Its answer is its own stripe's, read as [`answer`] reads a merge's.
#[derive(Debug)]
pub struct Walk {
    schedule: Schedule,
    judged: Vec<(f64, Judged)>,
}

impl Walk {
    /// A walk through `schedule`, and its first level.
    pub fn start(schedule: Schedule) -> (Walk, Next) {
        let first = Next::Level {
            load: schedule.levels[0],
            phase: Phase::Step,
        };
        let walk = Walk {
            schedule,
            judged: Vec::new(),
        };
        (walk, first)
    }

    /// Takes the judgement of the level just run and answers what comes next.
    pub fn judged(&mut self, judged: Judged) -> Next {
        let load = self.schedule.levels[self.judged.len()];
        let down = matches!(judged, Judged::TargetDown(_));
        self.judged.push((load, judged));
        match self.schedule.levels.get(self.judged.len()) {
            Some(&load) if !down => Next::Level {
                load,
                phase: Phase::Step,
            },
            _ => Next::Done(answer(&self.judged, self.schedule.levels.len())),
        }
    }
}

/// The answer of a staircase judged level by level (`judged`, in order, of a schedule of
/// `planned` levels): the highest level that held below the first that did not. A
/// harness-limited level gives "at least" the level below it; levels past the first that did
/// not hold are shown, never read (a server is assumed to hold below its capacity and not
/// above it).
pub fn answer(judged: &[(f64, Judged)], planned: usize) -> Answer {
    let mut held = None;
    for (load, judged) in judged {
        let load = *load;
        match judged {
            Judged::Held => held = Some(load),
            Judged::Broken { reason, .. } => {
                let first_broken = Broken {
                    load,
                    reason: reason.clone(),
                };
                return match held {
                    Some(held) => Answer::Capacity {
                        load: held,
                        first_broken: Some(first_broken),
                        narrowed: true,
                    },
                    None => Answer::Below { first_broken },
                };
            }
            Judged::HarnessLimited(reason) => {
                return Answer::AtLeast {
                    load: held,
                    limited_at: load,
                    reason: reason.clone(),
                }
            }
            Judged::TargetDown(reason) => {
                return Answer::NoVerdict {
                    reason: format!("the target went down at {load}: {reason}"),
                    target_down: true,
                }
            }
        }
    }
    match held {
        Some(load) if judged.len() == planned => Answer::Capacity {
            load,
            first_broken: None,
            narrowed: false,
        },
        _ => Answer::NoVerdict {
            reason: format!(
                "stopped after {} of the schedule's {planned} levels, all held; the table shows \
                 them",
                judged.len()
            ),
            target_down: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: f64, to: f64, whole: bool) -> Range {
        Range {
            from,
            to,
            step: 2.0,
            resolution: 0.05,
            whole,
        }
    }

    fn schedule(range: Range) -> Schedule {
        staircase(range, Duration::from_secs(1), Duration::from_secs(2)).unwrap()
    }

    #[test]
    fn levels_are_spaced_by_the_resolution_from_the_first_to_the_top() {
        let levels = schedule(range(60.0, 120.0, true)).levels;
        assert_eq!(levels.first(), Some(&60.0));
        assert_eq!(levels.last(), Some(&120.0));
        for pair in levels.windows(2) {
            assert!(pair[1] > pair[0], "{levels:?}");
            assert!(
                pair[1] <= (pair[0] * 1.05).round().max(pair[0] + 1.0),
                "{levels:?}"
            );
        }
        // Few visitors: one more each level, never the same level twice.
        assert_eq!(schedule(range(3.0, 6.0, true)).levels, [3.0, 4.0, 5.0, 6.0]);
        let rates = schedule(range(1.0, 1.3, false)).levels;
        assert_eq!(rates, [1.0, 1.1, 1.2, 1.3]);
        let schedule = schedule(range(60.0, 120.0, true));
        assert_eq!(
            schedule.length(),
            Duration::from_secs(3) * schedule.levels.len() as u32
        );
    }

    #[test]
    fn a_schedule_past_its_bound_is_refused_with_what_to_change() {
        let err = staircase(
            range(1.0, 1e6, true),
            Duration::from_secs(1),
            Duration::from_secs(2),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("more than 64") && err.contains("--resolution"),
            "{err}"
        );
    }

    fn broken(reason: &str) -> Judged {
        Judged::Broken {
            reason: reason.into(),
            delivery: false,
        }
    }

    #[test]
    fn the_answer_is_the_highest_level_held_below_the_first_that_did_not() {
        let judged = [
            (10.0, Judged::Held),
            (11.0, Judged::Held),
            (12.0, broken("p99")),
            (13.0, Judged::Held),
        ];
        assert_eq!(
            answer(&judged, 4),
            Answer::Capacity {
                load: 11.0,
                first_broken: Some(Broken {
                    load: 12.0,
                    reason: "p99".into()
                }),
                narrowed: true
            }
        );
        assert!(matches!(
            answer(&[(10.0, broken("p99"))], 4),
            Answer::Below { .. }
        ));
        let limited = [
            (10.0, Judged::Held),
            (11.0, Judged::HarnessLimited("lag".into())),
            (12.0, broken("p99")),
        ];
        assert_eq!(
            answer(&limited, 3),
            Answer::AtLeast {
                load: Some(10.0),
                limited_at: 11.0,
                reason: "lag".into()
            }
        );
        let all = [(10.0, Judged::Held), (11.0, Judged::Held)];
        assert!(matches!(
            answer(&all, 2),
            Answer::Capacity {
                load: 11.0,
                first_broken: None,
                ..
            }
        ));
        assert!(
            matches!(
                answer(&all, 3),
                Answer::NoVerdict {
                    target_down: false,
                    ..
                }
            ),
            "stopped before the end"
        );
    }

    #[test]
    fn a_walk_runs_every_level_whatever_its_stripe_shows_but_stops_on_a_target_down() {
        let (mut walk, first) = Walk::start(schedule(range(3.0, 5.0, true)));
        assert_eq!(
            first,
            Next::Level {
                load: 3.0,
                phase: Phase::Step
            }
        );
        assert!(matches!(
            walk.judged(broken("p99")),
            Next::Level { load: 4.0, .. }
        ));
        assert!(matches!(
            walk.judged(Judged::Held),
            Next::Level { load: 5.0, .. }
        ));
        assert!(matches!(
            walk.judged(Judged::Held),
            Next::Done(Answer::Below { .. })
        ));
        let (mut walk, _) = Walk::start(schedule(range(3.0, 5.0, true)));
        assert!(matches!(
            walk.judged(Judged::TargetDown("refused".into())),
            Next::Done(Answer::NoVerdict {
                target_down: true,
                ..
            })
        ));
    }
}
