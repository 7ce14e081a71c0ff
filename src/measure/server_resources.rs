//! The target's own CPU and memory over the run, scraped from its Prometheus metrics
//! (`target.metrics_url`; the embedded cluster's `/metrics` by default).
//!
//! A soak is judged on the server's side too: a leaking server answers every request while
//! its memory climbs, and nothing the harness times would say so. The series read are
//! `process_cpu_seconds_total` and `process_resident_memory_bytes`, which every Prometheus
//! client library exports, per `process` label when there is one (`serve --processes`).
//!
//! Bounded whatever the run's length: per process, a histogram of CPU use per scrape interval
//! and running sums for memory's least-squares slope over the steady part; no sample is kept,
//! but by a [`Feed`] a reader empties as it goes (`capacity`, per level).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use http::Method;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::net::http_client::HttpClient;
use crate::schema::{CpuFigures, MemoryFigures, ProcessResources, ServerResources, WindowCost};

/// The series read, under the names Prometheus client libraries give them.
pub const CPU_SERIES: &str = "process_cpu_seconds_total";
pub const MEMORY_SERIES: &str = "process_resident_memory_bytes";
/// The name of a server's one process when its series carry no `process` label.
pub const WHOLE: &str = "server";
/// Scrapes come this often: a hundredth of the run, from 1 s to 10 s (about 360 an hour).
const FASTEST: Duration = Duration::from_secs(1);
const SLOWEST: Duration = Duration::from_secs(10);
/// With a [`Feed`]: a capacity level's plateau may be as short as 2 s, and its CPU rate
/// takes two scrapes inside it, whatever the phase of the scrapes against the plateau's.
const FED: Duration = Duration::from_millis(500);
/// CPU use is kept in thousandths of a core-second per second.
const MILLI: f64 = 1000.0;

/// Running sums of a least-squares line through `(t, y)`.
#[derive(Debug, Default, Clone, Copy)]
struct Fit {
    n: f64,
    t: f64,
    y: f64,
    tt: f64,
    ty: f64,
}

impl Fit {
    fn add(&mut self, t: f64, y: f64) {
        self.n += 1.0;
        self.t += t;
        self.y += y;
        self.tt += t * t;
        self.ty += t * y;
    }

    /// Slope in y per unit of t; `None` with under 3 points or all at one t.
    fn slope(&self) -> Option<f64> {
        let spread = self.n * self.tt - self.t * self.t;
        (self.n >= 3.0 && spread > 0.0).then(|| (self.n * self.ty - self.t * self.y) / spread)
    }
}

/// What one process's series are folded into as scrapes come.
struct Track {
    last_cpu: Option<(f64, f64)>,
    cpu: Histogram<u64>,
    cpu_sum: f64,
    memory: MemoryFigures,
    fit: Fit,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            last_cpu: None,
            cpu: crate::measure::new_histogram(),
            cpu_sum: 0.0,
            memory: MemoryFigures::default(),
            fit: Fit::default(),
        }
    }
}

impl Track {
    /// One scrape `at` seconds into the run; `steady` when past the start of the steady part.
    fn add(&mut self, at: f64, steady: bool, cpu: Option<f64>, bytes: Option<u64>) {
        if let Some(cpu) = cpu {
            if let Some((before, cpu_before)) = self.last_cpu.filter(|(before, _)| at > *before) {
                let share = ((cpu - cpu_before) / (at - before)).max(0.0);
                // Recorded in thousandths; zero is kept as the histogram's least value.
                let _ = self.cpu.record(((share * MILLI).round() as u64).max(1));
                self.cpu_sum += share;
            }
            self.last_cpu = Some((at, cpu));
        }
        if let Some(bytes) = bytes {
            let memory = &mut self.memory;
            memory.samples += 1;
            memory.last_bytes = bytes;
            memory.max_bytes = memory.max_bytes.max(bytes);
            if steady {
                if self.fit.n == 0.0 {
                    memory.steady_first_bytes = bytes;
                }
                self.fit.add(at, bytes as f64);
            }
        }
    }

    fn figures(&self) -> ProcessResources {
        let intervals = self.cpu.len();
        let at = |q: f64| self.cpu.value_at_quantile(q) as f64 / MILLI;
        let cpu = (intervals > 0).then(|| CpuFigures {
            intervals,
            mean: self.cpu_sum / intervals as f64,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: self.cpu.max() as f64 / MILLI,
        });
        let memory = MemoryFigures {
            slope_bytes_per_hour: self.fit.slope().map(|per_s| per_s * 3600.0),
            ..self.memory
        };
        ProcessResources { cpu, memory }
    }
}

