//! `/locate` answers per second of a directory, for BENCHMARKS.md ("Connect storm", "/locate
//! on the partitioned server's directory"): `TOTAL` requests over `GROUPS` groups from
//! `CONCURRENCY` tasks sharing the harness's own discovery client (pooled keep-alive
//! connections, at most 256 in flight), as a connect storm's visitors ask. Bounded by count
//! and by a 60 s deadline; prints the rate, the errors and the latency p50/p99.
//!
//! ```sh
//! presence-bench serve --processes 2 --instances 2 --directory-port 7000 &
//! cargo run --release --example locate_load -- http://127.0.0.1:7000 50000 256 2
//! ```

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use presence_bench::net::http_client::HttpClient;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// No run goes on past this, whatever it was asked.
const DEADLINE: Duration = Duration::from_secs(60);

/// Microseconds, up to the deadline (an auto-resizing histogram would saturate at its start).
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, DEADLINE.as_micros() as u64, 3).expect("valid bounds")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, total, concurrency, groups] = args.as_slice() else {
        return Err("usage: locate_load DIRECTORY_URL TOTAL CONCURRENCY GROUPS".into());
    };
    let (total, concurrency, groups): (u64, u64, u64) =
        (total.parse()?, concurrency.parse()?, groups.parse()?);
    if concurrency == 0 || groups == 0 {
        return Err("CONCURRENCY and GROUPS must be at least 1".into());
    }
    let client = HttpClient::new(Duration::from_secs(10));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut latency = histogram();
                let mut errors = 0u64;
                // Task `task` asks for requests task, task + concurrency, ...
                for n in (task..total).step_by(concurrency as usize) {
                    if started.elapsed() > DEADLINE {
                        break;
                    }
                    let sent = Instant::now();
                    let group = (100 + n % groups).to_string();
                    match client.locate(&base, &group, &format!("visitor-{n}")).await {
                        Ok(_) => latency.saturating_record(sent.elapsed().as_micros() as u64),
                        Err(_) => errors += 1,
                    }
                }
                (latency, errors)
            })
        })
        .collect();
    let mut latency = histogram();
    let mut errors = 0;
    for task in tasks {
        let (own, failed) = task.await?;
        latency.add(own)?;
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1e3;
    println!(
        "locates: {} answered, {errors} errors in {elapsed:.2} s = {:.0}/s; latency p50 {:.2} ms, \
         p99 {:.2} ms",
        latency.len(),
        latency.len() as f64 / elapsed,
        ms(0.5),
        ms(0.99)
    );
    Ok(())
}
