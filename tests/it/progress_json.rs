//! `--progress json`: one JSON object per collector interval, the same rows as
//! timeline.jsonl, to a file (or stderr) for CI logs and wrappers; no `--out` needed.

use crate::common::scratch_dir;
use std::process::Command;

const SCENARIO: &str = "\
name: progress-json
target: { embedded: { instances: 1 } }
duration: 2s
load: { stages: [ { to: 10, over: 300ms } ] }
behaviors:
  - name: b
    steps: [connect, presence, { repeat: { every: 200ms, steps: [presence] } }]
";

#[test]
fn each_interval_is_one_json_object() {
    let dir = scratch_dir("progress");
    let scenario = dir.join("progress.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let file = dir.join("progress.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--progress",
            "json",
            "--progress-file",
            file.to_str().unwrap(),
        ])
        .output()
        .expect("the binary runs");
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&file).expect("the progress file is written");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect();
    assert!(
        rows.len() >= 2,
        "one object per 1 s interval of a 2 s run: {text}"
    );
    assert!(rows.iter().any(|row| row["visitors"] == 10), "{text}");
    assert!(
        rows.iter().any(|row| row["p99_us"]["presence_ack"]
            .as_u64()
            .is_some_and(|p99| p99 > 0)),
        "{text}"
    );
    for field in [
        "t_s",
        "length_s",
        "messages_sent_per_s",
        "messages_received_per_s",
        "errors",
    ] {
        assert!(rows[0].get(field).is_some(), "{field} missing: {}", rows[0]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
