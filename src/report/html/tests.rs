//! The page says what the terminal table says: each test builds a summary, renders both, and
//! looks for the same figure in each.

use std::collections::BTreeMap;

use super::data::{tests::summary, IntervalPoint, MetricSeries, ReportData};
use super::page::{key_metrics, render};
use crate::measure::new_histogram;
use crate::report::verdict::{decide, Ending};
use crate::report::{findings, table};
use crate::schema::{
    CheckResult, EventReport, LatencySummary, ShardRow, Summary, ThresholdResult, TransportSummary,
};

fn latency(p50: u64, p99: u64) -> LatencySummary {
    let mut histogram = new_histogram();
    histogram.record_n(p50, 99).unwrap();
    histogram.record(p99).unwrap();
    LatencySummary::from_histogram(&histogram, 24.0)
}

/// The page of `summary`, judged as the run would have judged it.
fn page(mut summary: Summary) -> String {
    summary.outcome = Some(decide(&summary, &Ending::default()));
    render(&ReportData::of(summary))
}

/// The text of the table row whose first cell is `first`, cells joined by `|`.
fn html_row(page: &str, first: &str) -> String {
    let at = page
        .find(&format!("<tr><td>{first}</td>"))
        .unwrap_or_else(|| panic!("no row {first:?} in {page}"));
    let row = &page[at..at + page[at..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| cell.split_once('>').unwrap().1.trim_end_matches("</td>"))
        .collect::<Vec<_>>()
        .join("|")
}

#[test]
fn a_check_the_scenario_never_set_up_is_skip_as_in_the_table() {
    let mut s = summary();
    s.check_results = vec![
        CheckResult {
            name: "signals_lost".into(),
            violations: 0,
            exercised: true,
            passed: true,
        },
        CheckResult {
            name: "unique_collisions".into(),
            violations: 0,
            exercised: false,
            passed: true,
        },
    ];
    s.thresholds = vec![ThresholdResult {
        name: "extend".into(),
        behavior: None,
        expression: "p99 < 1s".into(),
        value: None,
        unit: "us".into(),
        exercised: false,
        passed: false,
    }];
    let terminal = findings::render(&s);
    assert!(terminal.contains("SKIP  unique_collisions"), "{terminal}");
    let page = page(s);
    assert!(!page.contains(">pass<"), "{page}");
    assert!(
        page.contains("<td class=\"skip\">SKIP</td><td class=\"name\">unique_collisions</td>"),
        "{page}"
    );
    assert!(page.contains("<td>not exercised</td>"), "{page}");
    assert!(
        page.contains("<td class=\"bad\">FAIL</td><td class=\"name\">extend</td>"),
        "{page}"
    );
    assert!(
        page.contains("<summary>1 PASS, 1 FAIL, 1 SKIP</summary>"),
        "the counts head the section: {page}"
    );
    assert!(
        page.contains("<details open><summary>1 PASS"),
        "open when something failed: {page}"
    );
}

#[test]
fn an_event_with_nothing_to_recover_reads_a_dash_and_one_never_recovered_never() {
    let mut s = summary();
    let quiet = EventReport::window("scale_out", 16.0, 1.0);
    let mut kill = EventReport::window("kill", 11.0, 3.0);
    (kill.affected, kill.back, kill.never_back, kill.back_99_s) = (100, 97, 3, Some(1.25));
    s.drills = vec![kill, quiet];
    let terminal = crate::report::drills::render(&s.drills);
    let page = page(s);
    let scale_out = html_row(&page, "16.0s");
    assert!(
        scale_out.starts_with("16.0s|scale_out|-|0|0|-|-|"),
        "{scale_out}"
    );
    assert!(!scale_out.contains("never"), "{scale_out}");
    let kill = html_row(&page, "11.0s");
    assert!(
        kill.starts_with("11.0s|kill|-|100|3|1.25s|never|"),
        "{kill}"
    );
    assert!(
        terminal.contains("1.25s    never"),
        "the table says the same: {terminal}"
    );
    assert!(page.contains("SOME VISITORS NEVER BACK"), "{page}");
}

#[test]
fn service_times_are_shown_beside_their_latencies_as_in_the_table() {
    let mut s = summary();
    s.metrics
        .insert("presence_ack".into(), latency(2_000, 90_000));
    s.service.insert("presence_ack".into(), latency(300, 1_200));
    s.metrics.insert("connect".into(), latency(5_000, 8_000));
    let mut browser = crate::schema::LatencySet::default();
    browser
        .metrics
        .insert("presence_ack".into(), latency(2_000, 90_000));
    browser
        .service
        .insert("presence_ack".into(), latency(300, 1_200));
    s.behaviors.insert("browser".into(), browser);
    let terminal = table::render(&s, None, true);
    let page = page(s);
    let service = page
        .find("<td class=\"name\">presence_ack.service</td><td>100</td>")
        .expect("a service row");
    assert!(
        page[service..].starts_with(
            "<td class=\"name\">presence_ack.service</td><td>100</td><td>4.2</td><td>300us</td>"
        ),
        "{page}"
    );
    assert!(
        terminal.contains("presence_ack.service") && terminal.contains("300us"),
        "{terminal}"
    );
    assert!(
        !page.contains("connect.service"),
        "connect is not a request: no service time"
    );
    assert_eq!(
        page.matches("presence_ack.service").count(),
        2,
        "overall and the behavior's: {page}"
    );
}

#[test]
fn transports_and_shards_get_a_section_when_there_are_several() {
    let transport = |visitors| TransportSummary {
        visitors,
        sessions_opened: visitors,
        errors: 0,
        metrics: [("presence_ack".to_owned(), latency(2_000, 9_000))].into(),
        histograms: BTreeMap::new(),
    };
    let mut s = summary();
    s.transports.insert("raw_websocket".into(), transport(5));
    let single = page(s.clone());
    assert!(
        !single.contains("By transport") && !single.contains("By shard"),
        "one transport, no merge"
    );

    s.transports.insert("xhr_polling".into(), transport(3));
    let shard = |index, present: bool| ShardRow {
        index,
        present,
        visitors: if present { 4 } else { 0 },
        errors: 0,
        harness: if present {
            "trusted".into()
        } else {
            String::new()
        },
        status: if present {
            "PASS".into()
        } else {
            "missing".into()
        },
        start_lag_ms: present.then_some(1.25),
    };
    s.shards = vec![shard(0, true), shard(1, false)];
    s.partial = true;
    let page = page(s);
    assert!(
        page.contains("<h2>By transport</h2>") && page.contains("<h2>By shard</h2>"),
        "{page}"
    );
    for (name, visitors) in [("raw_websocket", 5), ("xhr_polling", 3)] {
        // No connect samples: `-`, as in the table.
        let cells = format!(
            "{name}</td><td>{visitors}</td><td>{visitors}</td><td>0</td><td>-</td><td>-\
             </td><td>2.00ms</td>"
        );
        assert!(page.contains(&cells), "{name}: {page}");
    }
    assert_eq!(html_row(&page, "0/2"), "0/2|4|0|trusted|PASS|1.2ms");
    assert!(
        page.contains(
            "<tr class=\"bad\"><td>1/2</td><td>0</td><td>0</td><td>-</td><td>missing</td>\
             <td>-</td>"
        ),
        "{page}"
    );
    assert!(
        page.contains("partial: judged without the missing shards"),
        "{page}"
    );
}

#[test]
fn the_key_metrics_are_the_failed_ones_first_then_connect_and_presence_ack() {
    let series = |name: &str| MetricSeries {
        name: name.into(),
        intervals: vec![IntervalPoint {
            t_s: 0.0,
            length_s: 1.0,
            count: 1,
            p50: 1,
            p90: 1,
            p99: 1,
            max: 1,
        }],
        total: new_histogram(),
    };
    let mut data = ReportData::of(summary());
    data.metrics = ["blur", "connect", "extend", "presence_ack", "reconnect"]
        .map(series)
        .into();
    let names = |data: &ReportData| {
        key_metrics(data)
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&data), ["connect", "presence_ack"]);
    data.summary
        .drills
        .push(EventReport::window("kill", 2.0, 1.0));
    assert_eq!(names(&data), ["connect", "presence_ack", "reconnect"]);
    data.summary.thresholds = vec![ThresholdResult {
        name: "extend{behavior:b}".into(),
        behavior: Some("b".into()),
        expression: "p99 < 1ms".into(),
        value: Some(5_000.0),
        unit: "us".into(),
        exercised: true,
        passed: false,
    }];
    assert_eq!(names(&data), ["extend", "connect", "presence_ack"]);
    let page = render(&data);
    assert!(
        page.contains("2 more metrics: blur, reconnect</summary>"),
        "the rest are folded: {page}"
    );
}

