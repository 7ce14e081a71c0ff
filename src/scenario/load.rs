//! The load model: how many visitors, when. Closed (`stages`: visitors alive at once) or open
//! (`arrival_rate`: visitors started per second whatever the server's speed).

use std::time::Duration;

use serde::Deserialize;

use super::bounds;
use super::de::{self as typed, NonEmpty, NonZeroSpan, Span};
use super::locate::{Issue, Segment};
use super::rate::Rate;

/// The compiled load model.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Linear segments one after the other, from 0 at the start of the run. After the last one
    /// the level stays at its `to` until the run's `duration` (never 0: validation refuses
    /// stages that fall to 0 before the end).
    Stages(Vec<Stage>),
    /// Start `per_second` visitors a second for `for_`, never more than `max_visitors` alive.
    ArrivalRate {
        per_second: f64,
        max_visitors: u32,
        for_: Duration,
    },
}

/// A linear segment: from `from` visitors to `to` over `over`; a hold has `from == to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub from: u32,
    pub to: u32,
    pub over: Duration,
}

impl Load {
    /// Visitors that should be alive `elapsed` into the run, for the closed model; `None` for an
    /// arrival rate, where the count is whatever arrivals and departures make it.
    pub fn target_at(&self, elapsed: Duration) -> Option<u32> {
        let Load::Stages(stages) = self else {
            return None;
        };
        let Some((index, start)) = self.running_stage(elapsed) else {
            return Some(stages.last().map_or(0, |stage| stage.to));
        };
        let stage = &stages[index];
        let fraction = (elapsed - start).as_secs_f64() / stage.over.as_secs_f64();
        let level =
            f64::from(stage.from) + (f64::from(stage.to) - f64::from(stage.from)) * fraction;
        Some(level.round() as u32)
    }

    /// The index of the stage running `elapsed` into the run, for the stage gauge and the
    /// progress line: the last stage once all are over, 0 for an arrival rate.
    pub fn stage_at(&self, elapsed: Duration) -> usize {
        match self {
            Load::Stages(stages) => self
                .running_stage(elapsed)
                .map_or(stages.len().saturating_sub(1), |(index, _)| index),
            Load::ArrivalRate { .. } => 0,
        }
    }

    /// Visitors the model asks for `elapsed` into the run (an arrival rate's cap), and the
    /// index of its stage: the visitor target and stage gauges, and the progress line.
    pub fn target_and_stage(&self, elapsed: Duration) -> (u32, usize) {
        (
            self.target_at(elapsed)
                .unwrap_or_else(|| self.peak_visitors()),
            self.stage_at(elapsed),
        )
    }

    /// The one walk over the stages: which stage `elapsed` falls in and when that stage
    /// started; `None` after the last one (and for an arrival rate). A zero-length stage is
    /// never running: it is a jump.
    fn running_stage(&self, elapsed: Duration) -> Option<(usize, Duration)> {
        let Load::Stages(stages) = self else {
            return None;
        };
        let mut start = Duration::ZERO;
        for (index, stage) in stages.iter().enumerate() {
            let end = start + stage.over;
            if elapsed < end {
                return Some((index, start));
            }
            start = end;
        }
        None
    }

    /// The most visitors alive at once the model can ask for (for sizing and summaries).
    pub fn peak_visitors(&self) -> u32 {
        match self {
            Load::Stages(stages) => stages.iter().map(|stage| stage.to).max().unwrap_or(0),
            Load::ArrivalRate { max_visitors, .. } => *max_visitors,
        }
    }
}

/// The `load` section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoadSpec {
    #[serde(default)]
    stages: Option<NonEmpty<StageSpec>>,
    #[serde(default)]
    arrival_rate: Option<ArrivalRateSpec>,
}

/// `{ to: N, over: D }` or `{ hold: D }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageSpec {
    #[serde(default, deserialize_with = "optional_count")]
    to: Option<u32>,
    #[serde(default)]
    over: Option<Span>,
    #[serde(default)]
    hold: Option<NonZeroSpan>,
}

fn optional_count<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    typed::visitor_count(deserializer).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArrivalRateSpec {
    rate: Rate,
    #[serde(deserialize_with = "typed::visitor_cap")]
    max_visitors: u32,
    #[serde(default, rename = "for")]
    for_: Option<NonZeroSpan>,
}

