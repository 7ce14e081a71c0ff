//! How far a statistic of one run could move on a rerun of the same build, judged from the
//! run's own histogram (summary.json keeps it, `report::encoded`), so that `compare` calls a
//! change a regression only when it is more than noise.
//!
//! A quantile's confidence interval is the distribution-free one of order statistics: the
//! rank of the `q` quantile among `n` samples is binomial, with standard deviation
//! `sqrt(n q (1 - q))`, so the interval runs between the values at quantiles
//! `q ± z sqrt(q (1 - q) / n)`. Its assumption, independent samples, does not hold in a load
//! test: a stall of the machine or the server delays every message in flight at once, so
//! samples come in correlated bursts. The interval is widened for that by counting
//! `n / DESIGN_EFFECT` samples instead of `n`.

use hdrhistogram::Histogram;

use crate::scenario::CompareStat;

/// How many samples a quantile needs above it before it is judged by default: with fewer, the
/// quantile is one of the few largest samples, as erratic as `max`. Ten above gives `p50` 20
/// samples, `p90` 100 and `p99` 1,000.
pub const SAMPLES_ABOVE: f64 = 10.0;

/// How many samples count as one independent sample. A stall of a shared machine delays
/// every message in flight at once (hundreds in a busy second), so samples are far from
/// independent; ten is a deliberate, conservative guess rather than a fit: on a 2-core machine
/// shared with builds, reruns of one build stayed inside these intervals (with a history's
/// spread, docs/ci.md), while presence_ack's p50 and p90 under `ack_delay` fell outside them.
pub const DESIGN_EFFECT: f64 = 10.0;

/// Two-sided 95%: each run's interval holds its true quantile 95 times in 100. `compare`
/// calls a change a regression only when the two runs' intervals do not overlap at all,
/// which two runs of the same build do less than 1 time in 100.
pub const Z: f64 = 1.96;

/// How many of the history's spreads (`spread`) a statistic must move past its median run to
/// count as changed. Runs of one build differ by more than each run's interval says: which
/// instance a visitor or agent lands on, and what else the machine did that minute, move a
/// whole run's distribution. On this project's machine, replaying `compare` over 52 reruns of
/// the CI gate (docs/ci.md), 2 spreads left 2.5% of gates red (all on `signal_delivery`, whose
/// runs spread by 22%), 2.5 none of 200, and 3 cost a third of the catches of a 25% slower
/// server.
pub const SPREADS: f64 = 2.5;

/// The spread of a history's values of one statistic: the standard deviation of their
/// logarithms (a fraction: 0.1 is about 10%), so a run twice as slow weighs as much as one
/// twice as fast. `None` with fewer than two runs, which have no spread to measure.
pub fn spread(values: &[u64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let logs: Vec<f64> = values.iter().map(|&v| (v.max(1) as f64).ln()).collect();
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let squares: f64 = logs.iter().map(|l| (l - mean).powi(2)).sum();
    Some((squares / (logs.len() - 1) as f64).sqrt())
}

/// The samples `stat` needs to be judged by default; `None` for `max`, which never is.
pub fn min_samples(stat: CompareStat) -> Option<u64> {
    stat.quantile()
        .map(|q| (SAMPLES_ABOVE / (1.0 - q)).round() as u64)
}

/// The confidence interval of `stat` in `histogram`, as factors of its value (`(0.95, 1.04)`:
/// the true value is between 5% below and 4% above the measured one); `None` for `max` and
/// for an empty histogram or a statistic of 0.
pub fn interval(histogram: &Histogram<u64>, stat: CompareStat) -> Option<(f64, f64)> {
    let q = stat.quantile()?;
    let n = histogram.len() as f64;
    let value = histogram.value_at_quantile(q) as f64;
    if n == 0.0 || value == 0.0 {
        return None;
    }
    let spread = Z * (q * (1.0 - q) * DESIGN_EFFECT / n).sqrt();
    let low = histogram.value_at_quantile((q - spread).max(0.0)) as f64;
    let high = histogram.value_at_quantile((q + spread).min(1.0)) as f64;
    Some((low / value, high / value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::new_histogram;

    #[test]
    fn minimum_samples_leave_ten_above_the_quantile() {
        let mins: Vec<Option<u64>> = CompareStat::ALL.into_iter().map(min_samples).collect();
        assert_eq!(mins, [Some(20), Some(100), Some(1000), None]);
    }

    #[test]
    fn the_spread_is_relative_and_needs_two_runs() {
        assert_eq!(spread(&[500]), None);
        assert!(spread(&[500, 500, 500]).unwrap() < 1e-12);
        // The same ratios at any scale give the same spread.
        let small = spread(&[100, 120, 150]).unwrap();
        let large = spread(&[10_000, 12_000, 15_000]).unwrap();
        assert!(
            (small - large).abs() < 1e-9 && small > 0.15 && small < 0.25,
            "{small}"
        );
    }

    #[test]
    fn intervals_narrow_with_samples_and_widen_in_the_tail() {
        // Uniform from 1ms to 2ms: p50 is 1.5ms, p99 1.99ms.
        let uniform = |n: u64| {
            let mut histogram = new_histogram();
            for i in 0..n {
                histogram.record(1000 + i * 1000 / n).unwrap();
            }
            histogram
        };
        let (low, high) = interval(&uniform(1_000), CompareStat::P50).unwrap();
        let (low_more, high_more) = interval(&uniform(100_000), CompareStat::P50).unwrap();
        assert!(
            low < low_more && high > high_more,
            "({low}, {high}) vs ({low_more}, {high_more})"
        );
        // 1,000 samples counted as 100: p50 ± 1.96 * sqrt(0.25 / 100) = ±0.098 of the range.
        assert!(
            (low - 0.935).abs() < 0.01 && (high - 1.065).abs() < 0.01,
            "({low}, {high})"
        );
        assert_eq!(interval(&uniform(1_000), CompareStat::Max), None);
        assert_eq!(interval(&new_histogram(), CompareStat::P50), None);
    }
}
