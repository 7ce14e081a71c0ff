//! Harness trust second by second. A whole run's lag p99 hides a two-second lag storm in an
//! hour of calm, yet every latency recorded during the storm includes the harness's own
//! delay. So each second of the health timeline is judged on its own, the seconds in which
//! the harness lagged are reported as spans, and drill events whose windows overlap a span
//! are flagged: their comeback and delivery figures are the harness's as much as the server's.

use std::fmt::Write;

use crate::measure::health::{HealthSecond, SATURATED_SHARE};
use crate::schema::{EventReport, LimitedSpan};

/// A second with at least this share of the whole machine's CPU running or stolen had no
/// core to spare: the harness waited for the server (or anything else) beside it.
pub const MACHINE_SATURATED_SHARE: f64 = 0.95;
/// Host steal from this share on is named: the harness's machine itself was made to wait.
pub const STEAL_NAMED_SHARE: f64 = 0.05;

impl LimitedSpan {
    /// `12.0s-14.0s: lag max 840.0 ms, CPU saturated`, and what the rest of the machine did:
    /// `machine CPU saturated`, `host steal 45%`.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{:.1}s-{:.1}s: lag max {:.1} ms",
            self.from_s,
            self.to_s,
            self.lag_max_us as f64 / 1e3
        );
        if self.cpu_saturated {
            out.push_str(", CPU saturated");
        } else if self.machine_saturated {
            out.push_str(", machine CPU saturated");
        }
        if self.steal_max >= STEAL_NAMED_SHARE {
            let _ = write!(out, ", host steal {:.0}%", self.steal_max * 100.0);
        }
        out
    }

    fn overlaps(&self, from_s: f64, to_s: f64) -> bool {
        self.from_s <= to_s && from_s <= self.to_s
    }
}

/// The seconds of `timeline` whose lag p99 is over `bound_us`, merged into spans of
/// consecutive seconds.
pub fn limited_spans(timeline: &[HealthSecond], bound_us: u64) -> Vec<LimitedSpan> {
    let mut spans: Vec<LimitedSpan> = Vec::new();
    for second in timeline
        .iter()
        .filter(|second| second.lag_p99_us > bound_us)
    {
        let from_s = second.start.as_secs_f64();
        let to_s = (second.start + second.length).as_secs_f64();
        let saturated = second.cpu_busy.is_some_and(|busy| busy >= SATURATED_SHARE);
        let machine_saturated = second
            .machine
            .is_some_and(|machine| machine.busy + machine.steal >= MACHINE_SATURATED_SHARE);
        let steal = second.machine.map_or(0.0, |machine| machine.steal);
        match spans.last_mut() {
            // Seconds follow each other end to start; a millisecond covers rounding.
            Some(span) if from_s <= span.to_s + 1e-3 => {
                span.to_s = to_s;
                span.intervals += 1;
                span.lag_max_us = span.lag_max_us.max(second.lag_max_us);
                span.cpu_saturated |= saturated;
                span.machine_saturated |= machine_saturated;
                span.steal_max = span.steal_max.max(steal);
            }
            _ => spans.push(LimitedSpan {
                from_s,
                to_s,
                intervals: 1,
                lag_max_us: second.lag_max_us,
                cpu_saturated: saturated,
                machine_saturated,
                steal_max: steal,
            }),
        }
    }
    spans
}

/// Marks every drill event whose window overlaps a span (`harness_limited`, naming the
/// spans) and answers the events marked, as `kill at 12.0s`.
pub fn flag_drills(spans: &[LimitedSpan], events: &mut [EventReport]) -> Vec<String> {
    let mut flagged = Vec::new();
    for event in events.iter_mut() {
        let (from_s, to_s) = (event.at_s, event.at_s + event.window_s);
        let overlapping: Vec<String> = spans
            .iter()
            .filter(|span| span.overlaps(from_s, to_s))
            .map(LimitedSpan::describe)
            .collect();
        if !overlapping.is_empty() {
            event.harness_limited = Some(overlapping.join("; "));
            flagged.push(format!("{} at {:.1}s", event.kind, event.at_s));
        }
    }
    flagged
}