impl LoadSpec {
    /// Compiles the section; `duration` is the run's hard cap, which the model must fit in.
    pub(crate) fn compile(self, duration: Duration) -> Result<Load, Issue> {
        match (self.stages, self.arrival_rate) {
            (Some(stages), None) => {
                compile_stages(stages.0, duration).map_err(|i| i.under(Segment::Key("stages")))
            }
            (None, Some(arrival)) => {
                let for_ = arrival.for_.map_or(duration, |span| span.0);
                if for_ > duration {
                    return Err(Issue::here(format!(
                        "expected arrivals to fit in the run's duration ({}), found for: {}",
                        humantime::format_duration(duration),
                        humantime::format_duration(for_)
                    ))
                    .under(Segment::Key("for"))
                    .under(Segment::Key("arrival_rate")));
                }
                bounds::check_rate(arrival.rate.per_second()).map_err(|message| {
                    Issue::here(message)
                        .under(Segment::Key("rate"))
                        .under(Segment::Key("arrival_rate"))
                })?;
                Ok(Load::ArrivalRate {
                    per_second: arrival.rate.per_second(),
                    max_visitors: arrival.max_visitors,
                    for_,
                })
            }
            (Some(_), Some(_)) => Err(Issue::here(
                "expected exactly one of `stages` (closed model) or `arrival_rate` (open model), \
                 found both",
            )),
            (None, None) => Err(Issue::here(
                "expected exactly one of `stages` (closed model) or `arrival_rate` (open model), \
                 found neither",
            )),
        }
    }
}