#[test]
fn a_failed_error_kind_says_when_it_was_first_seen() {
    let mut s = summary();
    s.errors.insert("reply_timeout".into(), 4);
    let row = |t_s: f64, n: u64| {
        let mut row: crate::report::timeline::TimelineRow = serde_json::from_str(&format!(
            concat!(
                r#"{{"t_s":{t_s},"length_s":1.0,"visitors":5,"messages_sent_per_s":1.0,"#,
                r#""messages_received_per_s":1.0,
                "sessions_opened":0,"sessions_lost":0,"reconnects":0}}"#,
            ),
            t_s = t_s,
        ))
        .unwrap();
        if n > 0 {
            row.errors.insert("reply_timeout".into(), n);
        }
        row
    };
    s.outcome = Some(decide(&s, &Ending::default()));
    let mut data = ReportData::of(s);
    data.timeline = vec![row(0.0, 0), row(1.0, 0), row(2.0, 3), row(3.0, 1)];
    let page = render(&data);
    assert!(
        page.contains("<li class=\"bad\">4 reply_timeout errors, the first at 2.0s</li>"),
        "{page}"
    );
    assert!(
        page.contains("<tr><td>reply_timeout</td><td>4</td><td>2.0s</td></tr>"),
        "{page}"
    );
}

#[test]
fn the_server_s_resources_read_as_in_the_table() {
    use crate::schema::{CpuFigures, MemoryFigures, ProcessResources, ServerResources};
    let mut s = summary();
    let memory = MemoryFigures {
        samples: 40,
        steady_first_bytes: 60 << 20,
        last_bytes: 90 << 20,
        max_bytes: 91 << 20,
        slope_bytes_per_hour: Some(250.0 * 1_048_576.0),
    };
    let cpu = CpuFigures {
        intervals: 39,
        mean: 0.3,
        p50: 0.3,
        p90: 0.4,
        p99: 0.45,
        max: 0.5,
    };
    let process = ProcessResources {
        cpu: Some(cpu),
        memory,
    };
    s.server_resources = Some(ServerResources {
        url: "http://127.0.0.1:1/metrics".into(),
        scrapes: 40,
        failed: 0,
        steady_from_s: 120.0,
        processes: [("server".to_owned(), process)].into(),
    });
    let terminal = table::render(&s, None, false);
    let line = "server: cpu p99 0.45 s/s (mean 0.30, max 0.50), memory 60.0 -> 90.0 MiB (max \
                91.0), slope 250.0 MiB/h from 120 s";
    assert!(terminal.contains(line), "{terminal}");
    assert!(page(s).contains(&format!("<p>{}</p>", super::escape(line))));
}

