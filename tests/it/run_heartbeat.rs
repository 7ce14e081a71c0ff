//! Missed heartbeats: a session whose server has sent heartbeats on it (`h`, or WebSocket
//! pings) and then says nothing for `target.heartbeat_timeout` is treated as lost and
//! reconnected; one that never had a heartbeat is merely quiet. The server here is a tiny
//! SockJS stand-in that opens sessions, answers `connect`, and then keeps them as told.

use std::time::{Duration, Instant};

use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use presence_bench::engine::preflight;
use presence_bench::measure::ErrorKind;
use presence_bench::measure::{Counter, Metric};
use presence_bench::scenario;
use presence_bench::wire::{sockjs, ServerMessage};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// What the stand-in sends once a session is answered `connected`.
#[derive(Clone, Copy)]
enum Life {
    /// Nothing at all; whatever comes is read and dropped, until the client leaves.
    Silence,
    /// A SockJS `h` every interval, `count` of them (then silence); `None` for ever.
    Heartbeats(Duration, Option<u32>),
    /// A WebSocket ping every interval and no `h`, as sockjs-node keeps its WebSocket
    /// sessions alive.
    Pings(Duration),
}

/// Accepts sessions forever; reports when each one was answered `connected`, then keeps it
/// open as `life` says.
async fn silent_server(
    listener: TcpListener,
    answered: mpsc::UnboundedSender<Instant>,
    life: Life,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let answered = answered.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            if ws.send(Message::text(sockjs::OPEN)).await.is_err() {
                return;
            }
            // The first frame is the visitor's connect; the harness's preflight probe is not
            // the run's visitor, and is not reported.
            let Some(Ok(Message::Text(connect))) = ws.next().await else {
                return;
            };
            let probe = connect.contains(preflight::PROBE_VISITOR);
            let connected = ServerMessage::Connected {
                visitor: "v".into(),
                server: "silent".into(),
                focus: true,
            };
            if ws
                .send(Message::text(sockjs::encode_messages(
                    &[connected.encode()],
                )))
                .await
                .is_err()
            {
                return;
            }
            if !probe {
                let _ = answered.send(Instant::now());
            }
            let (every, mut left, frame) = match life {
                Life::Heartbeats(every, count) => (every, count, Message::text(sockjs::HEARTBEAT)),
                Life::Pings(every) => (every, None, Message::Ping(Default::default())),
                Life::Silence => (Duration::ZERO, Some(0), Message::text("")),
            };
            while left != Some(0) {
                left = left.map(|n| n - 1);
                tokio::select! {
                    _ = tokio::time::sleep(every) => {
                        if ws.send(frame.clone()).await.is_err() {
                            return;
                        }
                    }
                    // Pongs and anything else the client sends are read and dropped.
                    read = ws.next() => if read.is_none() { return },
                }
            }
            while ws.next().await.is_some() {}
        });
    }
}

/// A run of one visitor holding its session against the stand-in, and the stand-in's
/// reports of each session it answered.
fn run_against(life: Life) -> (Running, mpsc::UnboundedReceiver<Instant>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let (answered_tx, answered) = mpsc::unbounded_channel();
    tokio::spawn(silent_server(
        TcpListener::from_std(listener).expect("listener"),
        answered_tx,
        life,
    ));
    (start_run(plan(port)), answered)
}

fn plan(port: u16) -> scenario::Plan {
    let yaml = format!(
        "name: silent\nseed: 2\nduration: 20s\n\
         target: {{ url: 'ws://127.0.0.1:{port}/presence', heartbeat_timeout: 300ms }}\n\
         load: {{ stages: [ {{ to: 1, over: 0s }} ] }}\n\
         behaviors: [ {{ name: b, steps: [connect, {{ hold: 1m }}] }} ]\n"
    );
    scenario::from_str(&yaml, "silent.yaml").expect("valid")
}

#[tokio::test]
async fn a_session_whose_heartbeats_stop_is_reconnected_after_the_heartbeat_timeout() {
    let (run, mut answered) = run_against(Life::Heartbeats(Duration::from_millis(50), Some(2)));
    let first = within("the first session", answered.recv())
        .await
        .expect("answered");
    let second = within("the reconnect", answered.recv())
        .await
        .expect("answered");
    // A third session means the recovery into the second one was complete (and recorded).
    within("the second reconnect", answered.recv())
        .await
        .expect("answered");
    run.stop.cancel();
    let totals = run.finished().await.totals;
    // Two heartbeats 50 ms apart, then 300 ms of silence.
    let silence = second - first;
    assert!(
        silence >= Duration::from_millis(400),
        "gave up after {silence:?}, before the timeout"
    );
    assert!(
        silence < Duration::from_secs(2),
        "gave up after {silence:?}, long after the timeout"
    );
    assert!(totals.counter(Counter::SessionsLost) >= 2);
    assert!(totals.counter(Counter::Reconnects) >= 1);
    assert_eq!(
        totals.histogram(Metric::Reconnect).len(),
        totals.counter(Counter::Reconnects)
    );
    // Outside a drill window a session the server let fall silent is lost: reconnected, and
    // counted as such (not as a timeout or a protocol error).
    let kinds: Vec<_> = totals.errors.keys().copied().collect();
    assert_eq!(
        kinds,
        [ErrorKind::SessionLost.as_str()],
        "a missed heartbeat is a lost session: {:?}",
        totals.errors
    );
    assert_eq!(
        totals.errors[ErrorKind::SessionLost.as_str()],
        totals.counter(Counter::SessionsLost)
    );
}

/// Holds the run for five heartbeat timeouts: the session must still be the first one.
async fn assert_kept(run: Running, mut answered: mpsc::UnboundedReceiver<Instant>, what: &str) {
    within("the first session", answered.recv())
        .await
        .expect("answered");
    let live = tokio::time::timeout(Duration::from_millis(1500), answered.recv()).await;
    assert!(
        live.is_err(),
        "a session kept alive by {what} was reconnected"
    );
    run.stop.cancel();
    let totals = run.finished().await.totals;
    assert_eq!(totals.counter(Counter::SessionsLost), 0, "{what}");
    assert!(totals.errors.is_empty(), "{what}: {:?}", totals.errors);
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_session_alive() {
    let (run, answered) = run_against(Life::Heartbeats(Duration::from_millis(100), None));
    assert_kept(run, answered, "SockJS heartbeats").await;
}

/// sockjs-node keeps WebSocket sessions alive with pings and sends no `h` on them.
#[tokio::test]
async fn websocket_pings_keep_a_quiet_session_alive() {
    let (run, answered) = run_against(Life::Pings(Duration::from_millis(100)));
    assert_kept(run, answered, "WebSocket pings").await;
}

/// A server need not heartbeat at all on a transport (sockjs-client keeps no heartbeat
/// timeout): silence on a session that never had a heartbeat is no loss.
#[tokio::test]
async fn a_session_that_never_had_a_heartbeat_is_not_judged_by_its_silence() {
    let (run, answered) = run_against(Life::Silence);
    assert_kept(run, answered, "nothing (a quiet server)").await;
}
