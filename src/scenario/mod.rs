//! Scenarios: the YAML format (`docs/scenarios.md`), its validation with file:line:column, and
//! its compilation into a [`Plan`] that the engine executes. Never opens a socket.
//!
//! Checks on one value (a duration's unit, a weight above zero, a template's syntax) run inside
//! deserialization so serde_norway locates them; checks across fields run on the deserialized
//! document and are located afterwards by [`locate`].

mod agents;
mod backoff;
mod bounds;
mod collect;
mod content;
mod de;
mod drills;
mod env;
mod error;
mod headers;
mod load;
mod locate;
mod metrics;
mod mistakes;
mod nesting;
mod overrides;
mod pacing;
mod plan;
mod rate;
mod selector;
mod sequence;
mod spec;
mod step;
mod target;
mod template;
mod think;
mod threshold;
mod thresholds;
mod tolerance;
mod transport;

use std::path::Path;

pub use agents::DEFAULT_GRACE;
pub use bounds::{MAX_AGENTS, MAX_FILE_BYTES, MAX_NESTING, MAX_RATE_PER_SECOND, MAX_VISITORS};
pub use content::{DataTemplate, DataValue, Navigation, PageTemplate, PresenceUpdate};
pub use drills::{DEFAULT_ACTION_TIMEOUT, DEFAULT_SETTLE, DEFAULT_WINDOW_CAP};
pub use error::{Invalid, ScenarioError};
pub use headers::without_headers;
pub use overrides::{Override, OverrideError};
pub use pacing::{warnings as pacing_warnings, PacingWarning};
pub use plan::{
    agent_rng, visitor_rng, Action, ActionRun, Agents, Backoff, Behavior, Destination,
    DrillActions, DrillEvent, DrillKind, DrillPlan, Invokes, Jitter, Load, MetricsExport, Plan,
    Repeat, Repetitions, Stage, Step, Target,
};
pub use rate::Rate;
pub use step::DEFAULT_SIGNAL_TIMEOUT;
pub use target::BadUrl;
pub use template::{Template, TemplateContext, TemplateError};
pub use think::Think;
pub use threshold::{Op, Stat, Threshold, Unit};
pub use tolerance::{
    parse_assignment, CompareStat, CompareTolerances, Setting, Tolerance, ToleranceKey,
};
pub use transport::TransportMix;

/// Reads, validates and compiles the scenario at `path`, with `${VAR}` substituted.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    load_with(path, &[])
}

/// [`load`], with `--set` overrides applied to the document before validation. With
/// overrides, the document validated is the file rewritten: errors name the field, and their
/// lines are those of the rewritten document (the file name says `with --set`).
pub fn load_with(path: &Path, sets: &[Override]) -> Result<Plan, ScenarioError> {
    let (text, file) = effective_text(path, sets)?;
    from_str(&text, &file)
}

/// The scenario as the run sees it: the file with `${VAR}` substituted and the `--set`
/// overrides applied, and the name its errors go by. Shards record this text and
/// `run --processes` hands it to its children, so every shard and the merge judge one
/// scenario, whatever each process's environment says; both leave its `target.headers`
/// out ([`without_headers`]), which hold secrets.
pub fn effective_text(path: &Path, sets: &[Override]) -> Result<(String, String), ScenarioError> {
    let file = path.display().to_string();
    let text = read(path, &file)?;
    let text = env::substitute(&text, &file, |name| std::env::var(name).ok())
        .map_err(ScenarioError::Invalid)?;
    match overrides::apply_all(&text, sets) {
        None => Ok((text, file)),
        Some(Ok(rewritten)) => Ok((rewritten, format!("{file} (with --set)"))),
        Some(Err(err)) => Err(ScenarioError::Override(err)),
    }
}

/// The file's text, if it is not larger than [`bounds::MAX_FILE_BYTES`] (checked before reading
/// and while reading, for a file that grows or a pipe).
fn read(path: &Path, file: &str) -> Result<String, ScenarioError> {
    use std::io::Read as _;
    let unreadable = |source| ScenarioError::Read {
        file: file.to_owned(),
        source,
    };
    let too_large = |bytes| ScenarioError::TooLarge {
        file: file.to_owned(),
        bytes,
    };
    let opened = std::fs::File::open(path).map_err(unreadable)?;
    let size = opened.metadata().map_err(unreadable)?.len();
    if size > bounds::MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    opened
        .take(bounds::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > bounds::MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map_err(|err| unreadable(std::io::Error::new(std::io::ErrorKind::InvalidData, err)))
}

/// Validates and compiles scenario `text`; `file_name` is only used in error messages. On
/// error, every mistake found is reported, in text order.
pub fn from_str(text: &str, file_name: &str) -> Result<Plan, ScenarioError> {
    let invalid = |errors: Vec<serde_yaml::Error>| {
        ScenarioError::Invalid(
            errors
                .iter()
                .map(|err| Invalid::from_yaml(file_name, err).inside(text))
                .collect(),
        )
    };
    if let Some((line, column)) = nesting::too_deep(text) {
        let message = format!(
            "expected lists and mappings nested at most {} deep, found one nested deeper \
             (a `repeat` is 3 levels; repeats nest at most {MAX_NESTING} deep)",
            nesting::MAX_FLOW_DEPTH
        );
        return Err(ScenarioError::Invalid(vec![Invalid {
            file: file_name.to_owned(),
            line,
            column,
            path: String::new(),
            message,
        }]));
    }
    match serde_yaml::from_str::<spec::ScenarioSpec>(text) {
        Ok(spec) => spec.compile().map_err(|issues| {
            let mut errors: Vec<_> = issues
                .iter()
                .map(|issue| locate::locate(text, issue))
                .collect();
            errors.sort_by_key(|err| err.location().map(|l| (l.line(), l.column())));
            invalid(errors)
        }),
        Err(first) => {
            let every = mistakes::every_error(text);
            // The passes read the same types as the document does, so they find at least the
            // error it found; should they not, that one is still reported.
            Err(invalid(if every.is_empty() { vec![first] } else { every }))
        }
    }
}

#[cfg(test)]
mod tests;
