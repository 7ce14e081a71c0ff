//! Missed heartbeats: a SockJS session from which nothing arrives for
//! `target.heartbeat_timeout` is treated as lost and reconnected. The server here is a tiny
//! SockJS stand-in that opens sessions, answers `connect`, and then says nothing at all.

use std::time::{Duration, Instant};

use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use presence_bench::measure::ErrorKind;
use presence_bench::measure::{Counter, Metric};
use presence_bench::protocol::{sockjs, ServerMessage};
use presence_bench::scenario;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Accepts sessions forever; reports when each one was answered `connected`, then keeps it
/// open and silent (sending `h` every `heartbeat` instead, when one is given).
async fn silent_server(listener: TcpListener, answered: mpsc::UnboundedSender<Instant>, heartbeat: Option<Duration>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let answered = answered.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
            if ws.send(Message::text(sockjs::OPEN)).await.is_err() {
                return;
            }
            // The first frame is the visitor's connect.
            if !matches!(ws.next().await, Some(Ok(Message::Text(_)))) {
                return;
            }
            let connected = ServerMessage::Connected { visitor: "v".into(), server: "silent".into(), focus: true };
            if ws.send(Message::text(sockjs::encode_messages(&[connected.encode()]))).await.is_err() {
                return;
            }
            let _ = answered.send(Instant::now());
            loop {
                match heartbeat {
                    Some(every) => {
                        tokio::time::sleep(every).await;
                        if ws.send(Message::text(sockjs::HEARTBEAT)).await.is_err() {
                            return;
                        }
                    }
                    // Read (and drop) whatever comes, answer nothing, until the client leaves.
                    None => {
                        if ws.next().await.is_none() {
                            return;
                        }
                    }
                }
            }
        });
    }
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
async fn a_silent_session_is_reconnected_after_the_heartbeat_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (answered_tx, mut answered) = mpsc::unbounded_channel();
    tokio::spawn(silent_server(listener, answered_tx, None));
    let run = start_run(plan(port));
    let first = within("the first session", answered.recv()).await.expect("answered");
    let second = within("the reconnect", answered.recv()).await.expect("answered");
    // A third session means the recovery into the second one was complete (and recorded).
    within("the second reconnect", answered.recv()).await.expect("answered");
    run.stop.cancel();
    let totals = run.finished().await.totals;
    let silence = second - first;
    assert!(silence >= Duration::from_millis(300), "gave up after {silence:?}, before the timeout");
    assert!(silence < Duration::from_secs(2), "gave up after {silence:?}, long after the timeout");
    assert!(totals.counter(Counter::SessionsLost) >= 2);
    assert!(totals.counter(Counter::Reconnects) >= 1);
    assert_eq!(totals.histogram(Metric::Reconnect).len(), totals.counter(Counter::Reconnects));
    // Outside a drill window a session the server let fall silent is lost: reconnected, and
    // counted as such (not as a timeout or a protocol error).
    let kinds: Vec<_> = totals.errors.keys().copied().collect();
    assert_eq!(kinds, [ErrorKind::SessionLost.as_str()], "a missed heartbeat is a lost session: {:?}", totals.errors);
    assert_eq!(totals.errors[ErrorKind::SessionLost.as_str()], totals.counter(Counter::SessionsLost));
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_session_alive() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (answered_tx, mut answered) = mpsc::unbounded_channel();
    tokio::spawn(silent_server(listener, answered_tx, Some(Duration::from_millis(100))));
    let run = start_run(plan(port));
    within("the first session", answered.recv()).await.expect("answered");
    // Five timeouts' worth of heartbeats only: the session must still be the first one.
    let live = tokio::time::timeout(Duration::from_millis(1500), answered.recv()).await;
    assert!(live.is_err(), "a session with heartbeats was reconnected");
    run.stop.cancel();
    let totals = run.finished().await.totals;
    assert_eq!(totals.counter(Counter::SessionsLost), 0);
}