/// One process's series in one scrape: CPU seconds so far, resident bytes.
pub type Series = (Option<f64>, Option<u64>);

/// One scrape as it came: when (from the start of the run), and each process's series.
#[derive(Debug, Clone, PartialEq)]
pub struct Scrape {
    pub at: Duration,
    pub processes: BTreeMap<String, Series>,
}

/// The scrapes of a run as they come, for a reader that judges windows of the run while it
/// goes (`capacity`: what the server paid at each level). The reader takes them, so they are
/// kept only until it does; with a feed the scrapes come every half second ([`FED`]).
#[derive(Debug, Clone, Default)]
pub struct Feed(Arc<Mutex<Vec<Scrape>>>);

impl Feed {
    fn push(&self, scrape: Scrape) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(scrape);
    }

    /// The scrapes since the last take.
    pub fn take(&self) -> Vec<Scrape> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Folds the scrapes of a window into what it cost; `None` when no process has two CPU
/// readings and a memory reading in it (a window shorter than two scrapes, or no metrics).
pub fn window_cost(scrapes: &[Scrape]) -> Option<WindowCost> {
    let mut names: Vec<&String> = scrapes
        .iter()
        .flat_map(|scrape| scrape.processes.keys())
        .collect();
    names.sort();
    names.dedup();
    let (mut processes, mut cpu, mut memory) = (0u32, 0.0, 0.0);
    for name in names {
        let series = || {
            scrapes
                .iter()
                .filter_map(|scrape| Some((scrape.at, *scrape.processes.get(name)?)))
        };
        let cpus: Vec<(Duration, f64)> = series()
            .filter_map(|(at, (cpu, _))| Some((at, cpu?)))
            .collect();
        let bytes: Vec<u64> = series().filter_map(|(_, (_, bytes))| bytes).collect();
        let (Some(first), Some(last)) = (cpus.first(), cpus.last()) else {
            continue;
        };
        let span = last.0.saturating_sub(first.0).as_secs_f64();
        if span <= 0.0 || bytes.is_empty() {
            continue;
        }
        processes += 1;
        cpu += ((last.1 - first.1) / span).max(0.0);
        memory += bytes.iter().sum::<u64>() as f64 / bytes.len() as f64;
    }
    (processes > 0).then(|| WindowCost {
        processes,
        cpu_s_per_s: cpu / f64::from(processes),
        memory_bytes: (memory / f64::from(processes)).round() as u64,
    })
}

/// The two process series of one scrape, by process.
fn parse(text: &str) -> BTreeMap<String, Series> {
    let mut found: BTreeMap<String, Series> = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let (name, rest) = line.split_at(name_end);
        if name != CPU_SERIES && name != MEMORY_SERIES {
            continue;
        }
        let (labels, value) = match rest.strip_prefix('{') {
            Some(labelled) => labelled.split_once('}').unwrap_or((labelled, "")),
            None => ("", rest),
        };
        let Some(value) = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        let process = labels
            .split(',')
            .find_map(|label| label.trim().strip_prefix("process=\""))
            .and_then(|quoted| quoted.strip_suffix('"'))
            .unwrap_or(WHOLE);
        let entry = found.entry(process.to_owned()).or_default();
        if name == CPU_SERIES {
            entry.0 = Some(value);
        } else {
            entry.1 = Some(value as u64);
        }
    }
    found
}

/// How often a run of `duration` is scraped.
pub fn scrape_every(duration: Duration) -> Duration {
    (duration / 100).clamp(FASTEST, SLOWEST)
}