fn compile_stages(specs: Vec<StageSpec>, duration: Duration) -> Result<Load, Issue> {
    let mut stages = Vec::with_capacity(specs.len());
    let mut level = 0;
    let mut total = Duration::ZERO;
    for (index, spec) in specs.into_iter().enumerate() {
        let stage =
            match spec {
                StageSpec {
                    to: Some(to),
                    over: Some(Span(over)),
                    hold: None,
                } => Stage {
                    from: level,
                    to,
                    over,
                },
                StageSpec {
                    to: None,
                    over: None,
                    hold: Some(NonZeroSpan(hold)),
                } => Stage {
                    from: level,
                    to: level,
                    over: hold,
                },
                _ => return Err(Issue::here(
                    "expected a stage { to: N, over: D } or { hold: D }, found another combination",
                )
                .under(Segment::Index(index))),
            };
        total += stage.over;
        if total > duration {
            return Err(Issue::here(format!(
                "expected the stages to fit in the run's duration ({}), found {} by the end of \
                 this stage",
                humantime::format_duration(duration),
                humantime::format_duration(total)
            ))
            .under(Segment::Index(index)));
        }
        level = stage.to;
        stages.push(stage);
    }
    // `duration` is the run's length: stages that fall to 0 before it would leave the run idle.
    if level == 0 && total < duration {
        return Err(Issue::here(format!(
            "expected stages that end at 0 visitors to last the run's whole duration ({}), found \
             {}: the run would idle for {} (lengthen a stage, or set `duration: {}`)",
            humantime::format_duration(duration),
            humantime::format_duration(total),
            humantime::format_duration(duration - total),
            humantime::format_duration(total)
        ))
        .under(Segment::Index(stages.len() - 1)));
    }
    Ok(Load::Stages(stages))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn target_and_stage_follow_the_stages() {
        let load = Load::Stages(vec![
            Stage {
                from: 0,
                to: 100,
                over: secs(10),
            },
            Stage {
                from: 100,
                to: 100,
                over: secs(10),
            },
        ]);
        assert_eq!(load.target_and_stage(secs(5)), (50, 0));
        assert_eq!(load.target_and_stage(secs(15)), (100, 1));
        assert_eq!(load.target_and_stage(secs(25)), (100, 1));
    }

    fn compile(yaml: &str, duration: u64) -> Result<Load, Issue> {
        serde_yaml::from_str::<LoadSpec>(yaml)
            .unwrap()
            .compile(secs(duration))
    }

    #[test]
    fn stages_become_linear_segments() {
        let load = compile(
            "stages: [{ to: 100, over: 10s }, { hold: 5s }, { to: 0, over: 5s }]",
            20,
        )
        .unwrap();
        assert_eq!(
            load,
            Load::Stages(vec![
                Stage {
                    from: 0,
                    to: 100,
                    over: secs(10)
                },
                Stage {
                    from: 100,
                    to: 100,
                    over: secs(5)
                },
                Stage {
                    from: 100,
                    to: 0,
                    over: secs(5)
                },
            ])
        );
        assert_eq!(load.peak_visitors(), 100);
    }

    #[test]
    fn target_follows_the_stages() {
        let load = compile(
            "stages: [{ to: 100, over: 10s }, { hold: 5s }, { to: 0, over: 5s }, { to: 40, over: \
             0s }]",
            60,
        )
        .unwrap();
        let at = |millis| load.target_at(Duration::from_millis(millis)).unwrap();
        assert_eq!(at(0), 0);
        assert_eq!(at(2_500), 25);
        assert_eq!(at(10_000), 100);
        assert_eq!(at(14_999), 100);
        assert_eq!(at(17_500), 50);
        // A zero-length stage is a jump; after the last stage the level holds.
        assert_eq!(at(20_000), 40);
        assert_eq!(at(59_000), 40);
        let stage = |millis| load.stage_at(Duration::from_millis(millis));
        assert_eq!(
            [stage(0), stage(10_000), stage(17_500), stage(20_000)],
            [0, 1, 2, 3],
            "the last once all are over"
        );
    }

    #[test]
    fn arrival_rate_defaults_for_to_the_duration() {
        let load = compile("arrival_rate: { rate: 12000/m, max_visitors: 50 }", 30).unwrap();
        assert_eq!(
            load,
            Load::ArrivalRate {
                per_second: 200.0,
                max_visitors: 50,
                for_: secs(30)
            }
        );
        assert_eq!(load.target_at(secs(1)), None);
        assert_eq!(load.peak_visitors(), 50);
    }

    #[test]
    fn nonsense_is_refused_with_a_path() {
        let issue = compile("stages: [{ to: 10, over: 20s }, { hold: 20s }]", 30).unwrap_err();
        assert_eq!(issue.path, vec![Segment::Key("stages"), Segment::Index(1)]);
        assert!(issue
            .message
            .starts_with("expected the stages to fit in the run's duration (30s), found 40s"));

        let issue = compile("stages: [{ to: 10 }]", 30).unwrap_err();
        assert_eq!(issue.path, vec![Segment::Key("stages"), Segment::Index(0)]);
        assert!(compile("stages: [{ hold: 1s, to: 3, over: 1s }]", 30).is_err());

        let issue = compile("arrival_rate: { rate: 2000/ms, max_visitors: 5 }", 30).unwrap_err();
        assert_eq!(
            issue.path,
            vec![Segment::Key("arrival_rate"), Segment::Key("rate")]
        );
        let huge =
            serde_yaml::from_str::<LoadSpec>("stages: [{ to: 4294967295, over: 1s }]").unwrap_err();
        assert!(huge.to_string().contains("from 0 to 10000000"), "{huge}");

        let issue =
            compile("arrival_rate: { rate: 1/s, max_visitors: 5, for: 1m }", 30).unwrap_err();
        assert_eq!(
            issue.path,
            vec![Segment::Key("arrival_rate"), Segment::Key("for")]
        );

        assert!(compile("{}", 30)
            .unwrap_err()
            .message
            .ends_with("found neither"));
        // Down to 0 visitors 6s before the end: the run would idle.
        let issue =
            compile("stages: [{ to: 10, over: 20s }, { to: 0, over: 4s }]", 30).unwrap_err();
        assert_eq!(issue.path, vec![Segment::Key("stages"), Segment::Index(1)]);
        assert!(
            issue
                .message
                .contains("found 24s: the run would idle for 6s"),
            "{}",
            issue.message
        );
        assert!(compile("stages: [{ to: 10, over: 20s }, { to: 0, over: 10s }]", 30).is_ok());
        let both = "{ stages: [{ hold: 1s }], arrival_rate: { rate: 1/s, max_visitors: 1 } }";
        assert!(compile(both, 30)
            .unwrap_err()
            .message
            .ends_with("found both"));
    }
}
