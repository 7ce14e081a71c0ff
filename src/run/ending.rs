//! How every run ends, the same way whether it ran in this process (`run::run`) or is the
//! merge of a split run's shards (`run::merge`): judged once (by the scenario's gate, or by
//! the command the run was built for), its files written to `--out`, then the CI's outputs
//! (JUnit, `--summary-json`). One ending, so that a merged run cannot be judged, written or
//! reported in another order, or fail with other errors, than a run in one process.

use std::path::Path;

use super::gate::{self, Gate, GateOptions};
use super::reports::{self, Made};
use super::{Judge, RunError};
use crate::report::baseline::Baseline;
use crate::report::verdict::Ending;
use crate::schema::{Summary, Verdict};

/// Who judges a run: the scenario's gate (its thresholds, delivery checks and baseline),
/// unless the command the run was built for judges it itself (`capacity`).
pub struct Judging<'a> {
    pub gate: &'a Gate,
    pub baseline: Option<&'a Baseline>,
    pub own: Option<Judge>,
}

/// Where a run's reports go: `--out` (with the HTML report), JUnit and `--summary-json`.
pub struct Outputs<'a> {
    pub out: Option<&'a Path>,
    pub html: Option<&'a Path>,
    pub gate: &'a GateOptions,
}

/// Judges `summary` (filling in its verdict and printing the table), writes its files as they
/// were `made` and the CI's outputs; answers the verdict.
pub fn end(
    summary: &mut Summary,
    ending: &Ending,
    judging: Judging<'_>,
    made: Made<'_>,
    outputs: &Outputs<'_>,
) -> Result<Verdict, RunError> {
    let verdict = match judging.own {
        Some(judge) => judge(summary, ending),
        None => gate::judge(
            summary,
            judging.gate,
            judging.baseline,
            outputs.gate,
            ending,
        ),
    };
    if let Some(out) = outputs.out {
        reports::write(out, summary, made, outputs.html)?;
    }
    gate::write_outputs(summary, outputs.gate)?;
    Ok(verdict)
}
