//! The server's resources in the verdict: a server made to leak (`fault_leak_per_visitor`)
//! fails `server_memory: ["slope < ..."]`, the reference server passes it. Each is a `serve`
//! process of its own, so the memory scraped is the server's alone, not the test binary's
//! (where the harness and every other test run).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::*;
use presence_bench::run::{self, Options, RunResult};
use presence_bench::schema::Status;
use presence_bench::shutdown::Shutdown;

/// Leaked per visitor coming online: 20 a second make about 36 GiB an hour.
const LEAK: &str = "524288";
/// Between the two: the reference server grows far less once its visitors churn steadily.
const SLOPE: &str = "slope < 4GiB/h";

/// `presence-bench serve` in a child process, killed when dropped.
struct Serve {
    child: Child,
    directory: String,
}

impl Serve {
    fn start(extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
            .args(["serve", "--instances", "1"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        // `serve` prints its directory first; the loop ends at that line or at its exit.
        let directory = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("directory ").map(str::to_owned))
            .expect("serve prints its directory");
        // The rest is read to its end (the server's exit): with the pipe closed, the next line
        // `serve` prints would kill it mid-run (a fresh-clone CI run lost its server so, after
        // 3 sessions); left unread, a full pipe would stall it.
        std::thread::spawn(move || lines.for_each(drop));
        Serve { child, directory }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 20 visitors a second for 10 s, each online for half a second, judged on the server's memory.
async fn churn_against(serve: &Serve) -> RunResult {
    let yaml = format!(
        "name: leak\nseed: 1\nduration: 10s\ntarget: {{ metrics_url: '{}/metrics' }}\n\
         load: {{ arrival_rate: {{ rate: 20/s, max_visitors: 100 }} }}\n\
         behaviors: [ {{ name: b, steps: [connect, presence, {{ hold: 500ms }}, disconnect] }} ]\n\
         thresholds:\n  server_memory: [ \"{SLOPE}\" ]\n  server_cpu: [ \"max < 2\" ]\n",
        serve.directory
    );
    let plan = plan_at(&yaml, &serve.directory);
    let result = tokio::time::timeout(
        RUN_WAIT,
        run::run(plan, Options::default(), Shutdown::new()),
    )
    .await;
    result
        .expect("the run ends in time")
        .expect("the run is judged")
}

fn memory(result: &RunResult) -> &presence_bench::schema::ThresholdResult {
    let found = result
        .summary
        .thresholds
        .iter()
        .find(|threshold| threshold.name == "server_memory");
    found.expect("the server_memory threshold is judged")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_threshold_fails_a_leaking_server_and_passes_the_reference_one() {
    let leaking = Serve::start(&["--fault-leak-per-visitor", LEAK]);
    let result = churn_against(&leaking).await;
    let leak = memory(&result);
    assert!(!leak.passed && leak.exercised, "{leak:?}");
    assert_eq!(
        result.verdict.status,
        Status::Failed,
        "{:?}",
        result.verdict
    );
    let resources = result.summary.server_resources.as_ref().expect("scraped");
    assert!(
        resources.scrapes >= 5 && resources.processes.contains_key("server"),
        "{resources:?}"
    );
    drop(leaking);

    let reference = Serve::start(&[]);
    let result = churn_against(&reference).await;
    let normal = memory(&result);
    assert!(
        normal.passed,
        "{normal:?} {:?}",
        result.summary.server_resources
    );
    let cpu = result
        .summary
        .thresholds
        .iter()
        .find(|threshold| threshold.name == "server_cpu")
        .expect("judged");
    assert!(
        cpu.passed && cpu.value.is_some_and(|share| share > 0.0),
        "{cpu:?}"
    );
    assert!(
        leak.value.unwrap() > 4.0 * normal.value.unwrap().max(1.0),
        "the leak's slope stands out: {:?} against {:?}",
        leak.value,
        normal.value
    );
}

/// The value of the unlabelled metric `name` in a `/metrics` answer.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// `serve` hands its heap back once its last visitor is forgotten, however few came
/// (`presence_server_heap_trims_total`), and runs without glibc's thread cache, whose chunks
/// kept pages of the peak's heap resident (`heap`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_trims_its_heap_once_its_visitors_are_forgotten() {
    let serve = Serve::start(&["--visitor-retention", "100ms"]);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let environ = std::fs::read(format!("/proc/{}/environ", serve.child.id())).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(environ.contains("glibc.malloc.tcache_count="), "{environ}");
    }
    let yaml = "name: few\nseed: 1\nduration: 1s\n\
         load: { arrival_rate: { rate: 20/s, max_visitors: 20 } }\n\
         behaviors: [ { name: b, steps: [connect, presence, { hold: 100ms }, disconnect] } ]\n";
    let plan = plan_at(yaml, &serve.directory);
    let run = tokio::time::timeout(
        RUN_WAIT,
        run::run(plan, Options::default(), Shutdown::new()),
    );
    let result = run.await.expect("the run ends in time").expect("judged");
    assert!(result.summary.visitors.started > 0, "visitors came");
    within("the heap trimmed with no visitor held", async {
        loop {
            let text = raw_get(&serve.directory, "/metrics").await;
            let held = metric(&text, "presence_server_visitors_held");
            let trims = metric(&text, "presence_server_heap_trims_total");
            if held == Some(0.0) && trims.is_some_and(|trims| trims >= 1.0) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
}
