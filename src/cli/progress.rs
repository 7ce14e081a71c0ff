//! The progress options of `run`: which display the library's run shows
//! (`run::progress::Mode`), and where JSON progress goes (`run::intervals::JsonProgress`).

use std::path::PathBuf;

use presence_bench::run::intervals::JsonProgress;
use presence_bench::run::progress::Mode;

/// The progress format asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Bar,
    Lines,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ProgressArgs {
    /// How progress is shown: `bar`, `lines`, or `json` (one JSON object per interval,
    /// docs/reports.md); by default a bar on a terminal, lines otherwise.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub progress: Option<Format>,
    /// With `--progress json`: write the objects to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub progress_file: Option<PathBuf>,
}

impl ProgressArgs {
    /// The bar or the lines; none with `--quiet` or when the progress is JSON.
    pub fn mode(&self, quiet: bool) -> Mode {
        match self.progress {
            Some(Format::Json) => Mode::Off,
            _ if quiet => Mode::Off,
            Some(Format::Bar) => Mode::Bar,
            Some(Format::Lines) => Mode::Lines,
            None => Mode::detect(false),
        }
    }

    /// Where JSON progress goes; `--progress-file` alone asks for JSON too. Asked for
    /// explicitly, it is written even with `--quiet`.
    pub fn json(&self) -> Option<JsonProgress> {
        match (&self.progress_file, self.progress) {
            (Some(path), _) => Some(JsonProgress::File(path.clone())),
            (None, Some(Format::Json)) => Some(JsonProgress::Stderr),
            (None, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_progress_replaces_the_bar_and_lines() {
        let json = ProgressArgs {
            progress: Some(Format::Json),
            progress_file: None,
        };
        assert_eq!(json.mode(false), Mode::Off);
        assert!(matches!(json.json(), Some(JsonProgress::Stderr)));
        let file = ProgressArgs {
            progress: None,
            progress_file: Some(PathBuf::from("p.jsonl")),
        };
        assert!(matches!(file.json(), Some(JsonProgress::File(_))));
        let lines = ProgressArgs {
            progress: Some(Format::Lines),
            progress_file: None,
        };
        assert_eq!(
            (lines.mode(false), lines.mode(true)),
            (Mode::Lines, Mode::Off)
        );
        assert!(lines.json().is_none());
    }
}
