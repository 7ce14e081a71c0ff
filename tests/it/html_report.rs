//! The HTML report end to end: the binary runs a 2-second scenario with a kill drill against
//! the embedded cluster with `--html`, and `report DIR` rebuilds the same page from the
//! output directory alone. The page must hold the metrics, the event, the verdict and the
//! thresholds, escape what the run named, fold what a reader opens on demand, and reference
//! nothing on the network.

use crate::common::scratch_dir;
use std::process::{Command, Output};

const SCENARIO: &str = "\
name: html-report
seed: 11
target: { embedded: { instances: 2, drain_window: 200ms } }
duration: 2s
reconnect: { base: 50ms, cap: 200ms }
load: { stages: [ { to: 20, over: 300ms } ] }
behaviors:
  - name: b
    steps: [connect, presence, { repeat: { every: 200ms, steps: [presence] } }]
drills:
  - { at: 1s, kill: 1 }
thresholds:
  presence_ack: [\"p99 < 1us\", \"count > 0\"]
";

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_run_renders_a_self_contained_report_and_report_dir_rebuilds_it() {
    let dir = scratch_dir("html");
    let scenario = dir.join("html-report.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.join("out");
    let html = dir.join("report.html");
    let run = bench(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    // p99 < 1us cannot hold: the verdict is a failure (1), or no verdict on a lagging machine (3).
    assert!(matches!(run.status.code(), Some(1 | 3)), "{stderr}");
    let page = std::fs::read_to_string(&html).expect("the report is written");

    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    for wanted in [
        "html-report",
        "presence_ack per interval",
        "presence_ack distribution",
        "connect per interval",
        "reconnect per interval",
        "visitors alive",
        "messages per second",
        "<td class=\"name\">presence_ack.service</td>",
        "service time",
    ] {
        assert!(page.contains(wanted), "missing {wanted:?}");
    }
    // What failed comes before any chart; the metrics beyond the key ones are folded.
    let first_chart = page.find("<svg").expect("charts");
    let failed = page.find("<li class=\"bad\">presence_ack &quot;p99 &lt; 1us&quot; measured");
    assert!(
        failed.is_some_and(|at| at < first_chart),
        "what failed, at the top: {page}"
    );
    assert!(
        page.contains(" more metric"),
        "the other metrics folded: {page}"
    );
    assert!(
        page.contains("verdict: FAIL") || page.contains("verdict: HARNESS"),
        "no verdict in the page"
    );
    assert!(page.contains("p99 &lt; 1us"), "the threshold, escaped");
    assert!(
        page.contains("<td class=\"name\">kill</td>") && page.contains("kill @1."),
        "the drill event, in the table and on the charts"
    );
    assert!(
        page.contains("harness scheduling lag") && page.contains("harness CPU"),
        "the harness's health per second"
    );
    // The target's URL may be shown as text; nothing is loaded from anywhere.
    for reference in [
        "<script", "<link", "src=", "href=", "url(", "@import", "=\"http", "='http",
    ] {
        assert!(
            !page.contains(reference),
            "the page references {reference:?}"
        );
    }

    let rebuilt = dir.join("rebuilt.html");
    let report = bench(&[
        "report",
        out.to_str().unwrap(),
        "--html",
        rebuilt.to_str().unwrap(),
    ]);
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&rebuilt).unwrap(),
        page,
        "report DIR draws the same page"
    );

    std::fs::write(out.join("timeline.jsonl"), "{\"t_s\": oops}\n").unwrap();
    let broken = bench(&[
        "report",
        out.to_str().unwrap(),
        "--html",
        rebuilt.to_str().unwrap(),
    ]);
    let message = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(2), "{message}");
    assert!(
        message.contains("timeline.jsonl:1:"),
        "the bad line is named: {message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
