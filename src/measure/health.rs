//! The harness's own health: how much CPU and memory the process uses, and how late its
//! timers fire (scheduling lag). A load generator that is itself saturated measures its own
//! queueing, not the server; these figures let the report say so.
//!
//! One task, off the hot path: it sleeps [`LAG_PERIOD`], records how late it woke, and once a
//! second reads `/proc/self/stat` and `/proc/self/statm` (Linux; elsewhere the process figures
//! stay 0). Open files are counted from `/proc/self/fd` only every [`FDS_EVERY`], on a blocking
//! thread: listing 19,000 sockets there takes 15-20 ms of kernel time, which, done on a worker
//! every second, stalled every visitor of that worker for as long. Each second's lag and CPU use is
//! handed on as it closes (to health.jsonl), so the report can say *when* the harness was the
//! bottleneck: a lag storm of two seconds hides in a whole run's p99, not in the second it
//! happened. The monitor itself keeps only what judging the seconds needs ([`HealthSeconds`]),
//! so that a run of a day holds no more than a run of a minute.
//!
//! The timeline and the run's lag end when the visitors start closing their sessions (the
//! `closing` token, see `visitor::Closing`): every request has settled by then, so nothing
//! measured can carry the closing's lag. That lag is kept apart, as [`ClosingHealth`].
//!
//! Every [`heap::HARNESS_TRIM_EVERY`] the probe also hands the heap's free pages back to the
//! system, so that the burst a stalled harness meets when it wakes does not stay resident.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use super::health_seconds::{
    HealthSecond, HealthSeconds, OthersSums, INTERVAL_LAG_P99_BOUND_US,
};
use super::machine::{self, MachineSecond};
use super::pace::PaceProbe;
use super::recorder::{new_histogram, record_duration};
use crate::heap;
use crate::runtime;
use crate::schema::Pace;

/// How often the lag probe wakes. Tokio's timer has millisecond resolution, so a healthy
/// runtime shows lags below about 1 ms.
pub const LAG_PERIOD: Duration = Duration::from_millis(10);
/// How often process figures are read.
const PROCESS_EVERY: Duration = Duration::from_secs(1);
/// How often open files are counted (a gauge; between counts it keeps the last one).
const FDS_EVERY: Duration = Duration::from_secs(10);
/// A one-second sample with at least this share of all cores busy counts as saturated.
pub const SATURATED_SHARE: f64 = 0.9;

/// Process figures read from /proc.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessSample {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub open_fds: u64,
}

#[derive(Default)]
struct State {
    /// Lag samples (microseconds) since the exporter last took them.
    lag_interval: Option<Histogram<u64>>,
    /// Lag samples since a window of the run last took them (`capacity`'s levels).
    lag_window: Option<Histogram<u64>>,
    lag_total: Option<Histogram<u64>>,
    /// Lag samples of the second under way, and what is kept of the seconds before it.
    lag_second: Option<Histogram<u64>>,
    seconds: HealthSeconds,
    /// The seconds since a window of the run last took them, once a reader asked for them.
    window_seconds: Option<Vec<HealthSecond>>,
    /// The whole machine's last second.
    machine: Option<MachineSecond>,
    /// Lag samples since the closing began, and when it began.
    lag_closing: Option<Histogram<u64>>,
    closing_since: Option<Instant>,
    process: ProcessSample,
    peak_rss_bytes: u64,
    /// One-second CPU samples, and how many of them were saturated.
    cpu_samples: u32,
    cpu_saturated: u32,
}

/// Read access to the monitor's figures, for the exporter.
#[derive(Clone)]
pub struct HealthHandle {
    state: Arc<Mutex<State>>,
}

impl HealthHandle {
    /// Latest process figures.
    pub fn process(&self) -> ProcessSample {
        lock(&self.state).process
    }

    /// The whole machine's last second, where /proc/stat is there.
    pub fn machine(&self) -> Option<MachineSecond> {
        lock(&self.state).machine
    }

    /// From now on keeps each second that closes for [`Self::take_window_seconds`]: the
    /// windows of a run (`capacity`'s levels) are judged on their seconds. A run without such
    /// a reader keeps none.
    pub fn keep_window_seconds(&self) {
        lock(&self.state)
            .window_seconds
            .get_or_insert_with(Vec::new);
    }

