//! Scenarios: the YAML format (`docs/scenarios.md`), its validation with file:line:column, and
//! its compilation into a [`Plan`] that the engine executes. Never opens a socket.
//!
//! Checks on one value (a duration's unit, a weight above zero, a template's syntax) run inside
//! deserialization so serde_norway locates them; checks across fields run on the deserialized
//! document and are located afterwards by [`locate`].

mod agents;
mod backoff;
mod content;
mod de;
mod drills;
mod error;
mod load;
mod locate;
mod metrics;
mod pacing;
mod plan;
mod rate;
mod spec;
mod step;
mod target;
mod template;
mod think;
mod threshold;
mod thresholds;
mod tolerance;

use std::path::Path;

pub use agents::DEFAULT_GRACE;
pub use content::{DataTemplate, DataValue, Navigation, PageTemplate, PresenceUpdate};
pub use drills::{DEFAULT_ACTION_TIMEOUT, DEFAULT_SETTLE, DEFAULT_WINDOW_CAP};
pub use error::{Invalid, ScenarioError};
pub use pacing::{warnings as pacing_warnings, PacingWarning};
pub use plan::{
    visitor_rng, Action, ActionRun, Agents, Backoff, Behavior, Destination, DrillActions, DrillEvent, DrillKind,
    Drills, Invokes, Jitter, Load, MetricsExport, Plan, Repeat, Repetitions, Stage, Step, Target,
};
pub use rate::Rate;
pub use step::DEFAULT_SIGNAL_TIMEOUT;
pub use template::{Template, TemplateContext, TemplateError};
pub use think::Think;
pub use threshold::{Op, Stat, Threshold, Unit};
pub use tolerance::{CompareTolerances, Tolerance};

/// Reads, validates and compiles the scenario at `path`.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
    from_str(&text, &file)
}

/// Validates and compiles scenario `text`; `file_name` is only used in error messages.
pub fn from_str(text: &str, file_name: &str) -> Result<Plan, ScenarioError> {
    let invalid = |err: serde_yaml::Error| ScenarioError::Invalid(Invalid::from_yaml(file_name, &err).inside(text));
    let spec: spec::ScenarioSpec = serde_yaml::from_str(text).map_err(invalid)?;
    spec.compile().map_err(|issue| invalid(locate::locate(text, &issue)))
}

#[cfg(test)]
mod tests;
