//! What the rest of the machine did during the run. On a shared CI runner a neighbour (another
//! job, a build) takes CPU from the server and the harness alike, without the harness lagging
//! enough to call itself limited: the server's latencies then measure the neighbour, and a
//! comparison with a baseline goes red on a build that did not change. Reruns of one build
//! here went red exactly so (docs/ci.md, "False alarms, measured").

use crate::client::host;
use crate::measure::health::OthersSums;
use crate::schema::{Neighbours, ServerResources};

/// Other work keeping at least this many cores busy on average makes latencies compared with
/// a baseline unjudgeable. A quiet machine runs well under a tenth of a core besides the run.
const BUSY_CORES_BOUND: f64 = 0.25;
/// The host keeping at least this share of the machine's CPU for itself (steal), on average.
const STEAL_BOUND: f64 = 0.10;

impl Neighbours {
    /// The average of the run's seconds, summed as they closed; `None` without /proc (no
    /// machine readings).
    pub fn of(others: &OthersSums, cores: usize) -> Option<Neighbours> {
        if others.seconds == 0 {
            return None;
        }
        let n = others.seconds as f64;
        Some(Neighbours {
            cores: others.busy / n * cores as f64,
            steal: others.steal / n,
        })
    }

    /// Why latencies compared with a baseline cannot be judged, or `None` when the machine was
    /// quiet enough. `local_server_cores`: the target's own CPU when it runs on this machine
    /// (a `serve` beside the harness is not a neighbour).
    pub fn disturbance(&self, local_server_cores: f64) -> Option<String> {
        let others = (self.cores - local_server_cores).max(0.0);
        (others >= BUSY_CORES_BOUND || self.steal >= STEAL_BOUND).then(|| {
            format!(
                "the machine was busy besides this run: other processes kept {others:.2} cores \
                 busy on average \
                 (bound {BUSY_CORES_BOUND}), host steal {:.0}% (bound {:.0}%)",
                self.steal * 100.0,
                STEAL_BOUND * 100.0
            )
        })
    }
}

/// The target's CPU (seconds per second, all its processes) when it runs on this machine in
/// a process of its own (a loopback `metrics_url`); 0 otherwise, and for the embedded server,
/// whose CPU is this process's (summary.json's `target` then says `embedded`).
pub fn local_server_cores(target: &str, resources: Option<&ServerResources>) -> f64 {
    if target.starts_with("embedded") {
        return 0.0;
    }
    let on_this_machine = |url: &str| host::host_of(url).is_some_and(|h| host::is_loopback(&h));
    let Some(resources) = resources.filter(|r| on_this_machine(&r.url)) else {
        return 0.0;
    };
    resources
        .processes
        .values()
        .filter_map(|process| process.cpu.map(|cpu| cpu.mean))
        .sum()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::health::{HealthSecond, HealthSeconds};
    use crate::measure::machine::MachineSecond;
    use crate::schema::{CpuFigures, ProcessResources};

    fn second(own: f64, busy: f64, steal: f64) -> HealthSecond {
        HealthSecond {
            start: Duration::ZERO,
            length: Duration::from_secs(1),
            lag_p99_us: 0,
            lag_max_us: 0,
            cpu_busy: Some(own),
            machine: Some(MachineSecond { busy, steal }),
        }
    }

    /// The neighbours of a run of `seconds`.
    fn of(seconds: &[HealthSecond], cores: usize) -> Option<Neighbours> {
        let kept: HealthSeconds = seconds.iter().copied().collect();
        Neighbours::of(&kept.others, cores)
    }

    #[test]
    fn what_the_rest_of_the_machine_did_is_the_machine_less_this_process() {
        // Two cores: this process used 40% of them, the machine 40% then 100% (a build began).
        let quiet = of(&[second(0.4, 0.42, 0.0), second(0.4, 0.43, 0.0)], 2).unwrap();
        assert!((quiet.cores - 0.05).abs() < 1e-9, "{quiet:?}");
        assert_eq!(quiet.disturbance(0.0), None);

        let busy = of(&[second(0.4, 0.4, 0.0), second(0.4, 1.0, 0.0)], 2).unwrap();
        assert!((busy.cores - 0.6).abs() < 1e-9, "{busy:?}");
        let reason = busy
            .disturbance(0.0)
            .expect("a neighbour's build disturbs the comparison");
        assert!(reason.contains("0.60 cores"), "{reason}");
        // The same CPU spent by the target's own process beside the harness is no neighbour.
        assert_eq!(busy.disturbance(0.5), None);

        let stolen = of(&[second(0.4, 0.4, 0.2)], 2).unwrap();
        assert!(stolen
            .disturbance(0.0)
            .is_some_and(|r| r.contains("host steal 20%")));

        let no_proc = HealthSecond {
            machine: None,
            ..second(0.4, 0.0, 0.0)
        };
        assert_eq!(of(&[no_proc], 2), None);
    }

    #[test]
    fn only_a_server_of_its_own_on_this_machine_counts_as_the_targets_cpu() {
        let resources = |url: &str| {
            let cpu = Some(CpuFigures {
                mean: 0.5,
                ..CpuFigures::default()
            });
            let process = ProcessResources {
                cpu,
                ..ProcessResources::default()
            };
            ServerResources {
                url: url.into(),
                processes: [("s".to_owned(), process)].into(),
                ..ServerResources::default()
            }
        };
        let url = "http://127.0.0.1:7300";
        assert_eq!(
            local_server_cores(url, Some(&resources("http://127.0.0.1:7300/metrics"))),
            0.5
        );
        assert_eq!(
            local_server_cores(url, Some(&resources("http://localhost:7300/metrics"))),
            0.5
        );
        assert_eq!(
            local_server_cores(url, Some(&resources("http://10.0.0.7:7300/metrics"))),
            0.0
        );
        assert_eq!(local_server_cores(url, None), 0.0);
        let embedded = resources("http://127.0.0.1:41000/metrics");
        assert_eq!(
            local_server_cores("embedded (3 instances)", Some(&embedded)),
            0.0,
            "its CPU is ours"
        );
    }
}
