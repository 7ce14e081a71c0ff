//! Tests of `report::merge`: merged figures equal those of one process holding every sample.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::measure::{Metric, Totals};
use crate::schema::LatencySummary;
use crate::shard::Shard;

const SCENARIO: &str = "name: t\nseed: 7\n";

fn shard_summary(index: u32, count: u32, histogram: &Histogram<u64>, live: &[i64]) -> ShardSummary {
    let mut summary = Summary::from_totals("t", "http://127.0.0.1:9", &Totals::default());
    let metric = Metric::Connect.name().to_owned();
    summary.metrics.insert(
        metric.clone(),
        LatencySummary::from_histogram(histogram, 10.0),
    );
    summary
        .histograms
        .insert(metric.clone(), encoded::encode(histogram));
    summary.service.insert(
        metric.clone(),
        LatencySummary::from_histogram(histogram, 10.0),
    );
    summary
        .service_histograms
        .insert(metric, encoded::encode(histogram));
    summary.duration_seconds = 10.0;
    summary.counters.insert(
        Counter::VisitorsStarted.name().into(),
        u64::from(index) + 10,
    );
    summary.visitors.started = u64::from(index) + 10;
    summary.errors.insert("connect".into(), 1);
    summary.timeline = live
        .iter()
        .map(|&visitors_live| Second {
            visitors_live,
            ..Second::default()
        })
        .collect();
    summary.shard = Some(ShardInfo::new(Shard { index, count }, SCENARIO, 7));
    ShardSummary {
        file: format!("shard-{index}/summary.json").into(),
        summary,
    }
}

/// A known set of samples split over 3 shards: the merged percentiles, count, mean, min and max
/// are those of the one histogram that holds every sample.
#[test]
fn merged_latencies_equal_the_single_histogram_exactly() {
    let mut rng = SmallRng::seed_from_u64(42);
    let mut single = new_histogram();
    let mut parts = vec![new_histogram(); 3];
    for i in 0..30_000u64 {
        // Long-tailed, and the tail on one shard only: averaging percentiles would miss it.
        let value = if i % 3 == 2 && i % 100 == 2 {
            rng.random_range(50_000..2_000_000)
        } else {
            rng.random_range(100..5_000)
        };
        single.record(value).unwrap();
        parts[(i % 3) as usize].record(value).unwrap();
    }
    let shards: Vec<_> = (0..3)
        .map(|k| shard_summary(k, 3, &parts[k as usize], &[]))
        .collect();
    let merged = merge(&shards).unwrap();
    let expected = LatencySummary::from_histogram(&single, 10.0);
    assert_eq!(merged.summary.metrics[Metric::Connect.name()], expected);
    assert_eq!(
        merged.summary.service[Metric::Connect.name()],
        expected,
        "service times merge exactly too"
    );
    assert_eq!(
        encoded::decode(&merged.summary.histograms[Metric::Connect.name()]).unwrap(),
        single
    );
    assert!(merged.missing.is_empty());
}