/// The worked example's search of docs/capacity.md: a knee between 207 and 213 visitors,
/// with `presence_ack: ["p99 < 50ms"]`.
fn searched() -> crate::schema::CapacitySummary {
    use crate::schema::{
        Answer, Broken, CapacitySummary, LevelRow, LevelStatus, Quantiles, ServerCost, Slo,
    };
    let level = |phase: &str, load: f64, p99_ms: f64, errors: u64| {
        let p99 = (p99_ms * 1000.0) as u64;
        let broken = p99_ms > 50.0;
        LevelRow {
            phase: phase.into(),
            load,
            from_s: 0.0,
            to_s: 5.0,
            visitors_peak: load as i64,
            metrics: [(
                "presence_ack".to_owned(),
                Quantiles {
                    count: 100,
                    p50: p99 * 9 / 10,
                    p99,
                },
            )]
            .into(),
            errors,
            check_violations: 0,
            harness_lag_p99_us: 4_500,
            server: None,
            status: if broken {
                LevelStatus::Broken
            } else {
                LevelStatus::Held
            },
            reason: if broken {
                format!("presence_ack \"p99 < 50ms\" measured {p99_ms}ms")
            } else {
                String::new()
            },
            window: None,
        }
    };
    let levels = vec![
        level("step", 50.0, 1.75, 0),
        level("step", 100.0, 2.08, 0),
        level("step", 200.0, 1.67, 0),
        level("step", 400.0, 1030.0, 7),
        level("narrow", 300.0, 505.34, 2),
        level("narrow", 213.0, 71.94, 0),
        level("narrow", 207.0, 40.67, 0),
        level("confirm", 207.0, 43.55, 0),
    ];
    let first_broken = Broken {
        load: 213.0,
        reason: "presence_ack \"p99 < 50ms\" measured 71.94ms".into(),
    };
    CapacitySummary {
        unit: "visitors".into(),
        from: 50.0,
        to: 800.0,
        resolution: 0.05,
        require: None,
        plan_for: None,
        slos: vec![Slo {
            metric: "presence_ack".into(),
            expression: "p99 < 50ms".into(),
            bound_us: 50_000.0,
        }],
        answer: Answer::Capacity {
            load: 207.0,
            first_broken: Some(first_broken),
            narrowed: true,
        },
        server_cost: ServerCost::NotMeasured {
            reason: "no metrics_url".into(),
        },
        levels,
        schedule: None,
    }
}

