//! Live progress of a run: an indicatif bar on a terminal, plain periodic lines on stderr
//! when stdout is not a terminal or `CI` is set (logs stay readable), nothing with `--quiet`.
//! JSON progress (`--progress json`) is not drawn here: the interval writers
//! (`run::intervals`) write it, as the same rows as timeline.jsonl.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::measure::Live;
use crate::report::table::micros;
use crate::scenario::Load;

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

/// The running display; `finish` clears the bar before the report is printed.
pub struct Progress {
    task: JoinHandle<()>,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn start(
        mode: Mode,
        live: watch::Receiver<Live>,
        total: Duration,
        load: Load,
    ) -> Option<Progress> {
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

async fn show(
    mut live: watch::Receiver<Live>,
    total: Duration,
    load: Load,
    bar: Option<ProgressBar>,
) {
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
    let (target, stage) = load.target_and_stage(live.elapsed);
    let stages = match load {
        Load::Stages(stages) => stages.len(),
        Load::ArrivalRate { .. } => 1,
    };
    let mut line = format!(
        "{:>5.1}s/{:.0}s  stage {}/{}  visitors {}/{}  msgs/s {:.0}  presence_ack p99 {}  errors \
         {}",
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
        line += &format!(
            "  waiting {}, oldest {:.1}s",
            live.waiting.requests,
            live.waiting.oldest.as_secs_f64()
        );
    }
    line
}

/// How long the oldest request must have waited before the line shows the waiting ones: far
/// above a healthy answer, so that a working run's line stays as it was.
const STALLED: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::WaitingNow;
    use crate::scenario::Stage;

    #[test]
    fn the_status_line_has_every_figure() {
        let load = Load::Stages(vec![
            Stage {
                from: 0,
                to: 1000,
                over: Duration::from_secs(8),
            },
            Stage {
                from: 1000,
                to: 1000,
                over: Duration::from_secs(12),
            },
        ]);
        let live = Live {
            elapsed: Duration::from_secs(10),
            visitors_live: 990,
            messages_per_second: 1530.4,
            presence_ack_p99_us: 1200,
            errors: 3,
            waiting: WaitingNow {
                requests: 0,
                oldest: Duration::ZERO,
            },
        };
        assert_eq!(
            status(&live, Duration::from_secs(30), &load),
            " 10.0s/30s  stage 2/2  visitors 990/1000  msgs/s 1530  presence_ack p99 1.20ms  \
             errors 3"
        );
        assert_eq!(Mode::detect(true), Mode::Off);
        let stalled = Live {
            messages_per_second: 0.0,
            presence_ack_p99_us: 0,
            waiting: WaitingNow {
                requests: 812,
                oldest: Duration::from_millis(4150),
            },
            ..live
        };
        assert_eq!(
            status(&stalled, Duration::from_secs(30), &load),
            " 10.0s/30s  stage 2/2  visitors 990/1000  msgs/s 0  presence_ack p99 0us  errors 3  \
             waiting 812, oldest 4.2s"
        );
    }
}
