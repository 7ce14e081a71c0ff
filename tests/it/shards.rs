//! A split run end to end: 3 shards of one scenario (`run --shard K/3 --start-at`) against one
//! reference cluster, merged, judge the same as the single process running the whole scenario;
//! a merge that lacks a shard is exit 3, a summary of another run is refused, and shards that
//! find the target down merge into TARGET DOWN.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use crate::common::{cluster, scratch_dir, settings};
use tokio::process::Command;

/// 30 visitors with presence every 300 ms and 3 agents signalling them, for 4 s.
const SCENARIO: &str =
    "name: split\nseed: 9\nduration: 4s\ntarget: { embedded: { instances: 1 } }\n\
     load: { stages: [{ to: 30, over: 300ms }, { hold: 3700ms }] }\n\
     behaviors:\n  - name: b\n    steps: [connect, presence, { repeat: { every: 300ms, steps: \
     [presence] } }]\n\
     agents: { count: 3, signals: { rate: 20/s }, grace: 1s }\n\
     thresholds:\n  presence_ack: [\"p99 < 5s\", \"count > 0\"]\n";

async fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args(args)
        .output()
        .await
        .expect("the binary runs")
}

fn json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn status_of(summary: &serde_json::Value) -> String {
    summary["outcome"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// PASS, or HARNESS-LIMITED on a machine too busy for the harness (2 cores, tests in parallel).
fn assert_pass(summary: &serde_json::Value, output: &Output) {
    let status = status_of(summary);
    assert!(
        status == "passed" || status == "harness_limited",
        "{status}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_started_together_merge_into_the_verdict_of_one_process() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("shards-merge");
    let scenario = dir.join("split.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let (scenario, target) = (
        scenario.to_str().unwrap().to_owned(),
        cluster.directory_url(),
    );

    let single = dir.join("single");
    let output = bench(&[
        "run",
        &scenario,
        "--quiet",
        "--target",
        &target,
        "--out",
        single.to_str().unwrap(),
    ])
    .await;
    let single = json(&single);
    assert_pass(&single, &output);

    let start_at =
        humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(3)).to_string();
    let shard_dirs: Vec<PathBuf> = (0..3).map(|k| dir.join(format!("shard-{k}"))).collect();
    let runs = shard_dirs.iter().enumerate().map(|(k, out)| {
        let shard = format!("{k}/3");
        let args = [
            "run",
            &scenario,
            "--quiet",
            "--target",
            &target,
            "--shard",
            &shard,
            "--start-at",
            &start_at,
        ];
        let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        args.extend(["--out".to_owned(), out.to_str().unwrap().to_owned()]);
        async move { bench(&args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    });
    let outputs = futures_join(runs).await;
    for (out, output) in shard_dirs.iter().zip(&outputs) {
        let summary = json(out);
        assert_pass(&summary, output);
        assert!(
            summary["shard"]["start_lag_ms"].as_f64().unwrap() < 1000.0,
            "started together"
        );
    }

    let merged = dir.join("merged");
    let mut args = vec!["merge"];
    args.extend(shard_dirs.iter().map(|dir| dir.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    let output = bench(&args).await;
    let merged = json(&merged);
    assert_pass(&merged, &output);
    if status_of(&single) == "passed" && status_of(&merged) == "passed" {
        assert_eq!(output.status.code(), Some(0));
    }
    // Together the shards ran the same visitors as the single process: 30, never one twice.
    assert_eq!(merged["visitors"]["started"], single["visitors"]["started"]);
    assert_eq!(merged["visitors"]["started"], 30);
    assert_eq!(
        merged["visitors"]["peak"], 30,
        "the peak of the aligned, summed timelines"
    );
    assert!(
        merged["checks"]
            .as_object()
            .unwrap()
            .values()
            .all(|n| n == 0),
        "{}",
        merged["checks"]
    );
    assert!(
        merged["counters"]["signals_sent"].as_u64().unwrap() > 0,
        "agents signalled their shards' visitors"
    );
    assert_eq!(merged["shards"].as_array().unwrap().len(), 3);
    let table = String::from_utf8_lossy(&output.stderr);
    assert!(table.contains("shard    visitors"), "{table}");

    // One shard short: no verdict on the whole run, unless a partial one is asked for.
    let output = bench(&[
        "merge",
        shard_dirs[0].to_str().unwrap(),
        shard_dirs[2].to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(String::from_utf8_lossy(&output.stdout)
        .contains("verdict: INCOMPLETE (no summary from shard 1 of 3"));
    let args = [
        "merge",
        shard_dirs[0].to_str().unwrap(),
        shard_dirs[2].to_str().unwrap(),
        "--allow-missing",
    ];
    let output = bench(&args).await;
    // Judged, not INCOMPLETE: a pass, or HARNESS-LIMITED (also exit 3) when the busy machine
    // made a shard's harness lag, as `assert_pass` allows.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let verdict = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with("verdict: "))
        .unwrap_or_default();
    assert!(
        verdict == "verdict: PASS" || verdict.starts_with("verdict: HARNESS-LIMITED ("),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("partial: judged without the missing shards"));

    // The single run is no shard of this run: refused.
    let output = bench(&[
        "merge",
        shard_dirs[0].to_str().unwrap(),
        dir.join("single").to_str().unwrap(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a shard's summary"));

    // A shard that reaches its start too late runs nothing, and says by how much.
    let past =
        humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(10)).to_string();
    let late = dir.join("late");
    let args = [
        "run",
        &scenario,
        "--quiet",
        "--target",
        &target,
        "--shard",
        "1/3",
        "--start-at",
        &past,
    ];
    let output = bench(&[&args[..], &["--out", late.to_str().unwrap()]].concat()).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("shard 1/3: could not start at ") && stderr.contains("late (tolerance 1s)"),
        "{stderr}"
    );
    let output = bench(&[
        "merge",
        shard_dirs[0].to_str().unwrap(),
        late.to_str().unwrap(),
        shard_dirs[2].to_str().unwrap(),
    ])
    .await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "the late shard is a missing one"
    );
    cluster.shutdown().await;
}

/// A reused output directory never mixes two runs (issue 26): shard 1 of a second run reaches
/// its start too late and runs nothing; the earlier run's summary.json in its directory must
/// not stand in for it (the merge said PASS, exit 0, judging shards started seconds apart as
/// one run). The earlier run's shard put back beside the new one is refused, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_shard_in_a_reused_directory_leaves_nothing_of_the_earlier_run() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("shards-reused");
    let scenario = dir.join("reused.yaml");
    std::fs::write(
        &scenario,
        "name: reused\nseed: 3\nduration: 1s\ntarget: { embedded: { instances: 1 } }\n\
         load: { stages: [{ to: 4, over: 100ms }, { hold: 900ms }] }\n\
         behaviors:\n  - name: b\n    steps: [connect, presence]\n",
    )
    .unwrap();
    let (scenario, target) = (
        scenario.to_str().unwrap().to_owned(),
        cluster.directory_url(),
    );
    let outs: Vec<String> = (0..2)
        .map(|k| dir.join(format!("shard-{k}")).to_str().unwrap().to_owned())
        .collect();
    let shard = |k: usize, start: String| {
        let (scenario, target, out) = (scenario.clone(), target.clone(), outs[k].clone());
        async move {
            let shard = format!("{k}/2");
            bench(&[
                "run",
                &scenario,
                "--quiet",
                "--target",
                &target,
                "--shard",
                &shard,
                "--start-at",
                &start,
                "--out",
                &out,
            ])
            .await
        }
    };
    let soon =
        || humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(2)).to_string();
    let start = soon();
    let earlier = futures_join([shard(0, start.clone()), shard(1, start)].into_iter()).await;
    for (k, output) in earlier.iter().enumerate() {
        assert_pass(&json(Path::new(&outs[k])), output);
    }
    let left_over = std::fs::read(Path::new(&outs[1]).join("summary.json")).unwrap();

    let start = soon();
    let on_time = shard(0, start.clone()).await;
    assert_pass(&json(Path::new(&outs[0])), &on_time);
    // The run of shard 0 took past the tolerance: shard 1 is late for the same start.
    let late = shard(1, start).await;
    assert_eq!(
        late.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&late.stderr)
    );
    let summary = std::fs::read(Path::new(&outs[1]).join("summary.json")).unwrap();
    assert!(
        summary.is_empty(),
        "the earlier run's summary is gone: {}",
        String::from_utf8_lossy(&summary)
    );
    let output = bench(&["merge", &outs[0], &outs[1]]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("verdict: INCOMPLETE (no summary from shard 1 of 2"),
        "{stdout}"
    );

    // A merge waiting for this run's shards gives up on the late one after its wait.
    let run = json(Path::new(&outs[0]))["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = bench(&[
        "merge", &outs[0], &outs[1], "--run-id", &run, "--wait", "1s",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("waited 1s; still no summary in {}", outs[1])),
        "{stderr}"
    );

    std::fs::write(Path::new(&outs[1]).join("summary.json"), left_over).unwrap();
    let output = bench(&["merge", &outs[0], &outs[1], "--run-id", &run]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}/summary.json: of run ", outs[1]))
            && stderr.contains("(--run-id)"),
        "{stderr}"
    );
    let output = bench(&["merge", &outs[0], &outs[1]]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let leftover = format!(
        "{}/summary.json started earlier (left over from a previous run",
        outs[1]
    );
    assert!(
        stderr.contains("shards of different runs are not merged") && stderr.contains(&leftover),
        "{stderr}"
    );
    let run_of = |k: usize| {
        json(Path::new(&outs[k]))["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(run_of(0), run_of(1), "each run has its own id");
    cluster.shutdown().await;
}

/// Runs the shards at once, as separate processes do.
async fn futures_join<F: std::future::Future<Output = Output> + Send + 'static>(
    runs: impl Iterator<Item = F>,
) -> Vec<Output> {
    let handles: Vec<_> = runs.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("the shard's task does not panic"));
    }
    outputs
}

/// `run --processes 2`: two children of the harness, one start, one merged report where `run`
/// writes it, and the children's reports beside it. The children run the scenario as the
/// parent read it, `--set` included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_run_shards_and_write_the_merged_report() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("shards-processes");
    let scenario = dir.join("split.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let (scenario, target, out) = (
        scenario.to_str().unwrap(),
        cluster.directory_url(),
        dir.join("out"),
    );
    let out_arg = out.to_str().unwrap();
    let args = [
        "run",
        scenario,
        "--target",
        &target,
        "--processes",
        "2",
        "--out",
        out_arg,
        "--set",
        "name=renamed",
    ];
    let output = bench(&args).await;
    let merged = json(&out);
    assert_pass(&merged, &output);
    assert_eq!(
        merged["scenario"], "renamed",
        "the override reached the shards and the merge"
    );
    assert_eq!(json(&out.join("shard-0"))["scenario"], "renamed");
    assert_eq!(merged["visitors"]["started"], 30);
    let rows = merged["shards"].as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|row| row["visitors"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![15, 15]
    );
    assert_eq!(json(&out.join("shard-1"))["shard"]["count"], 2);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("verdict: "),
        "the merged table is printed"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("shards 2/2  visitors "),
        "one live line for both shards: {stderr}"
    );
    // Without --html too, the merged run's interval files are written, so `report DIR` draws it.
    let report = bench(&["report", out_arg]).await;
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("presence_ack per interval"));
    cluster.shutdown().await;
}

