//! The shards' summaries of a split run become the whole run's report, judged once on the
//! merged totals and written by the ending every run has (`ending`: the gate, `--out`, JUnit),
//! from the scenario the shards recorded. With `out`, the shards' interval files are merged
//! too (so `report DIR` draws the merged run), and with `html` the run's HTML report is drawn
//! from them. A library call beside [`run`](super::run), so that the `merge` command, `run
//! --processes` and a program of its own all merge one way.
//!
//! Shards of a command that judges its own runs (a split capacity search) are recognized and
//! judged by it ([`Merge::own_judge`]): that command is built on `run`, so it is handed in
//! rather than imported.

use std::path::{Path, PathBuf};

use super::ending::{self, Judging, Outputs};
use super::gate::{self, Gate, GateOptions};
use super::reports::Made;
use super::{Judge, RunError, RunResult};
use crate::report::merge::{self, MergeError, Merged, ShardSummary};
use crate::report::shard_table;
use crate::report::verdict::Ending;
use crate::scenario::{self, Plan};
use crate::schema::{RunId, Summary};

/// A merge: the shards it is given, and where and how the merged run is reported.
pub struct Merge<'a> {
    /// The shards' output directories (each with the summary.json of `run --shard K/N --out`).
    pub dirs: &'a [PathBuf],
    /// The run they must all be of, when known.
    pub run_id: Option<&'a RunId>,
    /// Judge the shards present when some are missing (the report says partial).
    pub allow_missing: bool,
    /// Directory for the merged summary.json and interval files (created if missing).
    pub out: Option<&'a Path>,
    /// The merged run's HTML report (with `out`).
    pub html: Option<&'a Path>,
    /// JUnit, `--summary-json`, baseline and tolerance.
    pub gate: &'a GateOptions,
    /// Recognizes the shards of a command that judges them itself (`capacity::merge::judge`).
    pub own_judge: Option<OwnJudge>,
}

/// Told the shards, their merge and the scenario, answers the judgement of the command they
/// were run for, or `None` when they are not its own (the scenario's gate judges them).
pub type OwnJudge =
    fn(&[ShardSummary], &Merged, &Plan, &GateOptions) -> Result<Option<Judge>, MergeError>;

/// Merges the summaries in `merge.dirs`, judges, prints and writes the merged run. A missing
/// shard leaves the run without a verdict (exit 3) unless `allow_missing`.
pub fn merge(merge: &Merge<'_>) -> Result<RunResult, RunError> {
    if let Some(out) = merge.out {
        std::fs::create_dir_all(out).map_err(RunError::unwritable(format!(
            "--out {}: cannot create the directory",
            out.display()
        )))?;
    }
    if let Some(html) = merge.html {
        gate::check_file(html)?;
    }
    gate::check_writable(None, merge.gate)?;
    let (shards, present) = read_shards(merge.dirs, merge.run_id)?;
    if shards.is_empty() {
        return Err(RunError::NoShards(format!(
            "no shard left a summary.json in {}",
            list(merge.dirs)
        )));
    }
    let mut merged = merge::merge(&shards)?;
    let origin = format!(
        "{} (shard.scenario_text)",
        merge.dirs[0].join("summary.json").display()
    );
    let plan = scenario::from_str(&merged.info.scenario_text, &origin)?;
    let baseline = gate::read_baseline(merge.gate, &plan.name)?;
    merged.summary.partial = merge.allow_missing && !merged.missing.is_empty();
    eprint!("{}", shard_table::render(&merged.summary));
    let own = match merge.own_judge {
        Some(recognize) => recognize(&shards, &merged, &plan, merge.gate)?,
        None => None,
    };
    let ending = Ending {
        interrupted: merged.interrupted.is_some(),
        target_down: merged.target_down,
    };
    let mut summary = merged.summary;
    let judging = Judging {
        gate: &Gate::of(&plan),
        baseline: baseline.as_ref(),
        own,
    };
    let outputs = Outputs {
        out: merge.out,
        html: merge.html,
        gate: merge.gate,
    };
    let made = Made::Merged { shards: &present };
    let verdict = ending::end(&mut summary, &ending, judging, made, &outputs)?;
    Ok(RunResult {
        summary,
        verdict,
        forced: false,
    })
}

/// The summaries of the shards in `dirs` that left one, and their directories. A shard
/// without one is missing (said here, counted by the merge); one that cannot be read, or is
/// of another run than `run_id`, is refused.
fn read_shards(
    dirs: &[PathBuf],
    run_id: Option<&RunId>,
) -> Result<(Vec<ShardSummary>, Vec<PathBuf>), RunError> {
    let mut shards = Vec::new();
    let mut present = Vec::new();
    for dir in dirs {
        let file = dir.join("summary.json");
        // `run` creates summary.json empty before it starts, to find an unwritable path early.
        if std::fs::metadata(&file).map_or(true, |meta| meta.len() == 0) {
            eprintln!(
                "warning: {}: no summary (the shard did not run or finish); counted as missing",
                file.display()
            );
            continue;
        }
        let summary = Summary::read(&file).map_err(RunError::Shard)?;
        if run_id.is_some() && summary.run_id.as_ref() != run_id {
            let found = summary
                .run_id
                .map_or_else(|| "none".to_owned(), |id| id.to_string());
            return Err(RunError::Shard(format!(
                "{}: of run {found}, not of run {} (--run-id): left over from another run in a \
                 reused directory?",
                file.display(),
                run_id.map(RunId::as_str).unwrap_or_default()
            )));
        }
        shards.push(ShardSummary { file, summary });
        present.push(dir.clone());
    }
    Ok((shards, present))
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|dir| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
