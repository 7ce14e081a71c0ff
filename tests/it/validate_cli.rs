//! `validate`, `run` and `compare` refuse what can be known before running, the same way:
//! exit code 2 and every mistake with its file, line, column and field.

use crate::common::scratch_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const TWO_MISTAKES: &str = "\
name: two
duration: 2s
target: { embedded: { instances: 1, heartbeat: 0s } }
load: { stages: [{ to: 2, over: 2s }] }
behaviors:
  - name: b
    steps: [presence, connect, { hold: 10 }]
";

#[test]
fn validate_and_run_report_every_mistake_alike() {
    let dir = scratch_dir("validate-mistakes");
    let path = write(&dir, "two.yaml", TWO_MISTAKES);
    let file = path.to_str().unwrap();
    let validate = bench(&["validate", file]);
    assert_eq!(validate.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&validate.stderr).into_owned();
    assert!(
        stderr.contains(&format!("{file}:3:")) && stderr.contains("target.embedded.heartbeat"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:7:40: behaviors[0].steps[2].hold: expected a duration"
        )),
        "{stderr}"
    );
    // The run refuses the very same file with the very same errors, before starting anything.
    let run = bench(&["run", file, "--quiet"]);
    assert_eq!(run.status.code(), Some(2));
    let run_stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    for line in stderr.lines().filter(|line| line.starts_with(file)) {
        assert!(
            run_stderr.contains(line),
            "run does not say {line:?}: {run_stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn summary(scenario: &str, schema: u32, p50: u64) -> String {
    let latency = format!(
        "{{\"unit\":\"us\",\"count\":10,\"rate\":1.0,\"min\":1,\"mean\":1.0,\"p50\":{p50},\
         \"p90\":{p50},\"p99\":{p50},\"p999\":{p50},\"max\":{p50}}}"
    );
    format!(
        "{{\"schema\":{schema},\"scenario\":\"{scenario}\",\"started_at\":\"x\",\
         \"duration_seconds\":1.0,\"target\":\"x\",\n            \
         \"visitors\":{{\"started\":1,\"completed\":1,\"peak\":1}},\"metrics\":{{\"presence_ack\":\
         {latency}}},\"counters\":{{}},\"errors\":{{}}}}"
    )
}

#[test]
fn compare_refuses_different_scenarios_unless_asked() {
    let dir = scratch_dir("validate-compare");
    let base = write(&dir, "base.json", &summary("a", 1, 1000));
    let other = write(&dir, "other.json", &summary("b", 1, 1000));
    let (base, other) = (base.to_str().unwrap(), other.to_str().unwrap());
    let refused = bench(&["compare", base, other]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("different scenarios (baseline \"a\", current \"b\")"),
        "{stderr}"
    );
    assert_eq!(
        bench(&["compare", base, other, "--allow-different-scenarios"])
            .status
            .code(),
        Some(0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_refuses_a_baseline_of_another_scenario_before_the_load() {
    let dir = scratch_dir("validate-run-baseline");
    let base = write(&dir, "base.json", &summary("another scenario", 1, 1000));
    let scenario = write(
        &dir,
        "gate.yaml",
        "name: gate\nduration: 20s\ntarget: { embedded: { instances: 1 } }\n\
         load: { stages: [ { to: 2, over: 0s } ] }\nbehaviors: [ { name: b, steps: [connect] } ]\n",
    );
    let started = std::time::Instant::now();
    let refused = bench(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        started.elapsed().as_secs() < 10,
        "refused before the 20 s run"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("different scenarios (baseline \"another scenario\", current \"gate\")"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
