//! The document as written, and its compilation into a [`Plan`]: the checks here are the ones
//! that relate several sections (stages against `duration`, names across behaviors).

use std::collections::HashSet;

use serde::Deserialize;

use super::agents::AgentsSpec;
use super::backoff::Backoff;
use super::de::{self as typed, Name, NonEmpty, NonZeroSpan};
use super::drills::DrillsSpec;
use super::load::LoadSpec;
use super::locate::{Issue, Segment};
use super::metrics::MetricsSpec;
use super::plan::{Behavior, Plan};
use super::step::{self, Step};
use super::target::TargetSpec;
use super::thresholds::ThresholdsSpec;
use super::tolerance::CompareSpec;

fn default_seed() -> u64 {
    1
}

fn default_weight() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioSpec {
    name: Name,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    target: TargetSpec,
    duration: NonZeroSpan,
    load: LoadSpec,
    #[serde(default)]
    reconnect: Backoff,
    #[serde(default)]
    metrics: Option<MetricsSpec>,
    behaviors: NonEmpty<BehaviorSpec>,
    #[serde(default)]
    agents: Option<AgentsSpec>,
    #[serde(default)]
    thresholds: ThresholdsSpec,
    #[serde(default)]
    compare: CompareSpec,
    #[serde(default)]
    drills: Option<DrillsSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BehaviorSpec {
    name: Name,
    #[serde(default = "default_weight", deserialize_with = "typed::weight")]
    weight: u32,
    steps: NonEmpty<Step>,
}

impl ScenarioSpec {
    pub(crate) fn compile(self) -> Result<Plan, Issue> {
        let duration = self.duration.0;
        let target = self.target.compile().map_err(|i| i.under(Segment::Key("target")))?;
        let load = self.load.compile(duration).map_err(|i| i.under(Segment::Key("load")))?;
        if self.reconnect.cap < self.reconnect.base {
            return Err(Issue::here(format!(
                "expected a cap at least as long as the base ({}), found {}",
                humantime::format_duration(self.reconnect.base),
                humantime::format_duration(self.reconnect.cap)
            ))
            .under(Segment::Key("cap"))
            .under(Segment::Key("reconnect")));
        }
        let drills = self
            .drills
            .map(|drills| drills.compile(duration))
            .transpose()
            .map_err(|i| i.under(Segment::Key("drills")))?;
        let behaviors = compile_behaviors(self.behaviors.0).map_err(|i| i.under(Segment::Key("behaviors")))?;
        Ok(Plan {
            name: self.name.0,
            description: self.description,
            seed: self.seed,
            target,
            duration,
            load,
            reconnect: self.reconnect,
            metrics: self.metrics.map(MetricsSpec::compile),
            behaviors,
            agents: self.agents.map(AgentsSpec::compile),
            thresholds: self.thresholds.0,
            compare: self.compare.into(),
            drills,
        })
    }
}

fn compile_behaviors(specs: Vec<BehaviorSpec>) -> Result<Vec<Behavior>, Issue> {
    let mut names = HashSet::new();
    let mut behaviors = Vec::with_capacity(specs.len());
    for (index, spec) in specs.into_iter().enumerate() {
        let here = |issue: Issue| issue.under(Segment::Index(index));
        if !names.insert(spec.name.0.clone()) {
            let message =
                format!("expected behavior names to differ (reports are keyed by them), found {:?} twice", spec.name.0);
            return Err(here(Issue::here(message).under(Segment::Key("name"))));
        }
        step::check_sequence(&spec.steps.0).map_err(|i| here(i.under(Segment::Key("steps"))))?;
        behaviors.push(Behavior { name: spec.name.0, weight: spec.weight, steps: spec.steps.0 });
    }
    Ok(behaviors)
}
