//! The harness's health second by second, and what a run keeps of its seconds.
//!
//! Every second of the run is written to health.jsonl as it closes (by the run's writer of
//! that file), and none is kept in memory: a soak of a day has 86,400 of them, and a harness
//! that keeps each grows with the length of its run, not with its load. What the verdict needs
//! of them is kept instead, in a size that does not grow with a healthy run: how many there
//! were, the seconds in which the harness lagged (the report names each of them), and what the
//! rest of the machine did on average.

use std::time::Duration;

use super::machine::MachineSecond;

/// Scheduling lag p99 above this in any one second is a lag storm: every latency recorded in
/// that second may include tens of milliseconds of the harness's own delay. Higher than a
/// run's bound (the report's 10 ms for the whole run) because a second holds only about 100
/// lag samples, so its p99 is nearly its maximum: a busy machine's occasional 10-25 ms hiccup
/// is not a storm (the run's p99 still catches lag that persists).
pub const INTERVAL_LAG_P99_BOUND_US: u64 = 50_000;

/// One second of the harness's health (the last one of a run may be shorter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthSecond {
    /// When the second began, from the start of the run.
    pub start: Duration,
    pub length: Duration,
    /// Scheduling lag in this second, microseconds (0 without samples).
    pub lag_p99_us: u64,
    pub lag_max_us: u64,
    /// Share of all cores the process kept busy; `None` for a last, partial second.
    pub cpu_busy: Option<f64>,
    /// The whole machine in that second; `None` for a last, partial second, or without /proc.
    pub machine: Option<MachineSecond>,
}

/// What a run keeps of its seconds: enough to judge them, never all of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthSeconds {
    /// How many seconds closed.
    pub count: usize,
    /// The seconds whose lag p99 was over [`INTERVAL_LAG_P99_BOUND_US`], in order.
    pub lagging: Vec<HealthSecond>,
    /// The rest of the machine, summed over the seconds with both readings.
    pub others: OthersSums,
}

/// The rest of the machine's CPU, summed second by second: averaged by the report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OthersSums {
    /// Seconds with the process's and the machine's CPU read.
    pub seconds: u64,
    /// The machine's busy share less this process's, each second at least 0.
    pub busy: f64,
    /// The host's steal share.
    pub steal: f64,
}

impl HealthSeconds {
    /// Counts `second`, keeping it only when the harness lagged in it.
    pub fn add(&mut self, second: HealthSecond) {
        self.count += 1;
        if let (Some(own), Some(machine)) = (second.cpu_busy, second.machine) {
            self.others.seconds += 1;
            self.others.busy += (machine.busy - own).max(0.0);
            self.others.steal += machine.steal;
        }
        if second.lag_p99_us > INTERVAL_LAG_P99_BOUND_US {
            self.lagging.push(second);
        }
    }
}

impl FromIterator<HealthSecond> for HealthSeconds {
    fn from_iter<I: IntoIterator<Item = HealthSecond>>(seconds: I) -> Self {
        let mut kept = HealthSeconds::default();
        for second in seconds {
            kept.add(second);
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(at: u64, lag_p99_us: u64, cpu: Option<(f64, f64, f64)>) -> HealthSecond {
        HealthSecond {
            start: Duration::from_secs(at),
            length: Duration::from_secs(1),
            lag_p99_us,
            lag_max_us: lag_p99_us,
            cpu_busy: cpu.map(|(own, _, _)| own),
            machine: cpu.map(|(_, busy, steal)| MachineSecond { busy, steal }),
        }
    }

    #[test]
    fn an_hour_of_calm_seconds_keeps_none_of_them() {
        let kept: HealthSeconds = (0..3_600)
            .map(|at| second(at, 900, Some((0.3, 0.5, 0.01))))
            .collect();
        assert_eq!(kept.count, 3_600);
        assert!(kept.lagging.is_empty(), "{:?}", kept.lagging.first());
        assert_eq!(kept.lagging.capacity(), 0, "nothing was ever pushed");
        assert_eq!(kept.others.seconds, 3_600);
        assert!((kept.others.busy / 3_600.0 - 0.2).abs() < 1e-9);
        assert!((kept.others.steal / 3_600.0 - 0.01).abs() < 1e-9);
    }

    #[test]
    fn lagging_seconds_are_kept_and_partial_ones_only_counted() {
        let kept: HealthSeconds = [
            second(0, INTERVAL_LAG_P99_BOUND_US, Some((0.5, 0.4, 0.0))),
            second(1, INTERVAL_LAG_P99_BOUND_US + 1, Some((0.2, 0.9, 0.1))),
            second(2, 120_000, None),
        ]
        .into_iter()
        .collect();
        assert_eq!(kept.count, 3);
        let starts: Vec<u64> = kept.lagging.iter().map(|s| s.start.as_secs()).collect();
        assert_eq!(starts, [1, 2], "over the bound, not at it");
        // The process busier than the machine says (readings a moment apart) counts as 0.
        assert_eq!(kept.others.seconds, 2);
        assert!((kept.others.busy - 0.7).abs() < 1e-9, "{:?}", kept.others);
        assert!((kept.others.steal - 0.1).abs() < 1e-9);
    }
}