/// `run --processes` without `--out`: `--progress-file` gets one merged object per second (the
/// shards' visitors summed), and the shards' temporary directory is gone after the merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_write_merged_json_progress_and_clean_up_without_out() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("shards-progress");
    let scenario = dir.join("split.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let (scenario, target, progress) = (
        scenario.to_str().unwrap(),
        cluster.directory_url(),
        dir.join("progress.jsonl"),
    );
    let args = [
        "run",
        scenario,
        "--target",
        &target,
        "--processes",
        "2",
        "--progress-file",
        progress.to_str().unwrap(),
    ];
    let output = bench(&args).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("verdict: "),
        "{stderr}"
    );
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&progress)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        (4..=6).contains(&rows.len()),
        "one object a second of a 4 s run: {rows:?}"
    );
    assert_eq!(
        rows[2]["visitors"], 30,
        "both shards' visitors in one object: {rows:?}"
    );
    assert!(rows
        .iter()
        .all(|row| row["run_id"] == rows[0]["run_id"] && row["run_id"].is_string()));
    assert!(
        !stderr.contains("shards 2/2  visitors"),
        "JSON instead of the line: {stderr}"
    );
    let line = stderr
        .lines()
        .find(|line| line.ends_with(" (removed after the merge)"))
        .expect(&stderr);
    let temporary = line
        .split("shards' reports in ")
        .nth(1)
        .unwrap()
        .trim_end_matches(" (removed after the merge)");
    assert!(!Path::new(temporary).exists(), "{temporary} is removed");
    cluster.shutdown().await;
}

