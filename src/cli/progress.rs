//! Live progress of a run: an indicatif bar on a terminal, plain periodic lines on stderr
//! when stdout is not a terminal or `CI` is set (logs stay readable), nothing with `--quiet`,
//! or with `--progress json` one JSON object per interval for CI logs and wrappers (written
//! by the interval writers, `cli::intervals`, as the same rows as timeline.jsonl).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use presence_bench::measure::prometheus::target_and_stage;
use presence_bench::measure::Live;
use presence_bench::report::table::micros;
use presence_bench::scenario::Load;

use super::intervals::JsonProgress;

/// How often a plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bar,
    Lines,
    Off,
}

impl Mode {
    /// Bars only for a person at a terminal; CI and redirected output get lines.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Off
        } else if std::io::stdout().is_terminal() && std::env::var_os("CI").is_none() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

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

/// The running display; `finish` clears the bar before the report is printed.
pub struct Progress {
    task: JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn start(mode: Mode, live: watch::Receiver<Live>, total: Duration, load: Load) -> Option<Progress> {
        let bar = match mode {
            Mode::Off => return None,
            Mode::Lines => None,
            Mode::Bar => {
                let bar = ProgressBar::new(total.as_millis() as u64);
                let style = ProgressStyle::with_template("{spinner} [{bar:24.cyan/blue}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.enable_steady_tick(Duration::from_millis(200));
                Some(bar)
            }
        };
        let task = tokio::spawn(show(live, total, load, bar.clone()));
        Some(Progress { task, bar })
    }

    pub fn finish(self) {
        self.task.abort();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

async fn show(mut live: watch::Receiver<Live>, total: Duration, load: Load, bar: Option<ProgressBar>) {
    let mut last_line = Instant::now();
    while live.changed().await.is_ok() {
        let now = live.borrow_and_update().clone();
        let line = status(&now, total, &load);
        match &bar {
            Some(bar) => {
                bar.set_position(now.elapsed.as_millis() as u64);
                bar.set_message(line);
            }
            None if last_line.elapsed() >= PLAIN_EVERY => {
                last_line = Instant::now();
                eprintln!("{line}");
            }
            None => {}
        }
    }
}

/// `12.0s/30s  stage 2/3  visitors 812/1000  msgs/s 1530  presence_ack p99 1.20ms  errors 0`,
/// and `  waiting 800, oldest 4.1s` while requests wait longer than an interval: during a
/// stall nothing is received and nothing measured, so rates and percentiles read zero.
pub fn status(live: &Live, total: Duration, load: &Load) -> String {
    let (target, stage) = target_and_stage(load, live.elapsed);
    let stages = match load {
        Load::Stages(stages) => stages.len(),
        Load::ArrivalRate { .. } => 1,
    };
    let mut line = format!(
        "{:>5.1}s/{:.0}s  stage {}/{}  visitors {}/{}  msgs/s {:.0}  presence_ack p99 {}  errors {}",
        live.elapsed.as_secs_f64(),
        total.as_secs_f64(),
        stage + 1,
        stages,
        live.visitors_live,
        target,
        live.messages_per_second,
        micros(live.presence_ack_p99_us),
        live.errors
    );
    if live.waiting.oldest >= STALLED {
        line += &format!("  waiting {}, oldest {:.1}s", live.waiting.requests, live.waiting.oldest.as_secs_f64());
    }
    line
}

/// How long the oldest request must have waited before the line shows the waiting ones: far
/// above a healthy answer, so that a working run's line stays as it was.
const STALLED: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use presence_bench::measure::WaitingNow;
    use presence_bench::scenario::Stage;

    #[test]
    fn the_status_line_has_every_figure() {
        let load = Load::Stages(vec![
            Stage { from: 0, to: 1000, over: Duration::from_secs(8) },
            Stage { from: 1000, to: 1000, over: Duration::from_secs(12) },
        ]);
        let live = Live {
            elapsed: Duration::from_secs(10),
            visitors_live: 990,
            messages_per_second: 1530.4,
            presence_ack_p99_us: 1200,
            errors: 3,
            waiting: WaitingNow { requests: 0, oldest: Duration::ZERO },
        };
        assert_eq!(
            status(&live, Duration::from_secs(30), &load),
            " 10.0s/30s  stage 2/2  visitors 990/1000  msgs/s 1530  presence_ack p99 1.20ms  errors 3"
        );
        assert_eq!(Mode::detect(true), Mode::Off);
        let stalled = Live {
            messages_per_second: 0.0,
            presence_ack_p99_us: 0,
            waiting: WaitingNow { requests: 812, oldest: Duration::from_millis(4150) },
            ..live
        };
        assert_eq!(
            status(&stalled, Duration::from_secs(30), &load),
            " 10.0s/30s  stage 2/2  visitors 990/1000  msgs/s 0  presence_ack p99 0us  errors 3  waiting 812, oldest 4.2s"
        );
    }

    #[test]
    fn json_progress_replaces_the_bar_and_lines() {
        let json = ProgressArgs { progress: Some(Format::Json), progress_file: None };
        assert_eq!(json.mode(false), Mode::Off);
        assert!(matches!(json.json(), Some(JsonProgress::Stderr)));
        let file = ProgressArgs { progress: None, progress_file: Some(PathBuf::from("p.jsonl")) };
        assert!(matches!(file.json(), Some(JsonProgress::File(_))));
        let lines = ProgressArgs { progress: Some(Format::Lines), progress_file: None };
        assert_eq!((lines.mode(false), lines.mode(true)), (Mode::Lines, Mode::Off));
        assert!(lines.json().is_none());
    }
}
