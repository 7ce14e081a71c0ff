//! Runs made at different machine paces, compared at one: `compare` scales each run's latencies
//! by how long the machine took to wake an idle thread then (`measure::pace`, the first round
//! trip after the probe slept), so that a machine that slowed down between the baseline and the
//! run is not read as a slower server.
//!
//! Why that part of the probe: across 13 reruns of one build on this project's quiet 2-core
//! virtual machine, `presence_ack`'s p50 moved with it one for one (a fitted elasticity of
//! 1.06; 1.00 for `presence_propagation`, 0.94 for `connect`), and dividing by it halved their
//! run-to-run spread (14.1% to 6.9%). The probe's compute and system-call parts moved too, but
//! about a third as much as the latencies, so scaling by them corrects a third of the drift
//! (docs/ci.md, "Machine pace").
//!
//! Only where the server ran on the harness's machine (embedded, or a loopback target): there
//! the machine's pace is the server's too. A server elsewhere runs at its own machine's pace,
//! which this one says nothing about, so its runs are compared unscaled.

use crate::client::host;
use crate::schema::Summary;

/// The factors that bring each run to the judged runs' pace.
#[derive(Debug, Clone, PartialEq)]
pub struct Scales {
    /// The pace everything is brought to: the judged run's (the median of repeats).
    pub reference_us: f64,
    /// One factor per baseline run, in its order.
    pub baseline: Vec<f64>,
    /// One factor per judged run, in its order.
    pub current: Vec<f64>,
    /// The baseline runs' paces, slowest and fastest, for the table's note.
    pub baseline_us: (f64, f64),
}

impl Scales {
    /// The factors, when every run measured its pace against a server on its own machine;
    /// `None` otherwise (then nothing is scaled).
    pub fn of(baseline: &[Summary], current: &[Summary]) -> Option<Scales> {
        let paces = |runs: &[Summary]| -> Option<Vec<f64>> {
            runs.iter().map(local_pace).collect::<Option<Vec<f64>>>()
        };
        let (old, new) = (paces(baseline)?, paces(current)?);
        let mut sorted = new.clone();
        sorted.sort_by(f64::total_cmp);
        // The lower middle one, as `compare` takes the median of repeats.
        let reference_us = *sorted.get(sorted.len().checked_sub(1)? / 2)?;
        let factor = |pace: &f64| reference_us / pace;
        let fastest = old.iter().copied().fold(f64::INFINITY, f64::min);
        let slowest = old.iter().copied().fold(0.0, f64::max);
        Some(Scales {
            reference_us,
            baseline: old.iter().map(factor).collect(),
            current: new.iter().map(factor).collect(),
            baseline_us: (fastest, slowest),
        })
    }

    /// The table's note: `machine pace: this run woke an idle thread in 16.8us, the baseline's
    /// 15.5-20.5us; baseline latencies scaled x0.82-x1.08 to this run's pace`.
    pub fn note(&self) -> String {
        let (fastest, slowest) = self.baseline_us;
        let low = self.reference_us / slowest;
        let high = self.reference_us / fastest;
        let factors = if (high - low).abs() < 0.005 {
            format!("x{low:.2}")
        } else {
            format!("x{low:.2}-x{high:.2}")
        };
        format!(
            "machine pace: this run woke an idle thread in {:.1}us, the baseline's {:.1}-{:.1}us; \
             baseline latencies scaled {factors} to this run's pace",
            self.reference_us, fastest, slowest
        )
    }
}

/// The run's pace, if it measured one and its server ran on the harness's machine.
fn local_pace(run: &Summary) -> Option<f64> {
    let pace = run.harness.as_ref()?.pace?.cold_wakeup_us;
    if pace <= 0.0 {
        return None;
    }
    server_on_this_machine(&run.target).then_some(pace)
}

/// `embedded (...)`, or a URL of this machine.
fn server_on_this_machine(target: &str) -> bool {
    target.starts_with("embedded")
        || host::host_of(target).is_some_and(|host| host::is_loopback(&host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{HarnessSummary, Pace};

    fn run(target: &str, pace: Option<f64>) -> Summary {
        let mut s: Summary = serde_json::from_str(concat!(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":10.0,"target":"x",
                "visitors":{"started":1,"completed":1,"peak":1},"metrics":{},"counters":{},"#,
            r#""errors":{},
                "harness":{"cpu_seconds":1.0,"cores":2,"cpu_saturated_share":0.0,"peak_rss_bytes":1,
                "scheduling_lag":{"unit":"us","p99":1,"max":1},"verdict":"trusted","reasons":[]}}"#,
        ))
        .unwrap();
        s.target = target.to_owned();
        let harness: &mut HarnessSummary = s.harness.as_mut().unwrap();
        harness.pace = pace.map(|cold_wakeup_us| Pace {
            compute_us: 400.0,
            syscalls_us: 50.0,
            wakeup_us: 4.0,
            cold_wakeup_us,
        });
        s
    }

    #[test]
    fn runs_are_brought_to_the_judged_run_s_pace() {
        let baseline = [
            run("embedded (3 instances)", Some(500.0)),
            run("embedded", Some(400.0)),
        ];
        let current = [run("http://127.0.0.1:7300", Some(600.0))];
        let scales = Scales::of(&baseline, &current).unwrap();
        assert_eq!(scales.reference_us, 600.0);
        assert_eq!(scales.baseline, [1.2, 1.5]);
        assert_eq!(scales.current, [1.0]);
        assert_eq!(
            scales.note(),
            "machine pace: this run woke an idle thread in 600.0us, the baseline's 400.0-500.0us; \
             baseline latencies scaled x1.20-x1.50 to this run's pace"
        );
        // Repeats: the lower middle pace is the reference, as the median run is judged.
        let repeats = [
            run("embedded", Some(700.0)),
            run("embedded", Some(500.0)),
            run("embedded", Some(600.0)),
            run("embedded", Some(800.0)),
        ];
        let scales = Scales::of(&baseline, &repeats).unwrap();
        assert_eq!(scales.reference_us, 600.0);
    }

    #[test]
    fn nothing_is_scaled_without_every_pace_or_with_a_server_elsewhere() {
        let here = run("embedded", Some(500.0));
        assert_eq!(
            Scales::of(std::slice::from_ref(&here), &[run("embedded", None)]),
            None
        );
        let remote = run("https://presence.example.com", Some(500.0));
        assert_eq!(Scales::of(std::slice::from_ref(&here), &[remote]), None);
        assert_eq!(Scales::of(&[here], &[]), None);
    }
}
