//! Every shutdown is bounded: a client that sent half a request (or that reads nothing)
//! cannot keep the reference cluster, `serve` or a run alive; a second signal stops the
//! binary at once, and a run still writes its report.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use presence_bench::server::Settings;
use presence_bench::shutdown::REPEAT_WINDOW;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// A client that sent a request line and one header of `path`, and nothing more.
async fn half_a_request(base: &str, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .expect("TCP connect");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n").as_bytes())
        .await
        .expect("half a request sent");
    stream
}

#[tokio::test]
async fn the_cluster_shuts_down_within_its_bounds_with_half_sent_requests_open() {
    let settings = Settings {
        instances: 2,
        drain_window: Duration::from_millis(100),
        shutdown_grace: Duration::from_millis(300),
        header_timeout: Duration::from_secs(3600),
        ..Settings::default()
    };
    let cluster = cluster(settings).await;
    let _directory = half_a_request(&cluster.directory_url(), "/locate").await;
    let _instance = half_a_request(&http_base(&cluster, "s1"), "/presence/info").await;
    let _visitor = visitor(&url(&cluster, "s2"), Sockjs, "v1", "t1").await;
    within("the cluster to shut down", cluster.shutdown()).await;
}

#[tokio::test]
async fn a_client_slower_than_the_header_timeout_is_closed() {
    let settings = Settings {
        instances: 1,
        header_timeout: Duration::from_millis(200),
        ..Settings::default()
    };
    let cluster = cluster(settings).await;
    for base in [cluster.directory_url(), http_base(&cluster, "s1")] {
        let mut slow = half_a_request(&base, "/healthz").await;
        let mut rest = Vec::new();
        within(
            "the server to close a slow client",
            slow.read_to_end(&mut rest),
        )
        .await
        .expect("read to the end");
    }
    // The server still answers everyone else.
    assert!(raw_get(&cluster.directory_url(), "/healthz")
        .await
        .ends_with("ok"));
    within("the cluster to shut down", cluster.shutdown()).await;
}

/// The binary, with stdout and stderr read on threads and handed over line by line.
struct Binary {
    /// Taken when waited for.
    child: Option<Child>,
    pid: String,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Binary {
    fn start(args: &[&str]) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout: Box<dyn std::io::Read + Send> =
            Box::new(child.stdout.take().expect("stdout is piped"));
        let stderr: Box<dyn std::io::Read + Send> =
            Box::new(child.stderr.take().expect("stderr is piped"));
        for output in [stdout, stderr] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(output).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Binary {
            pid: child.id().to_string(),
            child: Some(child),
            lines,
        }
    }

