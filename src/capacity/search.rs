//! The search, as a pure state machine fed one judged level at a time: a staircase of coarse
//! steps (each `step` times the last) until a level breaks, then bisecting the bracket
//! between the highest level that held and the lowest that broke until it is narrower than
//! the resolution, then a longer plateau at the answer to confirm it. Nothing here knows
//! about time or sockets, so every path of the search is tested without a server.
//!
//! It assumes what a capacity is: a load below which the SLOs hold and above which they do
//! not. A confirmation that fails says the assumption was wrong there (a level that held by
//! luck): that level counts as broken and the narrowing goes on below it.

use crate::schema::{Answer, Broken};

/// The search's settings, in the scenario's load dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub from: f64,
    pub to: f64,
    /// Each staircase level is the last one times this.
    pub step: f64,
    /// The bracket is narrow enough once its width is at most this share of its top.
    pub resolution: f64,
    /// Levels are whole numbers (visitors), not rates.
    pub whole: bool,
}

/// Most levels a search runs, confirmations included: a bound on its length whatever the
/// server does (a doubling staircase over four decades and a 1% bisection take about 20).
pub const MAX_LEVELS: usize = 32;

/// How a level was judged, on its own window.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    Held,
    /// A threshold, an ungoverned error or a delivery check failed; `delivery` when a
    /// delivery check did, which stops the search (a server that loses messages at a load
    /// is not searched for the edge of its latency).
    Broken {
        reason: String,
        delivery: bool,
    },
    /// The harness was the bottleneck: the level says nothing about the server.
    HarnessLimited(String),
    TargetDown(String),
}

/// Which part of the search a level belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Step,
    Narrow,
    Confirm,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Step => "step",
            Phase::Narrow => "narrow",
            Phase::Confirm => "confirm",
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Level { load: f64, phase: Phase },
    Done(Answer),
}

/// The search under way.
#[derive(Debug)]
pub struct Search {
    range: Range,
    /// The level being judged now.
    load: f64,
    phase: Phase,
    /// Every level that held, and the lowest that broke.
    held: Vec<f64>,
    broken: Option<Broken>,
    levels: usize,
}

impl Search {
    /// A search over `range`, and its first level.
    pub fn start(range: Range) -> (Search, Next) {
        let first = range.from;
        let search = Search {
            range,
            load: first,
            phase: Phase::Step,
            held: Vec::new(),
            broken: None,
            levels: 1,
        };
        (
            search,
            Next::Level {
                load: first,
                phase: Phase::Step,
            },
        )
    }

    /// Takes the judgement of the level just run and answers what comes next.
    pub fn judged(&mut self, judged: Judged) -> Next {
        let load = self.load;
        match judged {
            Judged::TargetDown(reason) => {
                return Next::Done(Answer::NoVerdict {
                    reason: format!("the target went down at {load}: {reason}"),
                    target_down: true,
                })
            }
            Judged::HarnessLimited(reason) => {
                return Next::Done(Answer::AtLeast {
                    load: self.floor(),
                    limited_at: load,
                    reason,
                })
            }
            Judged::Broken {
                reason,
                delivery: true,
            } => {
                let broken = Broken { load, reason };
                self.broken = Some(broken.clone());
                return Next::Done(match self.floor() {
                    Some(held) => Answer::Capacity {
                        load: held,
                        first_broken: Some(broken),
                        narrowed: false,
                    },
                    None => Answer::Below {
                        first_broken: broken,
                    },
                });
            }
            // A confirmation that breaks lowers the bracket's top to the answer it was to
            // confirm: the highest level that held below it is the new floor.
            Judged::Broken {
                reason,
                delivery: false,
            } => {
                if self.broken.as_ref().is_none_or(|broken| load < broken.load) {
                    self.broken = Some(Broken { load, reason });
                }
            }
            Judged::Held if self.phase == Phase::Confirm => {
                return Next::Done(Answer::Capacity {
                    load,
                    first_broken: self.broken.clone(),
                    narrowed: self.broken.is_some(),
                })
            }
            Judged::Held => self.held.push(load),
        }
        self.next()
    }