/// Scrapes `url` every [`scrape_every`] of `duration` (every [`FED`] with a `feed`, which gets
/// each scrape) until `stop`, timed from `started` (the run's start); memory's slope is fitted
/// from a fifth of `duration` on.
pub async fn watch(
    client: HttpClient,
    (url, feed): (String, Option<Feed>),
    (started, duration): (std::time::Instant, Duration),
    stop: CancellationToken,
) -> ServerResources {
    let started = Instant::from_std(started);
    let steady_from = duration / 5;
    let every = if feed.is_some() {
        FED
    } else {
        scrape_every(duration)
    };
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tracks: BTreeMap<String, Track> = BTreeMap::new();
    let (mut scrapes, mut failed) = (0, 0);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let answer = tokio::select! {
            () = stop.cancelled() => break,
            answer = client.request(Method::GET, &url) => answer,
        };
        let at = started.elapsed();
        let found = match answer {
            Ok((status, body)) if status.is_success() => parse(&String::from_utf8_lossy(&body)),
            _ => BTreeMap::new(),
        };
        if found.is_empty() {
            failed += 1;
            continue;
        }
        scrapes += 1;
        for (process, (cpu, bytes)) in &found {
            tracks.entry(process.clone()).or_default().add(
                at.as_secs_f64(),
                at >= steady_from,
                *cpu,
                *bytes,
            );
        }
        if let Some(feed) = &feed {
            feed.push(Scrape {
                at,
                processes: found,
            });
        }
    }
    let processes = tracks
        .iter()
        .map(|(process, track)| (process.clone(), track.figures()))
        .collect();
    ServerResources {
        url,
        scrapes,
        failed,
        steady_from_s: steady_from.as_secs_f64(),
        processes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_series_are_read_per_process() {
        let text = "# HELP process_cpu_seconds_total x\nprocess_cpu_seconds_total 1.5\n\
                    process_resident_memory_bytes 1048576\n\
                    presence_server_sessions{server=\"s1\"} 3\n";
        assert_eq!(parse(text).get(WHOLE), Some(&(Some(1.5), Some(1_048_576))));
        let text = "process_cpu_seconds_total{process=\"0\"} 2\n\
                    process_cpu_seconds_total{process=\"1\"} 3\n\
                    process_resident_memory_bytes{process=\"1\"} 10\n";
        let found = parse(text);
        assert_eq!(
            (found["0"], found["1"]),
            ((Some(2.0), None), (Some(3.0), Some(10)))
        );
        assert!(parse("presence_server_sessions 1\n").is_empty());
    }

    #[test]
    fn memory_slope_is_fitted_over_the_steady_part_only() {
        let mut track = Track::default();
        // 1 MiB a second during the ramp (not steady), then 10 KiB a second.
        for second in 0..10u32 {
            track.add(
                f64::from(second),
                false,
                None,
                Some(u64::from(second) << 20),
            );
        }
        for second in 10..20u32 {
            track.add(
                f64::from(second),
                true,
                None,
                Some((10 << 20) + u64::from(second - 10) * 10_240),
            );
        }
        let memory = track.figures().memory;
        let slope = memory.slope_bytes_per_hour.unwrap();
        assert!((slope - 10_240.0 * 3600.0).abs() < 1.0, "{slope}");
        assert_eq!(
            (memory.samples, memory.steady_first_bytes, memory.max_bytes),
            (20, 10 << 20, (10 << 20) + 92_160)
        );
    }

    #[test]
    fn a_window_costs_the_mean_per_process_of_cpu_between_its_ends_and_of_memory() {
        let scrape = |at: u64, figures: &[(&str, Series)]| Scrape {
            at: Duration::from_secs(at),
            processes: figures
                .iter()
                .map(|(name, series)| ((*name).to_owned(), *series))
                .collect(),
        };
        let scrapes = [
            scrape(
                10,
                &[("0", (Some(5.0), Some(100))), ("1", (Some(1.0), Some(300)))],
            ),
            scrape(
                11,
                &[("0", (Some(5.2), Some(200))), ("1", (Some(1.0), None))],
            ),
            scrape(
                12,
                &[("0", (Some(6.0), Some(300))), ("1", (Some(2.0), Some(500)))],
            ),
        ];
        // Process 0: 1 s over 2 s, 200 bytes; process 1: 1 s over 2 s, 400 bytes.
        let cost = window_cost(&scrapes).unwrap();
        assert_eq!((cost.processes, cost.memory_bytes), (2, 300));
        assert!((cost.cpu_s_per_s - 0.5).abs() < 1e-9, "{cost:?}");
        assert_eq!(
            window_cost(&scrapes[..1]),
            None,
            "one scrape gives no CPU rate"
        );
        assert_eq!(window_cost(&[]), None);
    }

    #[test]
    fn cpu_is_seconds_per_second_between_scrapes() {
        let mut track = Track::default();
        for (at, cpu) in [(0.0, 10.0), (1.0, 10.5), (3.0, 11.1), (4.0, 11.9)] {
            track.add(at, true, Some(cpu), None);
        }
        let cpu = track.figures().cpu.unwrap();
        assert_eq!(cpu.intervals, 3);
        assert!(
            (cpu.max - 0.8).abs() < 0.01 && (cpu.p50 - 0.5).abs() < 0.01,
            "{cpu:?}"
        );
        assert!(
            Track::default().figures().cpu.is_none()
                && Track::default()
                    .figures()
                    .memory
                    .slope_bytes_per_hour
                    .is_none()
        );
    }
}