    /// The first line starting with `prefix` (stdout or stderr), without the prefix.
    async fn line(&mut self, prefix: &str) -> String {
        within(prefix, async {
            while let Some(line) = self.lines.recv().await {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.to_owned();
                }
            }
            panic!("the binary's output ended before a line starting with {prefix:?}");
        })
        .await
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// The exit code, failing the test if the binary takes longer than `limit`.
    async fn exit_within(mut self, limit: Duration) -> Option<i32> {
        let mut child = self.child.take().expect("waited for once");
        match tokio::time::timeout(limit, tokio::task::spawn_blocking(move || child.wait())).await {
            Ok(status) => status
                .expect("the waiter does not panic")
                .expect("wait")
                .code(),
            Err(_) => {
                self.signal("-KILL");
                panic!("the binary was still running {limit:?} after it was told to stop");
            }
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // A test that failed half-way leaves no process behind.
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_within_its_grace_with_a_half_sent_request_open() {
    let mut serve = Binary::start(&[
        "serve",
        "--instances",
        "1",
        "--drain-window",
        "100ms",
        "--shutdown-grace",
        "300ms",
    ]);
    let directory = serve.line("directory ").await;
    let _stuck = half_a_request(&directory, "/locate").await;
    serve.signal("-TERM");
    assert_eq!(
        serve.exit_within(WAIT).await,
        Some(0),
        "a bounded shutdown is a clean one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_serve_at_once() {
    let mut serve = Binary::start(&[
        "serve",
        "--instances",
        "1",
        "--drain-window",
        "100ms",
        "--shutdown-grace",
        "1h",
    ]);
    let directory = serve.line("directory ").await;
    let _stuck = half_a_request(&directory, "/locate").await;
    serve.signal("-TERM");
    serve.line("stopping: ").await;
    // A repeat within the window would be the same request again (`shutdown::REPEAT_WINDOW`).
    tokio::time::sleep(REPEAT_WINDOW).await;
    serve.signal("-TERM");
    assert_eq!(
        serve.exit_within(WAIT).await,
        Some(3),
        "a forced stop is not a clean one"
    );
}

/// A signal repeated right after the first (GNU `timeout` without `--foreground`, a terminal
/// signalling the whole process group) is the same request: serve goes on draining. Only a
/// signal after the window forces. The drain here cannot end by itself (a half-sent request,
/// a grace of an hour), so a repeat taken for "force" would end the process at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_repeated_at_once_is_one_stop() {
    let mut serve = Binary::start(&[
        "serve",
        "--instances",
        "1",
        "--drain-window",
        "100ms",
        "--shutdown-grace",
        "1h",
    ]);
    let directory = serve.line("directory ").await;
    let _stuck = half_a_request(&directory, "/locate").await;
    serve.signal("-TERM");
    serve.line("stopping: ").await;
    serve.signal("-TERM");
    // Nothing to await for "nothing happened": the window itself is what is tested.
    tokio::time::sleep(REPEAT_WINDOW * 2).await;
    let child = serve.child.as_mut().expect("not waited for yet");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the repeat forced a stop"
    );
    serve.signal("-TERM");
    assert_eq!(
        serve.exit_within(WAIT).await,
        Some(3),
        "a signal after the window forces"
    );
}

const SCENARIO: &str = "name: long\nseed: 1\ntarget: { group: '42' }\nduration: 10m\n\
                        load: { stages: [ { to: 2, over: 0s } ] }\n\
                        behaviors: [ { name: b, steps: [connect, { repeat: { every: 100ms, steps: \
                        [presence] } }] } ]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_a_run_waiting_for_its_metrics_endpoint_and_the_report_is_written() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("second-signal");
    let scenario = dir.join("long.yaml");
    std::fs::write(&scenario, SCENARIO).expect("scenario written");
    let out = dir.join("out");
    let (target, out_arg, scenario_arg) = (
        cluster.directory_url(),
        out.display().to_string(),
        scenario.display().to_string(),
    );
    let mut run = Binary::start(&[
        "run",
        "--quiet",
        "--target",
        &target,
        "--metrics-addr",
        "127.0.0.1:0",
        "--out",
        &out_arg,
        &scenario_arg,
    ]);
    run.line("running long against").await;
    let metrics = run.line("metrics: serving ").await;
    let _stuck = half_a_request(metrics.trim_end_matches("/metrics"), "/metrics").await;
    run.signal("-INT");
    run.line("reports written to").await;
    tokio::time::sleep(REPEAT_WINDOW).await;
    // The endpoint now waits up to its grace (5 s) for the stuck scraper; the second signal
    // ends the wait at once.
    let forced = Instant::now();
    run.signal("-INT");
    assert_eq!(run.exit_within(WAIT).await, Some(3));
    assert!(
        forced.elapsed() < Duration::from_secs(3),
        "stopped at once, not at the end of the grace"
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary.json written");
    assert!(
        serde_json::from_str::<serde_json::Value>(&summary).is_ok(),
        "{summary}"
    );
    cluster.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_outlives_a_reader_that_closed_its_stdout() {
    // A script that reads nothing (or only the directory line) closes the pipe: the lines
    // `serve` prints then hit a closed pipe, which must not end the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args([
            "serve",
            "--instances",
            "1",
            "--directory-port",
            &port.to_string(),
            "--drain-window",
            "100ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    drop(child.stdout.take());
    let serve = Binary {
        pid: child.id().to_string(),
        child: Some(child),
        lines: mpsc::unbounded_channel().1,
    };
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    // Nothing to await but the port answering: serve can tell no one it is up.
    within("serve to answer", async {
        while http().request(hyper::Method::GET, &healthz).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    serve.signal("-INT");
    assert_eq!(
        serve.exit_within(WAIT).await,
        Some(0),
        "still running, and stopped cleanly"
    );
}