    /// The seconds closed since the last call (or since [`Self::keep_window_seconds`]).
    pub fn take_window_seconds(&self) -> Vec<HealthSecond> {
        lock(&self.state)
            .window_seconds
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Lag samples since the last call (microseconds), leaving an empty histogram behind.
    pub fn take_lag_interval(&self) -> Histogram<u64> {
        let mut state = lock(&self.state);
        let fresh = new_histogram();
        state
            .lag_interval
            .replace(fresh)
            .unwrap_or_else(new_histogram)
    }

    /// The same for a window of the run, a reader apart from the exporter's: the exact lag
    /// of a window, which its seconds' p99s do not give.
    pub fn take_lag_window(&self) -> Histogram<u64> {
        let mut state = lock(&self.state);
        let fresh = new_histogram();
        state
            .lag_window
            .replace(fresh)
            .unwrap_or_else(new_histogram)
    }
}

/// What the monitor saw over the whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
    /// Cores the process may use.
    pub cores: usize,
    pub cpu_samples: u32,
    /// One-second samples with at least [`SATURATED_SHARE`] of all cores busy.
    pub cpu_saturated_samples: u32,
    pub lag_p99_us: u64,
    pub lag_max_us: u64,
    /// What is kept of the seconds from the start of the run until the closing (each of them
    /// went to the monitor's `rows` as it closed).
    pub seconds: HealthSeconds,
    /// The closing of the sessions, when the run got that far.
    pub closing: Option<ClosingHealth>,
    /// The machine's pace over the run (`pace`).
    pub pace: Option<Pace>,
}

/// The sessions' closing at the end of a run: not judged, nothing is measured then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosingHealth {
    pub length: Duration,
    pub lag_max_us: u64,
}

/// The running monitor: stop it to get its report.
pub struct Monitor {
    handle: HealthHandle,
    stop: CancellationToken,
    task: JoinHandle<()>,
    pace: Option<PaceProbe>,
}

