//! Ctrl-C in the middle of a run: the binary stops the load, writes the reports gathered so
//! far, and exits 3 (not carried out to its end), which summary.json and JUnit say too.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::*;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use presence_bench::visitor;
use presence_bench::wire::{ClientMessage, ServerMessage};

const SCENARIO: &str = "name: long\nseed: 1\ntarget: { group: '42' }\nduration: 10m\n\
    load: { stages: [ { to: 5, over: 0s } ] }\n\
    behaviors: [ { name: b, steps: [connect, { repeat: { every: 50ms, steps: [presence] } }] } ]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_writes_the_report_and_exits_3() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("ctrl-c");
    let scenario = dir.join("long.yaml");
    std::fs::write(&scenario, SCENARIO).expect("scenario written");
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args([
            "run",
            "--quiet",
            "--target",
            &cluster.directory_url(),
            "--out",
        ])
        .arg(&out)
        .arg("--junit")
        .arg(out.join("junit.xml"))
        .arg(&scenario)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id().to_string();

    // Stderr is read on a thread and handed over line by line.
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    within("the start line", async {
        while let Some(line) = lines.recv().await {
            if line.starts_with("running long against") {
                return;
            }
        }
        panic!("stderr closed before the start line");
    })
    .await;
    // The first visitor is online and has sent a presence: there is something to report.
    let plan = presence_bench::scenario::from_str(SCENARIO, "long.yaml").expect("valid");
    let first = visitor::persona(&plan, 0).id;
    let mut watcher = agent(&url(&cluster, "s1"), RawWebsocket, "watcher").await;
    send(&mut watcher, ClientMessage::Lookup { visitor: first }).await;
    recv_until(
        &mut watcher,
        |m| matches!(m, ServerMessage::Presence { online: true, data, .. } if data.is_empty()),
    )
    .await;

    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(RUN_WAIT, tokio::task::spawn_blocking(move || child.wait()))
        .await
        .expect("the run stops after Ctrl-C")
        .expect("the waiter does not panic")
        .expect("wait");
    assert_eq!(exit.code(), Some(3), "an interrupted run exits 3");
    cluster.shutdown().await;

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json written"),
    )
    .expect("summary.json is JSON");
    assert!(
        summary["metrics"]["connect"]["count"].as_u64() >= Some(1),
        "summary: {summary}"
    );
    assert_eq!(
        (
            &summary["outcome"]["status"],
            &summary["outcome"]["exit_code"]
        ),
        (&"interrupted".into(), &3.into())
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml written");
    assert!(
        junit.contains("<error message=\"verdict: INTERRUPTED"),
        "never a green file: {junit}"
    );
    let hlog = std::fs::read(out.join("latency.hlog")).expect("latency.hlog written");
    let mut tags = std::collections::BTreeSet::new();
    for entry in IntervalLogIterator::new(&hlog) {
        if let LogEntry::Interval(interval) = entry.expect("every hlog entry parses") {
            tags.extend(interval.tag().map(|tag| tag.as_str().to_owned()));
        }
    }
    assert!(
        tags.contains("connect"),
        "intervals tagged by metric: {tags:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