/// One line for the verdict: `limited in 3 of 60 intervals (12.0s-14.0s: lag max 840.0 ms)`,
/// naming at most three spans.
pub fn summarize(spans: &[LimitedSpan], intervals: usize) -> String {
    const SHOWN: usize = 3;
    let limited: u32 = spans.iter().map(|span| span.intervals).sum();
    let mut out = format!("limited in {limited} of {intervals} intervals (");
    for (i, span) in spans.iter().take(SHOWN).enumerate() {
        let _ = write!(out, "{}{}", if i > 0 { "; " } else { "" }, span.describe());
    }
    if spans.len() > SHOWN {
        let _ = write!(out, "; {} more spans", spans.len() - SHOWN);
    }
    out.push(')');
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::machine::MachineSecond;

    fn calm_seconds(n: u64) -> Vec<HealthSecond> {
        (0..n)
            .map(|s| HealthSecond {
                start: Duration::from_secs(s),
                length: Duration::from_secs(1),
                lag_p99_us: 900,
                lag_max_us: 1_500,
                cpu_busy: Some(0.3),
                machine: Some(MachineSecond {
                    busy: 0.5,
                    steal: 0.0,
                }),
            })
            .collect()
    }

    #[test]
    fn consecutive_lagging_seconds_make_one_span() {
        let mut timeline = calm_seconds(60);
        for (second, lag) in [(12, 30_000), (13, 840_000), (40, 11_000)] {
            timeline[second].lag_p99_us = lag;
            timeline[second].lag_max_us = lag;
        }
        timeline[13].cpu_busy = Some(0.97);
        let spans = limited_spans(&timeline, 10_000);
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert_eq!(
            (spans[0].from_s, spans[0].to_s, spans[0].intervals),
            (12.0, 14.0, 2)
        );
        assert_eq!(
            spans[0].describe(),
            "12.0s-14.0s: lag max 840.0 ms, CPU saturated"
        );
        assert_eq!(spans[1].describe(), "40.0s-41.0s: lag max 11.0 ms");
        let line = summarize(&spans, timeline.len());
        assert!(
            line.starts_with("limited in 3 of 60 intervals (12.0s-14.0s"),
            "{line}"
        );
    }

    /// A harness that lagged without being busy itself: the span says what the machine did.
    #[test]
    fn a_span_names_a_saturated_machine_and_the_hosts_steal() {
        let mut timeline = calm_seconds(10);
        for second in [3, 4, 7] {
            timeline[second].lag_p99_us = 60_000;
            timeline[second].lag_max_us = 60_000;
        }
        timeline[3].machine = Some(MachineSecond {
            busy: 0.97,
            steal: 0.01,
        });
        timeline[4].machine = Some(MachineSecond {
            busy: 0.5,
            steal: 0.02,
        });
        timeline[7].machine = Some(MachineSecond {
            busy: 0.4,
            steal: 0.45,
        });
        let spans = limited_spans(&timeline, 50_000);
        assert_eq!(
            spans[0].describe(),
            "3.0s-5.0s: lag max 60.0 ms, machine CPU saturated"
        );
        assert_eq!(
            spans[1].describe(),
            "7.0s-8.0s: lag max 60.0 ms, host steal 45%"
        );
        timeline[7].machine = None;
        assert_eq!(
            limited_spans(&timeline, 50_000)[1].describe(),
            "7.0s-8.0s: lag max 60.0 ms",
            "no /proc/stat"
        );
    }

    #[test]
    fn a_second_at_the_bound_is_not_limited() {
        let mut timeline = calm_seconds(5);
        timeline[2].lag_p99_us = 10_000;
        assert!(limited_spans(&timeline, 10_000).is_empty());
        timeline[2].lag_p99_us = 10_001;
        assert_eq!(limited_spans(&timeline, 10_000).len(), 1);
    }

    #[test]
    fn drill_windows_overlapping_a_span_are_flagged() {
        let mut timeline = calm_seconds(60);
        timeline[12].lag_p99_us = 840_000;
        timeline[12].lag_max_us = 840_000;
        let spans = limited_spans(&timeline, 10_000);
        let mut events = vec![
            EventReport::window("kill", 11.5, 4.0),
            EventReport::window("scale_out", 30.0, 5.0),
            EventReport::window("scale_in", 8.0, 4.0),
        ];
        let flagged = flag_drills(&spans, &mut events);
        assert_eq!(
            flagged,
            vec!["kill at 11.5s", "scale_in at 8.0s"],
            "a window ending as the span starts touches it"
        );
        assert_eq!(
            events[0].harness_limited.as_deref(),
            Some("12.0s-13.0s: lag max 840.0 ms")
        );
        assert_eq!(
            events[1].harness_limited, None,
            "a window in calm seconds is not flagged"
        );
    }
}