/// Each behavior's latencies merge as exactly as the overall ones: two behaviors' samples over
/// 2 shards (one behavior absent from one shard) give each behavior's single-process figures,
/// and the merged thresholds on a behavior are judged on them.
#[test]
fn merged_behaviors_equal_their_single_histograms_exactly() {
    let mut rng = SmallRng::seed_from_u64(7);
    let (mut browser, mut mobile) = (new_histogram(), new_histogram());
    let mut parts = [
        [new_histogram(), new_histogram()],
        [new_histogram(), new_histogram()],
    ];
    for i in 0..20_000u64 {
        let value = if i % 97 == 0 {
            rng.random_range(100_000..3_000_000)
        } else {
            rng.random_range(50..9_000)
        };
        // mobile runs on shard 1 only; browser on both, its tail on shard 0.
        let (single, shard, behavior) = match i % 4 {
            0 => (&mut mobile, 1, 1),
            1 if value > 50_000 => (&mut browser, 0, 0),
            _ => (&mut browser, (i % 2) as usize, 0),
        };
        single.record(value).unwrap();
        parts[shard][behavior].record(value).unwrap();
    }
    let shards: Vec<ShardSummary> = (0..2u32)
        .map(|k| {
            let mut shard = shard_summary(k, 2, &new_histogram(), &[]);
            for (name, histogram) in ["browser", "mobile"].iter().zip(&parts[k as usize]) {
                if !histogram.is_empty() {
                    let set = LatencySet::new([(Metric::PresenceAck.name(), histogram)], [], 10.0);
                    shard.summary.behaviors.insert((*name).to_owned(), set);
                }
            }
            shard
        })
        .collect();
    assert!(!shards[0].summary.behaviors.contains_key("mobile"));
    let merged = merge(&shards).unwrap().summary;
    for (name, single) in [("browser", &browser), ("mobile", &mobile)] {
        let set = &merged.behaviors[name];
        assert_eq!(
            set.metrics[Metric::PresenceAck.name()],
            LatencySummary::from_histogram(single, 10.0),
            "{name}"
        );
        assert_eq!(
            &encoded::decode(&set.histograms[Metric::PresenceAck.name()]).unwrap(),
            single,
            "{name}"
        );
    }
    let plan = crate::scenario::from_str(
        "name: t\nduration: 10s\nload: { stages: [{ hold: 10s }] }\n\
         behaviors: [{ name: browser, steps: [connect] }, { name: mobile, steps: [connect] }]\n\
         thresholds:\n  presence_ack{behavior:mobile}: [\"p99 < 1ms\"]\n",
        "t.yaml",
    )
    .unwrap();
    let judged = crate::report::threshold::evaluate(&plan.thresholds, &merged, &[])
        .pop()
        .unwrap();
    assert_eq!(judged.value, Some(mobile.value_at_quantile(0.99) as f64));
}

#[test]
fn a_bad_behavior_histogram_names_its_field() {
    let mut shard = shard_summary(0, 1, &new_histogram(), &[]);
    let mut set = LatencySet::default();
    set.histograms
        .insert("connect".into(), "not base64!".into());
    shard.summary.behaviors.insert("mobile".into(), set);
    let err = merge(&[shard]).err().unwrap().to_string();
    assert!(
        err.starts_with(
            "shard-0/summary.json: field `behaviors.mobile.histograms.connect`: not base64"
        ),
        "{err}"
    );
}

#[test]
fn counters_add_up_and_the_peak_is_that_of_the_summed_timeline() {
    let histogram = new_histogram();
    let mut shards = vec![
        shard_summary(0, 2, &histogram, &[1, 5, 2]),
        shard_summary(1, 2, &histogram, &[4, 1, 1]),
    ];
    shards[1].summary.target = "http://127.0.0.1:10".into();
    let merged = merge(&shards).unwrap().summary;
    assert_eq!(merged.target, "http://127.0.0.1:9, http://127.0.0.1:10");
    assert_eq!(merged.counters[Counter::VisitorsStarted.name()], 10 + 11);
    assert_eq!(merged.errors["connect"], 2);
    assert_eq!(
        merged
            .timeline
            .iter()
            .map(|s| s.visitors_live)
            .collect::<Vec<_>>(),
        vec![5, 6, 3]
    );
    assert_eq!(
        merged.visitors.peak, 6,
        "the peak of the sums, not the sum of the peaks (9)"
    );
    assert_eq!(
        merged
            .shards
            .iter()
            .map(|row| row.visitors)
            .collect::<Vec<_>>(),
        vec![10, 11]
    );
    assert!(merged.shard.is_none() && merged.outcome.is_none());
}

