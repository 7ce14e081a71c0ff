//! Each threshold against the measured value. Everything here reads a [`Summary`], so the
//! thresholds of a finished run and of a snapshot taken mid-run are computed the same way.

use std::time::Duration;

use super::exercise;
use super::table::micros;
use crate::measure::{Check, Subject};
use crate::scenario::{Stat, Threshold, Unit};
use crate::schema::{LatencySummary, Summary, ThresholdResult};

impl ThresholdResult {
    /// The measured value in the unit it was written in.
    pub fn shown_value(&self) -> String {
        match self.value {
            None => "not exercised (no samples)".to_owned(),
            Some(value) if !self.exercised => format!("{value} (not exercised)"),
            Some(value) => match self.unit.as_str() {
                "us" => micros(value.round() as u64),
                "/s" => format!("{value:.1}/s"),
                "B" => format!("{:.1}MiB", value / MIB),
                "B/h" => format!("{:.1}MiB/h", value / MIB),
                "s/s" => format!("{value:.2}"),
                _ => format!("{value}"),
            },
        }
    }
}

const MIB: f64 = 1_048_576.0;

/// Evaluates every threshold against `summary`. A threshold on a check that was not exercised
/// fails when the scenario set up what it checks (`expected`, see `exercise::expected`).
pub fn evaluate(
    thresholds: &[Threshold],
    summary: &Summary,
    expected: &[Check],
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|threshold| {
            let value = match &threshold.behavior {
                Some(behavior) => {
                    measure_behavior(summary, behavior, &threshold.subject, threshold.stat)
                }
                None => measure(summary, &threshold.subject, threshold.stat),
            };
            let exercised = match &threshold.subject {
                Subject::Check(check) => exercise::exercised(summary, *check),
                _ => value.is_some(),
            };
            let required =
                matches!(&threshold.subject, Subject::Check(check) if expected.contains(check));
            ThresholdResult {
                name: threshold.name.clone(),
                behavior: threshold.behavior.clone(),
                expression: threshold.expression.clone(),
                value,
                unit: threshold.stat.unit(&threshold.subject).to_string(),
                exercised,
                passed: value.is_some_and(|v| threshold.op.holds(v, threshold.bound))
                    && (exercised || !required),
            }
        })
        .collect()
}

/// The first abortable threshold that fails, `elapsed` into the run, once its delay is over.
/// A statistic without samples yet is not a reason to abort: samples may still come.
pub fn abort_reason(
    thresholds: &[Threshold],
    summary: &Summary,
    elapsed: Duration,
) -> Option<String> {
    thresholds
        .iter()
        .filter(|t| t.abort_after.is_some_and(|delay| elapsed >= delay))
        .find_map(|threshold| {
            // Mid-run, a check not exercised yet may still be: only measured failures abort.
            let result = evaluate(std::slice::from_ref(threshold), summary, &[]).pop()?;
            (result.value.is_some() && !result.passed).then(|| {
                format!(
                    "aborted at {:.1}s: threshold {} \"{}\" failed, measured {}",
                    elapsed.as_secs_f64(),
                    result.name,
                    result.expression,
                    result.shown_value()
                )
            })
        })
}

/// The value of `stat` of a latency metric in one behavior's figures. A behavior without
/// samples of the metric has nothing to judge, whatever the statistic: `count == 0` on it
/// would pass for a behavior that never ran (a mistyped weight), so it is not exercised.
fn measure_behavior(
    summary: &Summary,
    behavior: &str,
    subject: &Subject,
    stat: Stat,
) -> Option<f64> {
    let Subject::Metric(metric) = subject else {
        return None;
    };
    summary
        .behaviors
        .get(behavior)?
        .metrics
        .get(metric.name())
        .and_then(|m| statistic(m, stat))
}

/// A latency's statistic; `None` for `slope`, which validation keeps to the server's memory.
fn statistic(m: &LatencySummary, stat: Stat) -> Option<f64> {
    Some(match stat {
        Stat::P50 => m.p50 as f64,
        Stat::P90 => m.p90 as f64,
        Stat::P99 => m.p99 as f64,
        Stat::P999 => m.p999 as f64,
        Stat::Min => m.min as f64,
        Stat::Max => m.max as f64,
        Stat::Mean => m.mean,
        Stat::Rate => m.rate,
        Stat::Count => m.count as f64,
        Stat::Slope => return None,
    })
}