impl Monitor {
    /// Starts the probe task on the current runtime; its seconds count from `run_start`, end
    /// when `closing` is cancelled, and go to `rows` (health.jsonl) as each closes.
    pub fn start(
        run_start: std::time::Instant,
        closing: CancellationToken,
        rows: Option<UnboundedSender<HealthSecond>>,
    ) -> Monitor {
        let state = State {
            lag_interval: Some(new_histogram()),
            lag_window: Some(new_histogram()),
            lag_total: Some(new_histogram()),
            lag_second: Some(new_histogram()),
            lag_closing: Some(new_histogram()),
            ..State::default()
        };
        let handle = HealthHandle {
            state: Arc::new(Mutex::new(state)),
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(probe(
            Seconds {
                handle: handle.clone(),
                rows,
            },
            Instant::from_std(run_start),
            closing,
            stop.clone(),
        ));
        Monitor {
            handle,
            stop,
            task,
            pace: PaceProbe::start(),
        }
    }

    pub fn handle(&self) -> HealthHandle {
        self.handle.clone()
    }

    /// Cancels the probe, awaits it, and answers what it saw.
    pub async fn stop(self) -> HealthReport {
        self.stop.cancel();
        // The probe does not panic; if it did, the figures gathered so far still stand.
        let _ = self.task.await;
        // The pace probe ends within one probe of being told; its thread is joined off the
        // workers all the same.
        let pace = match self.pace {
            Some(pace) => tokio::task::spawn_blocking(move || pace.stop())
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let mut state = lock(&self.handle.state);
        let seconds = std::mem::take(&mut state.seconds);
        let closing = state.closing_since.map(|since| ClosingHealth {
            length: since.elapsed(),
            lag_max_us: state.lag_closing.as_ref().map_or(0, Histogram::max),
        });
        let lag = state.lag_total.as_ref();
        let at = |q| {
            lag.filter(|h| !h.is_empty())
                .map_or(0, |h| h.value_at_quantile(q))
        };
        HealthReport {
            cpu_seconds: state.process.cpu_seconds,
            peak_rss_bytes: state.peak_rss_bytes,
            cores: runtime::cores(),
            cpu_samples: state.cpu_samples,
            cpu_saturated_samples: state.cpu_saturated,
            lag_p99_us: at(0.99),
            lag_max_us: lag.filter(|h| !h.is_empty()).map_or(0, |h| h.max()),
            seconds,
            closing,
            pace,
        }
    }
}

/// Where the probe's seconds go as they close: what is kept of them, and the rows.
struct Seconds {
    handle: HealthHandle,
    /// Dropped with the probe, which ends the writer of the rows.
    rows: Option<UnboundedSender<HealthSecond>>,
}

async fn probe(
    seconds: Seconds,
    run_start: Instant,
    closing: CancellationToken,
    stop: CancellationToken,
) {
    let handle = &seconds.handle;
    let cores = runtime::cores() as f64;
    let mut last_process = (Instant::now(), read_process());
    update_process(handle, last_process.1, None);
    let mut fds_counted = last_process.0;
    let mut trimmed = last_process.0;
    let mut second = last_process.0;
    let mut last_machine = machine::read();
    let mut judged = true;
    loop {
        let due = Instant::now() + LAG_PERIOD;
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = closing.cancelled(), if judged => {
                // The second under way ends here, partial: what follows is the closing's.
                let now = Instant::now();
                close_second(
                    &seconds,
                    second.saturating_duration_since(run_start),
                    now - second,
                    (None, None),
                );
                lock(&handle.state).closing_since = Some(now);
                judged = false;
                continue;
            }
            () = tokio::time::sleep_until(due) => {}
        }
        let now = Instant::now();
        let late = now.saturating_duration_since(due);
        {
            let state = &mut *lock(&handle.state);
            let record = |histogram: &mut Option<Histogram<u64>>| {
                if let Some(histogram) = histogram {
                    record_duration(histogram, late);
                }
            };
            record(&mut state.lag_interval);
            if judged {
                record(&mut state.lag_window);
                record(&mut state.lag_total);
                record(&mut state.lag_second);
            } else {
                record(&mut state.lag_closing);
            }
        }
        if now - last_process.0 >= PROCESS_EVERY {
            let mut sample = ProcessSample {
                open_fds: last_process.1.open_fds,
                ..read_usage()
            };
            if now - fds_counted >= FDS_EVERY {
                // Off the workers; a count that failed keeps the last one.
                let counted = tokio::task::spawn_blocking(count_open_fds)
                    .await
                    .ok()
                    .flatten();
                sample.open_fds = counted.unwrap_or(sample.open_fds);
                fds_counted = now;
            }
            if now - trimmed >= heap::HARNESS_TRIM_EVERY {
                // Off the workers too: it walks the allocator's free lists.
                let _ = tokio::task::spawn_blocking(heap::trim).await;
                trimmed = now;
            }
            let wall = (now - last_process.0).as_secs_f64();
            let busy = (sample.cpu_seconds - last_process.1.cpu_seconds) / (wall * cores);
            update_process(handle, sample, judged.then_some(busy));
            let machine = machine::read();
            let machine_second = last_machine
                .zip(machine)
                .and_then(|(a, b)| MachineSecond::between(&a, &b));
            lock(&handle.state).machine = machine_second;
            if judged {
                close_second(
                    &seconds,
                    second.saturating_duration_since(run_start),
                    now - second,
                    (Some(busy), machine_second),
                );
            }
            last_machine = machine;
            last_process = (now, sample);
            second = now;
        }
    }
    update_process(handle, read_process(), None);
    if judged {
        let now = Instant::now();
        close_second(
            &seconds,
            second.saturating_duration_since(run_start),
            now - second,
            (None, None),
        );
    }
}

/// Closes the second under way, if its lag was sampled at all: kept as far as judging needs,
/// and handed on. `shares`: the process's and the machine's CPU in that second, for a whole
/// second.
fn close_second(
    seconds: &Seconds,
    start: Duration,
    length: Duration,
    (cpu_busy, machine): (Option<f64>, Option<MachineSecond>),
) {
    let mut state = lock(&seconds.handle.state);
    let Some(lag) = state
        .lag_second
        .replace(new_histogram())
        .filter(|lag| !lag.is_empty())
    else {
        return;
    };
    let second = HealthSecond {
        start,
        length,
        lag_p99_us: lag.value_at_quantile(0.99),
        lag_max_us: lag.max(),
        cpu_busy,
        machine,
    };
    state.seconds.add(second);
    if let Some(window) = &mut state.window_seconds {
        window.push(second);
    }
    if let Some(rows) = &seconds.rows {
        // The writer gone (its file failed) is its own error, answered at the end.
        let _ = rows.send(second);
    }
}

fn update_process(handle: &HealthHandle, sample: ProcessSample, busy_share: Option<f64>) {
    let mut state = lock(&handle.state);
    state.process = sample;
    state.peak_rss_bytes = state.peak_rss_bytes.max(sample.rss_bytes);
    if let Some(busy) = busy_share {
        state.cpu_samples += 1;
        if busy >= SATURATED_SHARE {
            state.cpu_saturated += 1;
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads the process figures; zeros where /proc is not there.
pub fn read_process() -> ProcessSample {
    ProcessSample {
        open_fds: count_open_fds().unwrap_or(0),
        ..read_usage()
    }
}

/// CPU time and resident memory (cheap: two small files); `open_fds` left 0.
fn read_usage() -> ProcessSample {
    let usage = crate::procfs::usage();
    ProcessSample {
        cpu_seconds: usage.cpu_seconds,
        rss_bytes: usage.rss_bytes,
        open_fds: 0,
    }
}

/// Open files of this process (costly with many sockets: one directory entry each).
fn count_open_fds() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count() as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn open_files_are_counted() {
        let live = read_process();
        assert!(live.rss_bytes > 0 && live.open_fds > 0, "{live:?}");
    }

    #[tokio::test]
    async fn each_second_is_handed_on_as_it_closes_and_only_a_lagging_one_kept() {
        let (rows, mut written) = tokio::sync::mpsc::unbounded_channel();
        let monitor = Monitor::start(
            std::time::Instant::now(),
            CancellationToken::new(),
            Some(rows),
        );
        let handle = monitor.handle();
        handle.keep_window_seconds();
        // Block this (current-thread) runtime past the bound: the probe must then wake late.
        let stall = Duration::from_micros(INTERVAL_LAG_P99_BOUND_US + 20_000);
        stall_then_await_the_probe(&handle, stall).await;
        let report = monitor.stop().await;
        assert!(
            report.lag_max_us >= INTERVAL_LAG_P99_BOUND_US,
            "lag max {}us",
            report.lag_max_us
        );
        assert!(report.cores >= 1);
        let second = written
            .recv()
            .await
            .expect("the partial second was handed on");
        assert!(
            second.lag_max_us >= INTERVAL_LAG_P99_BOUND_US && second.cpu_busy.is_none(),
            "{second:?}"
        );
        assert_eq!(
            written.recv().await,
            None,
            "one second, and the rows end with the monitor"
        );
        assert_eq!(report.seconds.count, 1);
        assert_eq!(report.seconds.lagging, [second], "a lag storm is kept");
        assert_eq!(handle.take_window_seconds(), [second]);
        assert!(handle.take_window_seconds().is_empty(), "taken once");
        assert_eq!(report.closing, None, "no closing began");
    }

    /// Blocks the (current-thread) runtime for `stall`, then waits until the probe woke.
    async fn stall_then_await_the_probe(handle: &HealthHandle, stall: Duration) {
        tokio::task::yield_now().await;
        std::thread::sleep(stall);
        while handle.take_lag_interval().is_empty() {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn lag_after_the_closing_began_is_kept_apart_from_the_judged_timeline() {
        let closing = CancellationToken::new();
        let (rows, mut written) = tokio::sync::mpsc::unbounded_channel();
        let monitor = Monitor::start(std::time::Instant::now(), closing.clone(), Some(rows));
        let handle = monitor.handle();
        stall_then_await_the_probe(&handle, Duration::from_millis(30)).await;
        closing.cancel();
        // The probe sees the closing before it sleeps again; then the closing's own stall.
        while lock(&handle.state).closing_since.is_none() {
            tokio::task::yield_now().await;
        }
        stall_then_await_the_probe(&handle, Duration::from_millis(120)).await;
        let report = monitor.stop().await;
        let closing = report.closing.expect("the closing is reported");
        assert!(closing.lag_max_us >= 100_000, "{closing:?}");
        assert!(
            report.lag_max_us >= 20_000 && report.lag_max_us < 100_000,
            "judged lag max {}us",
            report.lag_max_us
        );
        let second = written.recv().await.expect("the second before the closing");
        assert!(second.lag_max_us < 100_000, "{second:?}");
        assert_eq!(written.recv().await, None, "no second after the closing");
        assert_eq!(
            report.seconds.count, 1,
            "one partial second before the closing"
        );
    }
}
