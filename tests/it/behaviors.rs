//! Per-behavior results end to end: a run of two behaviors against the embedded cluster keeps
//! each behavior's latencies in summary.json (adding up to the overall ones), judges a
//! threshold on one behavior apart from the overall one, and shows them in the table with
//! `--by-behavior`; `validate` refuses a threshold on a behavior the scenario lacks; a run
//! split over two processes merges each behavior's figures and draws the merged HTML report
//! from both shards' intervals.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{cluster, scratch_dir, settings};
use presence_bench::report::html::data::read_intervals;

/// `browser` sends presence every 200 ms; `mobile` connects, sends one and stays.
const SCENARIO: &str = "\
name: by-behavior
seed: 5
target: { embedded: { instances: 1 } }
duration: 2s
load: { stages: [ { to: 12, over: 200ms } ] }
behaviors:
  - name: browser
    weight: 2
    steps: [connect, presence, { repeat: { every: 200ms, steps: [presence] } }]
  - name: mobile
    steps: [connect, presence, { hold: 10s }]
thresholds:
  presence_ack: [\"p99 < 30s\"]
  presence_ack{behavior:mobile}: [\"p99 < 1us\"]
  connect{behavior=browser}: [\"count > 0\"]
";

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn count(summary: &serde_json::Value, metric: &str) -> u64 {
    summary["metrics"][metric]["count"].as_u64().unwrap_or(0)
}

fn behavior_count(summary: &serde_json::Value, behavior: &str, metric: &str) -> u64 {
    summary["behaviors"][behavior]["metrics"][metric]["count"]
        .as_u64()
        .unwrap_or(0)
}

fn threshold<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let all = summary["thresholds"].as_array().unwrap();
    all.iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no threshold {name} in {all:?}"))
}

#[test]
fn each_behavior_is_measured_and_judged_apart() {
    let dir = scratch_dir("by-behavior");
    let scenario = dir.join("by-behavior.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.join("out");
    let junit = dir.join("junit.xml");
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ];
    let run = bench(&[&args[..], &["--by-behavior", "-q"]].concat());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let s = summary(&out);
    // The mobile threshold cannot hold: a failure (1), or no verdict on a lagging machine (3).
    assert!(matches!(run.status.code(), Some(1 | 3)), "{stderr}");
    if run.status.code() == Some(3) {
        assert_eq!(s["outcome"]["status"], "harness_limited", "{stderr}");
    }
    for metric in ["connect", "presence_ack"] {
        let (browser, mobile) = (
            behavior_count(&s, "browser", metric),
            behavior_count(&s, "mobile", metric),
        );
        assert!(browser > 0 && mobile > 0, "{metric}: {}", s["behaviors"]);
        assert_eq!(
            browser + mobile,
            count(&s, metric),
            "{metric}: every visitor's sample is its behavior's"
        );
    }
    assert!(
        behavior_count(&s, "browser", "presence_ack")
            > 2 * behavior_count(&s, "mobile", "presence_ack"),
        "browser repeats presence, mobile sends one: {}",
        s["behaviors"]
    );
    let histogram = &s["behaviors"]["mobile"]["histograms"]["presence_ack"];
    assert!(
        histogram.as_str().is_some_and(|text| !text.is_empty()),
        "encoded, for exact merges"
    );
    assert!(
        s["behaviors"]["browser"]["service"]["presence_ack"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );

    let overall = threshold(&s, "presence_ack");
    assert_eq!(
        (overall["passed"].as_bool(), overall.get("behavior")),
        (Some(true), None)
    );
    let mobile = threshold(&s, "presence_ack{behavior:mobile}");
    assert_eq!(
        (mobile["passed"].as_bool(), mobile["behavior"].as_str()),
        (Some(false), Some("mobile"))
    );
    assert_eq!(threshold(&s, "connect{behavior=browser}")["passed"], true);

    let junit = std::fs::read_to_string(&junit).unwrap();
    let case = junit
        .split("<testcase")
        .find(|case| case.contains("presence_ack{behavior:mobile}: p99 &lt; 1us"));
    assert!(
        case.is_some_and(|case| case.contains("<failure")),
        "one failing test case for it: {junit}"
    );

    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("\nbehavior browser\n  connect ") && table.contains("\nbehavior mobile\n"),
        "{table}"
    );
    let printed = bench(&[
        "report",
        out.to_str().unwrap(),
        "--by-behavior",
        "--html",
        dir.join("r.html").to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&printed.stdout).contains("behavior mobile"),
        "report --by-behavior prints them"
    );
    let page = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(
        page.contains("<h2>By behavior</h2>") && page.contains("></i>mobile</td>"),
        "the HTML section, each behavior beside its colour"
    );
    assert!(page.contains("presence_ack distribution by behavior"));
}

#[test]
fn validate_refuses_a_threshold_on_an_unknown_behavior() {
    let dir = scratch_dir("by-behavior-unknown");
    let scenario = dir.join("unknown.yaml");
    std::fs::write(
        &scenario,
        SCENARIO.replace("{behavior:mobile}", "{behavior:mobil}"),
    )
    .unwrap();
    let validate = bench(&["validate", scenario.to_str().unwrap()]);
    assert_eq!(validate.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&validate.stderr);
    let line = SCENARIO
        .lines()
        .position(|l| l.contains("{behavior:mobile}"))
        .unwrap()
        + 1;
    let expected = format!(
        "unknown.yaml:{line}:3: thresholds: expected a behavior of the scenario (browser, mobile) \
         in \"presence_ack{{behavior:mobil}}\", found \"mobil\": did you mean mobile?"
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// Two processes, each with half the visitors: the merged summary's behaviors are the sums of
/// the shards', and the merged report's interval log holds both shards' samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_run_merges_each_behavior_and_draws_the_merged_report() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("by-behavior-processes");
    let scenario = dir.join("split.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.join("out");
    let html = out.join("report.html");
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--target",
        &cluster.directory_url(),
        "--processes",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "-q",
    ];
    let bin = env!("CARGO_BIN_EXE_presence-bench");
    let run = tokio::process::Command::new(bin)
        .args(args)
        .output()
        .await
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(matches!(run.status.code(), Some(1 | 3)), "{stderr}");
    let merged = summary(&out);
    let shards = [summary(&out.join("shard-0")), summary(&out.join("shard-1"))];
    for (behavior, metric) in [
        ("browser", "presence_ack"),
        ("mobile", "presence_ack"),
        ("mobile", "connect"),
    ] {
        let parts: Vec<u64> = shards
            .iter()
            .map(|s| behavior_count(s, behavior, metric))
            .collect();
        assert!(
            parts.iter().all(|n| *n > 0),
            "{behavior} {metric} on both shards: {parts:?}"
        );
        assert_eq!(
            behavior_count(&merged, behavior, metric),
            parts.iter().sum::<u64>(),
            "{behavior} {metric}"
        );
    }
    assert_eq!(
        threshold(&merged, "presence_ack{behavior:mobile}")["passed"],
        false,
        "judged on the merged figures"
    );
    let logged: u64 = read_intervals(&out.join("latency.hlog"))
        .unwrap()
        .iter()
        .filter(|interval| interval.tag == "presence_ack")
        .map(|interval| interval.histogram.len())
        .sum();
    assert_eq!(
        logged,
        count(&merged, "presence_ack"),
        "the merged interval log holds both shards' samples"
    );
    let page = std::fs::read_to_string(&html).expect("the merged report is written");
    assert!(page.contains("presence_ack per interval") && page.contains("<h2>By behavior</h2>"));
    let total = format!(
        "<td class=\"name\">presence_ack</td><td>{}</td>",
        count(&merged, "presence_ack")
    );
    assert!(page.contains(&total), "the merged count in the page");
    cluster.shutdown().await;
}