/// A storm split over shards opened its sessions from the earliest shard's first to the latest
/// shard's last: the merged rate is all their sessions over that span.
#[test]
fn the_sessions_opened_span_is_the_earliest_first_to_the_latest_last() {
    let histogram = new_histogram();
    let mut shards = vec![
        shard_summary(0, 2, &histogram, &[]),
        shard_summary(1, 2, &histogram, &[]),
    ];
    for (shard, span, opened) in [(0, [0.01, 2.5], 600), (1, [0.02, 3.01], 900)] {
        shards[shard].summary.visitors.sessions_opened_s = Some(span);
        shards[shard]
            .summary
            .counters
            .insert(Counter::SessionsOpened.name().into(), opened);
    }
    let merged = merge(&shards).unwrap().summary;
    assert_eq!(merged.visitors.sessions_opened_s, Some([0.01, 3.01]));
    assert_eq!(
        merged
            .visitors
            .opening_rate(merged.counters[Counter::SessionsOpened.name()]),
        Some(500.0)
    );
}

#[test]
fn shards_of_other_runs_and_shards_twice_are_refused_and_missing_ones_named() {
    let histogram = new_histogram();
    let mut other_seed = shard_summary(1, 3, &histogram, &[]);
    other_seed.summary.shard.as_mut().unwrap().seed = 8;
    let err = merge(&[shard_summary(0, 3, &histogram, &[]), other_seed])
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            MergeError::Mismatch {
                field: "shard.seed",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("shard-1/summary.json: field `shard.seed` is 8"),
        "{err}"
    );

    let mut other_text = shard_summary(1, 3, &histogram, &[]);
    other_text.summary.shard = Some(ShardInfo::new(Shard { index: 1, count: 3 }, "name: u\n", 7));
    let err = merge(&[shard_summary(0, 3, &histogram, &[]), other_text])
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            MergeError::Mismatch {
                field: "shard.scenario_hash",
                ..
            }
        ),
        "{err}"
    );

    let err = merge(&[
        shard_summary(1, 3, &histogram, &[]),
        shard_summary(1, 3, &histogram, &[]),
    ])
    .err()
    .unwrap();
    assert!(matches!(err, MergeError::Twice { index: 1, .. }), "{err}");

    let mut whole = shard_summary(0, 1, &histogram, &[]);
    whole.summary.shard = None;
    assert!(matches!(merge(&[whole]), Err(MergeError::NotAShard { .. })));

    let merged = merge(&[
        shard_summary(0, 3, &histogram, &[]),
        shard_summary(2, 3, &histogram, &[]),
    ])
    .unwrap();
    assert_eq!(merged.missing, vec![1]);
    assert!(!merged.summary.shards[1].present);
}

