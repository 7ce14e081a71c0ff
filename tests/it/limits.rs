//! What the harness reads from a server is bounded: a directory that answers `/locate` with
//! an endless body costs an error naming the limit, not gigabytes.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
use presence_bench::net::http_client::{HttpError, MAX_BODY};
use presence_bench::scenario::{self, Destination};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Most bytes one answer of the endless server sends: far over the limit, and bounded so
/// that the test's own traffic is.
const ENDLESS_CAP: usize = 256 << 20;

/// A directory whose every answer is a chunked body that does not end (until the client
/// hangs up, or [`ENDLESS_CAP`]).
async fn endless_directory() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(endless_answers(socket));
        }
    });
    addr
}

async fn endless_answers(mut socket: TcpStream) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let header =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    if socket.write_all(header.as_bytes()).await.is_err() {
        return;
    }
    let chunk = [b"4000\r\n".as_slice(), &[b' '; 0x4000], b"\r\n"].concat();
    for _ in 0..ENDLESS_CAP / 0x4000 {
        if socket.write_all(&chunk).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn an_endless_locate_answer_is_an_error_naming_the_limit() {
    let directory = endless_directory().await;
    let err = within(
        "the locate to fail",
        http().locate(&format!("http://{directory}"), GROUP, "v1"),
    )
    .await
    .expect_err("an endless body is refused");
    assert!(
        matches!(
            err,
            HttpError::BodyTooLarge {
                limit: MAX_BODY,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("over the {MAX_BODY}-byte limit")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_against_an_endless_directory_is_found_down_naming_the_limit() {
    let yaml = "name: endless\nseed: 1\nduration: 20s\nload: { stages: [ { to: 4, over: 0s } ] }\n\
        behaviors: [ { name: b, steps: [connect, { hold: 1s }] } ]\n";
    let mut plan = scenario::from_str(yaml, "endless.yaml").expect("valid");
    plan.target.destination = Destination::Directory {
        url: format!("http://{}", endless_directory().await),
    };
    let started = std::time::Instant::now();
    // The preflight reads at most the limit of the first answer and stops there: the run is
    // refused in seconds instead of reading on for its 20 s.
    let err = start_run(plan)
        .ended()
        .await
        .err()
        .expect("an endless directory is no usable target");
    assert!(
        err.to_string().contains("over the 65536-byte limit"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