    /// The highest level that held below the lowest that broke.
    fn floor(&self) -> Option<f64> {
        let below = |load: &&f64| {
            self.broken
                .as_ref()
                .is_none_or(|broken| **load < broken.load)
        };
        self.held.iter().filter(below).copied().reduce(f64::max)
    }

    fn next(&mut self) -> Next {
        let Range {
            to,
            step,
            resolution,
            whole,
            ..
        } = self.range;
        let next = match (self.floor(), &self.broken) {
            (None, Some(broken)) => {
                return Next::Done(Answer::Below {
                    first_broken: broken.clone(),
                })
            }
            (Some(held), None) if held >= to => (held, Phase::Confirm),
            (Some(held), None) => (self.round(held * step).min(to), Phase::Step),
            (Some(held), Some(broken)) => {
                let mid = self.round((held + broken.load) / 2.0);
                let narrow = broken.load - held <= resolution * broken.load
                    || (whole && (mid <= held || mid >= broken.load));
                if narrow {
                    (held, Phase::Confirm)
                } else {
                    (mid, Phase::Narrow)
                }
            }
            (None, None) => unreachable!("a level was judged before this"),
        };
        if self.levels >= MAX_LEVELS {
            return Next::Done(match self.floor() {
                Some(held) => Answer::Capacity {
                    load: held,
                    first_broken: self.broken.clone(),
                    narrowed: false,
                },
                None => Answer::NoVerdict {
                    reason: format!("no answer after {MAX_LEVELS} levels"),
                    target_down: false,
                },
            });
        }
        self.levels += 1;
        (self.load, self.phase) = next;
        Next::Level {
            load: next.0,
            phase: next.1,
        }
    }