/// `run --processes` into a reused `--out` whose shards all miss their start: nothing to merge
/// (exit 3), and the earlier run's merged summary.json is not left standing for this one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_that_merge_nothing_leave_no_earlier_summary() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("shards-processes-late");
    let scenario = dir.join("split.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("summary.json"), "{\"earlier\": \"run\"}").unwrap();
    let past =
        humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(10)).to_string();
    let (scenario, target) = (scenario.to_str().unwrap(), cluster.directory_url());
    let args = [
        "run",
        scenario,
        "--target",
        &target,
        "--processes",
        "2",
        "--start-at",
        &past,
        "--quiet",
    ];
    let output = bench(&[&args[..], &["--out", out.to_str().unwrap()]].concat()).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no shard left a summary.json"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out.join("summary.json")).unwrap(),
        "",
        "the earlier summary is gone"
    );
    cluster.shutdown().await;
}

/// SIGTERM to `run --processes` reaches every child: each stops and writes its report, and the
/// merged run is INTERRUPTED (exit 3), not a verdict on a part of the load.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_to_processes_stops_every_shard_and_the_merge_says_interrupted() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("shards-signal");
    let scenario = dir.join("long.yaml");
    std::fs::write(
        &scenario,
        SCENARIO
            .replace("duration: 4s", "duration: 60s")
            .replace("3700ms", "59s"),
    )
    .unwrap();
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--target",
            &cluster.directory_url(),
            "--processes",
            "2",
        ])
        .args(["--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut waiting = 0;
    // Both shards listen for signals once they print when they start; the parent relays each
    // shard's lines whole, labelled.
    while waiting < 2 {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        waiting += usize::from(line.starts_with("[shard ") && line.contains("] starting at "));
    }
    let pid = libc::pid_t::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child with a valid signal.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let merged = json(&out);
    assert_eq!(status_of(&merged), "interrupted", "{}", merged["outcome"]);
    for k in 0..2 {
        assert_eq!(
            status_of(&json(&out.join(format!("shard-{k}")))),
            "interrupted"
        );
    }
    cluster.shutdown().await;
}

/// `run --processes 2` against a closed port: each shard finds the target down before its
/// load and says so in a summary that still names its shard, so the merge is TARGET DOWN
/// (exit 3) in the table, summary.json and JUnit. Before, the shards' summaries had no `shard`
/// section, the merge refused them as "not a shard's summary" and the run exited 2 (invalid
/// input) with no verdict and an empty JUnit file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_against_a_dead_target_merge_into_target_down() {
    let dir = scratch_dir("shards-dead");
    let scenario = dir.join("split.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let (out, junit) = (dir.join("out"), dir.join("junit.xml"));
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:1",
        "--processes",
        "2",
    ];
    let output = bench(
        &[
            &args[..],
            &[
                "--out",
                out.to_str().unwrap(),
                "--junit",
                junit.to_str().unwrap(),
            ],
        ]
        .concat(),
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout
        .lines()
        .rev()
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    assert!(
        last.starts_with("verdict: TARGET DOWN (") && last.contains("Connection refused"),
        "{last}"
    );
    let merged = json(&out);
    assert_eq!(status_of(&merged), "target_down", "{}", merged["outcome"]);
    assert_eq!(merged["outcome"]["exit_code"], 3);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<error message=\"verdict: TARGET DOWN"),
        "{xml}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