/// Shards of two runs of one scenario (a reused directory kept the earlier run's shard 1) are
/// refused, naming the run of each and the earlier one; an id given to both runs alike still
/// tells them apart by their starts.
#[test]
fn shards_of_two_runs_are_refused_naming_the_earlier() {
    use std::time::{Duration, SystemTime};

    use crate::schema::RunId;
    let histogram = new_histogram();
    let at = |seconds: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_144_400 + seconds);
    let of_run = |index, start: SystemTime| {
        let mut shard = shard_summary(index, 2, &histogram, &[]);
        let info = shard.summary.shard.as_mut().unwrap();
        info.start_at = Some(humantime::format_rfc3339_millis(start).to_string());
        shard.summary.started_at = humantime::format_rfc3339_millis(start).to_string();
        shard.summary.run_id = Some(RunId::derive(&info.scenario_hash, 7, 2, Some(start)));
        shard
    };
    let (now, earlier) = (of_run(0, at(44)), of_run(1, at(0)));
    let (now_id, earlier_id) = (
        now.summary.run_id.clone().unwrap(),
        earlier.summary.run_id.clone().unwrap(),
    );
    let err = merge(&[now, earlier]).err().unwrap();
    assert!(matches!(err, MergeError::OtherRun { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "shard-1/summary.json is of run {earlier_id} (started 2026-12-01T17:00:00"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("shard-0/summary.json is of run {now_id}")),
        "{text}"
    );
    assert!(text.ends_with(
        "shard-1/summary.json started earlier (left over from a previous run in a \
         reused directory?)"
    ));

    let given: RunId = "nightly".parse().unwrap();
    let (mut now, mut earlier) = (of_run(0, at(44)), of_run(1, at(0)));
    (now.summary.run_id, earlier.summary.run_id) = (Some(given.clone()), Some(given));
    let err = merge(&[now, earlier]).err().unwrap();
    assert!(
        matches!(
            err,
            MergeError::Mismatch {
                field: "shard.start_at",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_missing_shard_makes_the_verdict_incomplete_unless_the_merge_is_partial() {
    use crate::report::verdict::{decide, Ending};
    let histogram = new_histogram();
    let mut summary = merge(&[
        shard_summary(0, 3, &histogram, &[]),
        shard_summary(2, 3, &histogram, &[]),
    ])
    .unwrap()
    .summary;
    let verdict = decide(&summary, &Ending::default());
    assert_eq!((verdict.status, verdict.exit_code), (Status::Incomplete, 3));
    assert!(
        verdict.reason.starts_with("no summary from shard 1 of 3"),
        "{}",
        verdict.reason
    );
    summary.partial = true;
    assert_ne!(
        decide(&summary, &Ending::default()).status,
        Status::Incomplete
    );
}

#[test]
fn the_harness_is_trusted_only_if_every_shard_was() {
    use crate::schema::{HarnessSummary, LagSummary};
    let harness = |cpu, lag, reasons: &[&str]| HarnessSummary {
        cpu_seconds: cpu,
        cores: 2,
        cpu_saturated_share: 0.0,
        peak_rss_bytes: 1 << 20,
        scheduling_lag: LagSummary {
            unit: "us".into(),
            p99: lag,
            max: lag,
        },
        verdict: if reasons.is_empty() {
            "trusted"
        } else {
            "harness_limited"
        }
        .into(),
        trusted: reasons.is_empty(),
        reasons: reasons.iter().map(|reason| (*reason).to_owned()).collect(),
        intervals: 10,
        limited_intervals: Vec::new(),
        closing: None,
        neighbours: None,
        pace: None,
    };
    let histogram = new_histogram();
    let mut shards = vec![
        shard_summary(0, 2, &histogram, &[]),
        shard_summary(1, 2, &histogram, &[]),
    ];
    shards[0].summary.harness = Some(HarnessSummary {
        pace: Some(Pace {
            compute_us: 400.0,
            syscalls_us: 60.0,
            wakeup_us: 40.0,
            cold_wakeup_us: 0.0,
        }),
        ..harness(1.5, 900, &[])
    });
    shards[1].summary.harness = Some(HarnessSummary {
        pace: Some(Pace {
            compute_us: 500.0,
            syscalls_us: 60.0,
            wakeup_us: 50.0,
            cold_wakeup_us: 0.0,
        }),
        ..harness(2.0, 15_000, &["scheduling lag p99 15 ms"])
    });
    let merged = merge(&shards).unwrap().summary.harness.unwrap();
    assert_eq!(merged.cpu_seconds, 3.5);
    assert_eq!(
        merged.pace,
        Some(Pace {
            compute_us: 450.0,
            syscalls_us: 60.0,
            wakeup_us: 45.0,
            cold_wakeup_us: 0.0
        }),
        "the machines' mean pace"
    );
    assert_eq!(merged.scheduling_lag.p99, 15_000);
    assert!(!merged.trusted, "one limited shard limits the whole run");
    assert_eq!(
        (merged.verdict.as_str(), merged.reasons),
        (
            "harness_limited",
            vec!["shard 1: scheduling lag p99 15 ms".to_owned()]
        )
    );
}

#[test]
fn the_server_s_resources_come_from_the_shard_that_scraped_them() {
    let histogram = new_histogram();
    let mut shards = vec![
        shard_summary(0, 2, &histogram, &[]),
        shard_summary(1, 2, &histogram, &[]),
    ];
    let scraped = crate::schema::ServerResources {
        scrapes: 9,
        ..Default::default()
    };
    shards[0].summary.server_resources = Some(scraped.clone());
    assert_eq!(
        merge(&shards).unwrap().summary.server_resources,
        Some(scraped)
    );
}