    fn round(&self, load: f64) -> f64 {
        if self.range.whole {
            load.round()
        } else {
            (load * 10.0).round() / 10.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: Range = Range {
        from: 50.0,
        to: 1600.0,
        step: 2.0,
        resolution: 0.05,
        whole: true,
    };

    /// Runs a search against a server that holds up to `capacity`, breaking above it, and
    /// answers the levels it ran and its answer.
    fn search(range: Range, judge: impl Fn(f64, Phase) -> Judged) -> (Vec<(f64, Phase)>, Answer) {
        let (mut search, mut next) = Search::start(range);
        let mut levels = Vec::new();
        loop {
            match next {
                Next::Level { load, phase } => {
                    levels.push((load, phase));
                    assert!(levels.len() <= MAX_LEVELS, "bounded");
                    next = search.judged(judge(load, phase));
                }
                Next::Done(answer) => return (levels, answer),
            }
        }
    }

    fn knee(capacity: f64) -> impl Fn(f64, Phase) -> Judged {
        move |load, _| {
            if load <= capacity {
                Judged::Held
            } else {
                Judged::Broken {
                    reason: format!("p99 over at {load}"),
                    delivery: false,
                }
            }
        }
    }

    #[test]
    fn the_staircase_doubles_then_the_bisection_narrows_to_the_resolution_then_confirms() {
        let (levels, answer) = search(RANGE, knee(333.0));
        let loads: Vec<f64> = levels.iter().map(|(load, _)| *load).collect();
        assert_eq!(&loads[..5], [50.0, 100.0, 200.0, 400.0, 300.0]);
        assert_eq!(levels.last().unwrap().1, Phase::Confirm);
        let Answer::Capacity {
            load,
            first_broken: Some(broken),
            narrowed: true,
        } = answer
        else {
            panic!("{answer:?}")
        };
        assert!(
            load <= 333.0 && broken.load > 333.0,
            "{load} held, {} broke",
            broken.load
        );
        assert!(
            broken.load - load <= 0.05 * broken.load,
            "within the resolution: {load}..{}",
            broken.load
        );
        assert_eq!(broken.reason, format!("p99 over at {}", broken.load));
    }

    #[test]
    fn a_top_that_holds_is_at_least_the_range_and_a_first_level_that_breaks_is_below_it() {
        let (levels, answer) = search(RANGE, knee(1e9));
        assert_eq!(levels.last(), Some(&(1600.0, Phase::Confirm)));
        assert_eq!(
            answer,
            Answer::Capacity {
                load: 1600.0,
                first_broken: None,
                narrowed: false
            }
        );
        let (levels, answer) = search(RANGE, knee(10.0));
        assert_eq!(levels.len(), 1);
        assert!(
            matches!(
                answer,
                Answer::Below {
                    first_broken: Broken { load: 50.0, .. }
                }
            ),
            "{answer:?}"
        );
    }

    #[test]
    fn a_harness_limited_level_gives_at_least_never_a_capacity() {
        let judge = |load: f64, _| {
            if load >= 400.0 {
                Judged::HarnessLimited("lag".into())
            } else {
                Judged::Held
            }
        };
        let (levels, answer) = search(RANGE, judge);
        assert_eq!(levels.len(), 4, "stops at the first harness-limited level");
        assert_eq!(
            answer,
            Answer::AtLeast {
                load: Some(200.0),
                limited_at: 400.0,
                reason: "lag".into()
            }
        );
        // Even while narrowing a bracket the server set: the bound, not a capacity.
        let judge = |load: f64, _| match load {
            l if l >= 400.0 => Judged::Broken {
                reason: "p99".into(),
                delivery: false,
            },
            l if l >= 300.0 => Judged::HarnessLimited("cpu".into()),
            _ => Judged::Held,
        };
        let (_, answer) = search(RANGE, judge);
        assert_eq!(
            answer,
            Answer::AtLeast {
                load: Some(200.0),
                limited_at: 300.0,
                reason: "cpu".into()
            }
        );
    }

    #[test]
    fn a_delivery_check_failing_stops_the_climb_at_that_level() {
        let judge = |load: f64, _| {
            if load >= 200.0 {
                Judged::Broken {
                    reason: "signals_lost 3".into(),
                    delivery: true,
                }
            } else {
                Judged::Held
            }
        };
        let (levels, answer) = search(RANGE, judge);
        assert_eq!(
            levels.iter().map(|l| l.0).collect::<Vec<_>>(),
            [50.0, 100.0, 200.0],
            "no level after it"
        );
        let broken = Broken {
            load: 200.0,
            reason: "signals_lost 3".into(),
        };
        assert_eq!(
            answer,
            Answer::Capacity {
                load: 100.0,
                first_broken: Some(broken),
                narrowed: false
            }
        );
    }

    #[test]
    fn a_confirmation_that_fails_narrows_again_below_it() {
        // Holds up to 333 on short plateaus, but only up to 310 on the long one.
        let judge = |load: f64, phase| {
            let capacity = if phase == Phase::Confirm {
                310.0
            } else {
                333.0
            };
            knee(capacity)(load, phase)
        };
        let (levels, answer) = search(RANGE, judge);
        let confirms = levels
            .iter()
            .filter(|(_, phase)| *phase == Phase::Confirm)
            .count();
        assert!(confirms >= 2, "{levels:?}");
        let Answer::Capacity {
            load,
            narrowed: true,
            ..
        } = answer
        else {
            panic!("{answer:?}")
        };
        assert!(load <= 310.0, "{load}");
    }

    #[test]
    fn a_target_down_is_no_verdict_and_rates_need_not_be_whole() {
        let (_, answer) = search(RANGE, |_, _| Judged::TargetDown("refused".into()));
        assert!(
            matches!(
                answer,
                Answer::NoVerdict {
                    target_down: true,
                    ..
                }
            ),
            "{answer:?}"
        );
        let rates = Range {
            from: 5.0,
            to: 80.0,
            step: 2.0,
            resolution: 0.05,
            whole: false,
        };
        let Answer::Capacity {
            load,
            first_broken: Some(broken),
            ..
        } = search(rates, knee(23.3)).1
        else {
            panic!()
        };
        assert!(
            load <= 23.3 && broken.load > 23.3 && broken.load - load <= 0.05 * broken.load,
            "{load}"
        );
    }
}