/// The `<figure>` whose caption starts with `caption`.
fn figure<'a>(page: &'a str, caption: &str) -> &'a str {
    let at = page
        .find(&format!("<figcaption>{caption}"))
        .unwrap_or_else(|| panic!("no chart {caption:?} in {page}"));
    &page[at..at + page[at..].find("</figure>").unwrap()]
}

#[test]
fn a_capacity_search_draws_its_levels_against_load_with_the_slo_and_the_answer_marked() {
    let capacity = searched();
    let terminal = capacity.render(&["presence_ack".to_owned()]);
    let mut s = summary();
    s.outcome = Some(capacity.verdict());
    s.capacity = Some(capacity.clone());
    let page = render(&ReportData::of(s));
    assert!(page.contains("<h2>Capacity</h2>"), "{page}");
    let answer = capacity.answer_line();
    assert!(terminal.contains(&answer), "{terminal}");
    assert!(
        page.contains(&format!("<p><b>{}</b></p>", super::escape(&answer))),
        "the terminal's words: {page}"
    );
    assert!(
        page.contains("<p>server cost: not measured (no metrics_url)</p>"),
        "{page}"
    );

    let chart = figure(
        &page,
        "presence_ack p50 and p99 in each level&#39;s judged window, by visitors",
    );
    // The x axis runs from 0 to the highest level, 400, over 486 px from x = 62: 207 is at
    // 62 + 207 / 400 * 486 = 313.5, 213 at 320.8.
    assert!(
        chart.contains("<line class=\"marker\" x1=\"313.5\" x2=\"313.5\""),
        "{chart}"
    );
    assert!(
        chart.contains(">capacity 207</text>") && chart.contains(">first broken 213</text>"),
        "{chart}"
    );
    assert!(
        chart.contains("<line class=\"marker\" x1=\"320.8\""),
        "{chart}"
    );
    // The y axis ends at 4 x the SLO, 200ms: the SLO is a quarter of the way up the 174 px
    // from y = 186, at 142.5; the broken levels above 200ms sit at the top edge, marked.
    assert!(chart.contains(">200.00ms</text>"), "{chart}");
    assert!(
        chart.contains("<line class=\"rule\" x1=\"62\" x2=\"548.0\" y1=\"142.5\" y2=\"142.5\""),
        "{chart}"
    );
    assert!(chart.contains(">SLO p99 &lt; 50ms</text>"), "{chart}");
    assert!(chart.contains("off the scale, up to 1.03s"), "{chart}");
    // Levels by load: the p99 line goes 50, 100, 200, 207, 207, 213, 300, 400.
    let p99 = chart
        .split("stroke=\"#ff7f0e\"")
        .nth(1)
        .expect("a p99 line");
    let xs: Vec<f64> = p99
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .map(|point| point.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        xs.windows(2).all(|w| w[0] <= w[1]) && xs.len() == 8,
        "{xs:?}"
    );

    let errors = figure(&page, "errors and check violations in each level");
    assert!(
        errors.contains(">capacity 207</text>") && errors.contains(">2.5</text>"),
        "7 errors: {errors}"
    );
    assert!(
        !page.contains("Checks and thresholds"),
        "judged per level, not over the search: {page}"
    );

    let mut calm = capacity;
    calm.levels.iter_mut().for_each(|level| level.errors = 0);
    let page = render(&ReportData::of(Summary {
        capacity: Some(calm),
        ..summary()
    }));
    assert!(
        page.contains("no errors and no check violations in any level"),
        "{page}"
    );
}

#[test]
fn a_run_that_is_no_capacity_search_has_no_capacity_section() {
    let page = page(summary());
    assert!(
        !page.contains("Capacity") && !page.contains("each level"),
        "{page}"
    );
}