/// The value of `stat` of `subject` in `summary`, in the stat's unit.
fn measure(summary: &Summary, subject: &Subject, stat: Stat) -> Option<f64> {
    let count = match subject {
        Subject::Metric(metric) => {
            let Some(m) = summary.metrics.get(metric.name()) else {
                return matches!(stat, Stat::Count | Stat::Rate).then_some(0.0);
            };
            return statistic(m, stat);
        }
        Subject::Counter(counter) => summary.counters.get(counter.name()).copied().unwrap_or(0),
        Subject::Check(check) => summary.checks.get(check.name()).copied().unwrap_or(0),
        Subject::Errors => summary.errors.values().sum(),
        Subject::ErrorKind(kind) => summary.errors.get(kind.as_str()).copied().unwrap_or(0),
        Subject::ServerMemory | Subject::ServerCpu => {
            return server_resource(summary, subject, stat)
        }
    };
    match stat.unit(subject) {
        Unit::PerSecond if summary.duration_seconds > 0.0 => {
            Some(count as f64 / summary.duration_seconds)
        }
        Unit::PerSecond => Some(0.0),
        _ => Some(count as f64),
    }
}

/// The server's memory or CPU statistic of its worst process (the highest), from the scrapes
/// of its metrics; `None` (not exercised, so failed) when none were answered or too few.
fn server_resource(summary: &Summary, subject: &Subject, stat: Stat) -> Option<f64> {
    let processes = summary.server_resources.as_ref()?.processes.values();
    let values = processes.filter_map(|process| match subject {
        Subject::ServerMemory => match stat {
            Stat::Slope => process.memory.slope_bytes_per_hour,
            _ => (process.memory.samples > 0).then_some(process.memory.max_bytes as f64),
        },
        _ => process.cpu.map(|cpu| match stat {
            Stat::P50 => cpu.p50,
            Stat::P90 => cpu.p90,
            Stat::P99 => cpu.p99,
            Stat::Mean => cpu.mean,
            _ => cpu.max,
        }),
    });
    values.reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        let mut s: Summary = serde_json::from_str(concat!(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":10.0,"target":"x",
                "visitors":{"started":1,"completed":1,"peak":1},"metrics":{},
                "counters":{"sessions_opened":200},"checks":{"signals_lost":0,"#,
            r#""signals_duplicated":2},
                "errors":{"timeout":3,"lost":1}}"#,
        ))
        .unwrap();
        let ack = LatencySummary {
            unit: "us".into(),
            count: 1000,
            rate: 100.0,
            min: 10,
            mean: 900.5,
            p50: 500,
            p90: 1500,
            p99: 20_000,
            p999: 40_000,
            max: 90_000,
        };
        s.metrics.insert("presence_ack".into(), ack);
        s
    }

    /// The thresholds of a scenario whose `thresholds:` section is `section`.
    fn thresholds(section: &str) -> Vec<Threshold> {
        let text = format!(
            "name: t\nduration: 10s\nload: {{ stages: [{{ hold: 10s }}] }}\n\
             behaviors: [{{ name: a, steps: [connect] }}]\nthresholds:\n{section}"
        );
        crate::scenario::from_str(&text, "t.yaml")
            .unwrap()
            .thresholds
    }

    fn outcomes(section: &str) -> Vec<(Option<f64>, bool)> {
        evaluate(&thresholds(section), &summary(), &[])
            .into_iter()
            .map(|r| (r.value, r.passed))
            .collect()
    }

    #[test]
    fn latency_statistics_compare_in_microseconds() {
        let got = outcomes(
            "  presence_ack: [\"p99 < 25ms\", \"p99 < 20ms\", \"p99 <= 20ms\", \"max < 50ms\", \
             \"mean < 1ms\", \"p99.9 >= 40ms\", \"p50 == 500us\"]\n",
        );
        let values = [
            20_000.0, 20_000.0, 20_000.0, 90_000.0, 900.5, 40_000.0, 500.0,
        ];
        let passed = [true, false, true, false, true, true, true];
        assert_eq!(
            got,
            values
                .iter()
                .zip(passed)
                .map(|(v, p)| (Some(*v), p))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn counts_and_rates() {
        let got = outcomes(
            "  presence_ack: [\"rate > 50/s\", \"count == 1000\"]\n  \
             sessions_opened: [\"rate >= 20/s\", \"rate > 1200/m\"]\n  \
             errors: [\"count < 4\"]\n  errors.timeout: [\"count == 3\"]\n  \
             errors.reply_timeout: [\"count == 0\"]\n  signals_duplicated: [\"count <= 2\"]\n",
        );
        let want = [
            (100.0, true),
            (1000.0, true),
            (20.0, true),
            (20.0, false),
            (4.0, false),
            (3.0, true),
            (0.0, true),
            (2.0, true),
        ];
        assert_eq!(
            got,
            want.iter().map(|(v, p)| (Some(*v), *p)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_latency_without_samples_fails_but_counts_zero() {
        assert_eq!(
            outcomes("  blur: [\"p99 < 1s\", \"count == 0\"]\n"),
            vec![(None, false), (Some(0.0), true)]
        );
    }

    #[test]
    fn a_threshold_on_a_check_that_saw_nothing_is_not_exercised() {
        let t = thresholds("  signals_lost: [\"count <= 1\"]\n");
        let free = evaluate(&t, &summary(), &[]).pop().unwrap();
        assert_eq!(
            (free.exercised, free.passed),
            (false, true),
            "no agents: shown, not failed"
        );
        assert_eq!(free.shown_value(), "0 (not exercised)");
        let required = evaluate(&t, &summary(), &[Check::SignalsLost])
            .pop()
            .unwrap();
        assert_eq!(
            (required.exercised, required.passed),
            (false, false),
            "agents should have signalled"
        );
        let mut sent = summary();
        sent.counters.insert("signals_sent".into(), 5);
        let held = evaluate(&t, &sent, &[Check::SignalsLost]).pop().unwrap();
        assert_eq!((held.exercised, held.passed), (true, true));
    }

    #[test]
    fn a_behavior_threshold_reads_that_behavior_and_without_samples_is_not_exercised() {
        let text = "name: t\nduration: 10s\nload: { stages: [{ hold: 10s }] }\n\
                    behaviors: [{ name: a, steps: [connect] }, { name: b, steps: [connect] }]\n\
                    thresholds:\n  \
                    presence_ack{behavior:a}: [\"p99 < 25ms\", \"count == 0\"]\n  \
                    presence_ack{behavior:b}: [\"count == 0\", \"p99 < 1s\"]\n";
        let thresholds = crate::scenario::from_str(text, "t.yaml")
            .unwrap()
            .thresholds;
        let mut s = summary();
        let mut a = crate::schema::LatencySet::default();
        a.metrics.insert(
            "presence_ack".into(),
            LatencySummary {
                p99: 30_000,
                ..s.metrics["presence_ack"].clone()
            },
        );
        s.behaviors.insert("a".into(), a);
        let results = evaluate(&thresholds, &s, &[]);
        let got: Vec<_> = results
            .iter()
            .map(|r| (r.value, r.exercised, r.passed))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(30_000.0), true, false),
                (Some(1000.0), true, false),
                (None, false, false),
                (None, false, false)
            ],
            "a's own p99 (the overall one is 20ms); b has no samples: never a pass, even count == 0"
        );
        assert_eq!(results[0].behavior.as_deref(), Some("a"));
        assert_eq!(results[2].shown_value(), "not exercised (no samples)");
    }

    #[test]
    fn aborts_wait_for_their_delay_and_for_samples() {
        let t = thresholds(
            "  presence_ack: [{ threshold: \"p99 < 1ms\", abort_on_fail: true, \
             delay_abort_eval: 5s }, \"max < 1ms\"]\n  \
             blur: [{ threshold: \"p99 < 1ms\", abort_on_fail: true }]\n",
        );
        let s = summary();
        assert_eq!(
            abort_reason(&t, &s, Duration::from_secs(4)),
            None,
            "before the delay; blur has no samples"
        );
        assert_eq!(
            abort_reason(&t, &s, Duration::from_secs(5)).as_deref(),
            Some("aborted at 5.0s: threshold presence_ack \"p99 < 1ms\" failed, measured 20.00ms")
        );
    }
}
