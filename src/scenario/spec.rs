//! The document as written, and its compilation into a [`Plan`]: the checks here are the ones
//! that relate several sections (stages against `duration`, names across behaviors). They run
//! on whatever sections could be read ([`CrossSections`]), so a file with a mistake in one
//! section still has the others checked (see `mistakes`).

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use super::agents::{Agents, AgentsSpec};
use super::backoff::Backoff;
use super::de::{self as typed, Name, NonEmpty, NonZeroSpan};
use super::drills::{DrillPlan, DrillsSpec};
use super::load::{Load, LoadSpec};
use super::locate::{Issue, Segment};
use super::metrics::MetricsSpec;
use super::plan::{Behavior, Plan};
use super::selector;
use super::sequence::{self, Context};
use super::step::Step;
use super::target::{Target, TargetSpec};
use super::thresholds::ThresholdsSpec;
use super::tolerance::CompareSpec;
use super::transport::TransportMix;

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
pub(crate) struct BehaviorSpec {
    name: Name,
    #[serde(default = "default_weight", deserialize_with = "typed::weight")]
    weight: u32,
    #[serde(default)]
    transport: Option<TransportMix>,
    steps: NonEmpty<Step>,
}

impl ScenarioSpec {
    /// Compiles the document, running every check across sections; each independent check
    /// runs even when another failed, so all their issues are reported together.
    pub(crate) fn compile(self) -> Result<Plan, Vec<Issue>> {
        let mut issues = Vec::new();
        let duration = self.duration.0;
        let sections = CrossSections {
            target: Some(self.target),
            duration: Some(duration),
            load: Some(self.load),
            reconnect: Some(self.reconnect),
            drills: Some(self.drills),
            agents: Some(self.agents),
            behaviors: Some(self.behaviors.0),
        };
        let compiled = sections.check(&mut issues);
        if let Some(target) = &compiled.target {
            issues.extend(self.thresholds.unmeasurable_server(target));
        }
        if let Some(behaviors) = &compiled.behaviors {
            let names: Vec<&str> = behaviors
                .iter()
                .map(|behavior| behavior.name.as_str())
                .collect();
            issues.extend(selector::unknown_behaviors(&self.thresholds, &names));
        }
        match compiled {
            Compiled {
                target: Some(target),
                load: Some(load),
                drills: Some(drills),
                agents: Some(agents),
                behaviors: Some(behaviors),
            } if issues.is_empty() => Ok(Plan {
                name: self.name.0,
                description: self.description,
                seed: self.seed,
                target,
                duration,
                load,
                reconnect: self.reconnect,
                metrics: self.metrics.map(MetricsSpec::compile),
                behaviors,
                agents,
                thresholds: self.thresholds.into_thresholds(),
                compare: self.compare.into(),
                drills,
            }),
            _ => Err(issues),
        }
    }
}

/// The sections that the checks across fields need, each `None` when it could not be read:
/// the checks that need it are then left out, and the others still run.
pub(crate) struct CrossSections {
    pub target: Option<TargetSpec>,
    pub duration: Option<Duration>,
    pub load: Option<LoadSpec>,
    pub reconnect: Option<Backoff>,
    pub drills: Option<Option<DrillsSpec>>,
    pub agents: Option<Option<AgentsSpec>>,
    pub behaviors: Option<Vec<BehaviorSpec>>,
}

/// What the checks compiled; `None` where a section was missing or had an issue.
pub(crate) struct Compiled {
    target: Option<Target>,
    load: Option<Load>,
    drills: Option<Option<DrillPlan>>,
    agents: Option<Option<Agents>>,
    behaviors: Option<Vec<Behavior>>,
}

impl CrossSections {
    /// Runs every check whose sections are there, noting each issue in `issues`.
    pub(crate) fn check(self, issues: &mut Vec<Issue>) -> Compiled {
        let under = |key| move |issue: Issue| issue.under(Segment::Key(key));
        // Only this harness's agents can signal an embedded cluster; an external server may
        // have other senders (its real agents).
        let embedded = self.target.as_ref().is_some_and(TargetSpec::is_embedded);
        let target = self
            .target
            .and_then(|target| keep(issues, target.compile().map_err(under("target"))));
        let load = match (self.load, self.duration) {
            (Some(load), Some(duration)) => {
                keep(issues, load.compile(duration).map_err(under("load")))
            }
            _ => None,
        };
        if let Some(reconnect) = self.reconnect.filter(|r| r.cap < r.base) {
            issues.push(
                Issue::here(format!(
                    "expected a cap at least as long as the base ({}), found {}",
                    humantime::format_duration(reconnect.base),
                    humantime::format_duration(reconnect.cap)
                ))
                .under(Segment::Key("cap"))
                .under(Segment::Key("reconnect")),
            );
        }
        let drills = match (self.drills, self.duration) {
            (Some(drills), Some(duration)) => {
                let compiled = drills.map(|drills| drills.compile(duration)).transpose();
                keep(issues, compiled.map_err(under("drills")))
            }
            _ => None,
        };
        let agents = self.agents.and_then(|agents| {
            keep(
                issues,
                agents
                    .map(AgentsSpec::compile)
                    .transpose()
                    .map_err(under("agents")),
            )
        });
        // A section that could not be read gets the benefit of the doubt.
        let context = Context {
            signals_expected: !embedded
                || agents.as_ref().is_none_or(|agents| {
                    agents
                        .as_ref()
                        .is_some_and(|a| a.signals_per_second.is_some() || a.invokes.is_some())
                }),
        };
        let behaviors = self
            .behaviors
            .map(|behaviors| compile_behaviors(behaviors, context, issues));
        Compiled {
            target,
            load,
            drills,
            agents,
            behaviors,
        }
    }
}

/// The value of `result`, or `None` with its issue noted.
fn keep<T>(issues: &mut Vec<Issue>, result: Result<T, Issue>) -> Option<T> {
    result.map_err(|issue| issues.push(issue)).ok()
}

fn compile_behaviors(
    specs: Vec<BehaviorSpec>,
    context: Context,
    issues: &mut Vec<Issue>,
) -> Vec<Behavior> {
    let mut names = HashSet::new();
    let mut behaviors = Vec::with_capacity(specs.len());
    for (index, spec) in specs.into_iter().enumerate() {
        let here = |issue: Issue| {
            issue
                .under(Segment::Index(index))
                .under(Segment::Key("behaviors"))
        };
        if !names.insert(spec.name.0.clone()) {
            let message = format!(
                "expected behavior names to differ (reports are keyed by them), found {:?} twice",
                spec.name.0
            );
            issues.push(here(Issue::here(message).under(Segment::Key("name"))));
        }
        let found = sequence::check_sequence(&spec.steps.0, context);
        issues.extend(
            found
                .into_iter()
                .map(|issue| here(issue.under(Segment::Key("steps")))),
        );
        behaviors.push(Behavior {
            name: spec.name.0,
            weight: spec.weight,
            transport: spec.transport,
            steps: spec.steps.0,
        });
    }
    behaviors
}
