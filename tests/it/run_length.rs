//! A run lasts its `duration`: the last stage's level holds until then, and agents keep
//! sending for as long as visitors are there to receive.

use crate::common;

use std::time::{Duration, Instant};

use presence_bench::measure::Counter;
use presence_bench::scenario;

/// Stages over after 200 ms, a run of 2 s, an agent signalling at 20/s.
const SHORT_STAGES: &str = "\
name: short-stages
seed: 7
target:
  embedded: { instances: 1 }
duration: 2s
load:
  stages: [ { to: 5, over: 200ms } ]
behaviors:
  - name: waits
    steps: [ connect, { hold: 1m } ]
agents:
  count: 1
  signals: { rate: 20/s }
  grace: 300ms
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_keep_signalling_after_the_stages_end() {
    let plan =
        scenario::from_str(SHORT_STAGES, "short-stages.yaml").expect("the test scenario is valid");
    let started = Instant::now();
    let result = common::start_run(plan).finished().await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the run ended after {:?}",
        started.elapsed()
    );
    // From the start to 300 ms before the end: about 34 signals.
    let sent = result.totals.counter(Counter::SignalsSent);
    assert!(sent >= 10, "only {sent} signals sent");
}
