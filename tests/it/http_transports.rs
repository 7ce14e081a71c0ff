//! The SockJS HTTP transports of the reference server (xhr polling with xhr_send,
//! xhr_streaming, eventsource): the same presence behaviour as on a WebSocket, and the
//! SockJS session rules of HTTP (2010, heartbeats, the disconnect delay, the byte limit).

use std::time::Duration;

use crate::common::sockjs_http::{
    messages_of, EventSource, HttpSession, Receiving, Xhr, XhrStreaming,
};
use crate::common::*;
use hyper::StatusCode;
use presence_bench::server::Settings;
use presence_bench::wire::sockjs::ServerFrame;
use presence_bench::wire::{ClientMessage, ServerMessage, Status};

fn close_frame(code: u16, reason: &str) -> ServerFrame {
    ServerFrame::Close {
        code,
        reason: reason.into(),
    }
}

/// An HTTP session that opened and connected visitor `visitor` with tab `tab`, and the
/// receiving request it reads on (a poll is reopened for each frame by [`next_messages`]).
async fn http_visitor(
    url: &str,
    kind: Receiving,
    visitor: &str,
    tab: &str,
) -> (HttpSession, Option<crate::common::sockjs_http::Stream>) {
    let session = HttpSession::new(url);
    let mut stream = session.receive(kind).await;
    assert_eq!(stream.next().await, Some(ServerFrame::Open));
    session.send(&[connect(visitor, tab)]).await;
    let mut stream = (kind != Xhr).then_some(stream);
    let connected = next_messages(&session, &mut stream).await;
    assert!(
        matches!(connected[0], ServerMessage::Connected { .. }),
        "{connected:?}"
    );
    (session, stream)
}

/// The next messages: from the open stream, or from a fresh poll.
async fn next_messages(
    session: &HttpSession,
    stream: &mut Option<crate::common::sockjs_http::Stream>,
) -> Vec<ServerMessage> {
    match stream {
        Some(stream) => stream.messages().await,
        None => messages_of(session.poll().await),
    }
}

#[tokio::test]
async fn every_http_transport_carries_presence_acks_and_signals() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut watcher = agent(&url, RawWebsocket, "a1").await;
    for kind in [Xhr, XhrStreaming, EventSource] {
        let name = format!("v-{kind:?}");
        let (session, mut stream) = http_visitor(&url, kind, &name, "t1").await;
        session
            .send(&[presence(1, serde_json::json!({"k": "v"}))])
            .await;
        assert_eq!(
            next_messages(&session, &mut stream).await,
            vec![ServerMessage::PresenceAck { seq: 1 }]
        );
        send(&mut watcher, signal(&name, "s1")).await;
        assert_eq!(
            recv(&mut watcher).await,
            ServerMessage::SignalStatus {
                id: "s1".into(),
                status: Status::Delivered,
                reason: None
            }
        );
        let delivered = next_messages(&session, &mut stream).await;
        assert!(
            matches!(&delivered[0], ServerMessage::Signal { id, .. } if id == "s1"),
            "{delivered:?}"
        );
    }
}

#[tokio::test]
async fn a_blur_reaches_the_tab_that_lost_focus_on_another_transport() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let (_streaming, mut first) = http_visitor(&url, XhrStreaming, "v", "t1").await;
    let (polling, mut second) = http_visitor(&url, Xhr, "v", "t2").await;
    let first = first.as_mut().expect("a stream");
    assert_eq!(
        first.messages().await,
        vec![ServerMessage::Blur { tab: "t1".into() }]
    );
    // And back: the WebSocket tab takes focus, the polling one is blurred.
    let mut third = visitor(&url, RawWebsocket, "v", "t3").await;
    assert_eq!(
        next_messages(&polling, &mut second).await,
        vec![ServerMessage::Blur { tab: "t2".into() }]
    );
    round_trip(&mut third, 1).await;
}

#[tokio::test]
async fn a_drain_closes_http_sessions_with_3000_and_they_reconnect_elsewhere() {
    // A window long enough that s1 still listens for every poll below on a loaded machine
    // (with 300 ms, a stall between the drain and the last poll found s1 gone).
    let cluster = cluster(Settings {
        drain_window: Duration::from_secs(2),
        ..settings()
    })
    .await;
    let (streaming, mut stream) = http_visitor(&url(&cluster, "s1"), XhrStreaming, "v", "t").await;
    let (polling, _) = http_visitor(&url(&cluster, "s1"), Xhr, "w", "t").await;
    cluster.scale_in(Some("s1")).await.expect("s1 drains");
    let stream = stream.as_mut().expect("a stream");
    assert!(matches!(
        stream.messages().await[..],
        [ServerMessage::Draining { .. }]
    ));
    assert_eq!(stream.next().await, Some(close_frame(3000, "Go away!")));
    assert_eq!(
        stream.next().await,
        None,
        "the response ends after the close frame"
    );
    assert!(matches!(
        messages_of(polling.poll().await)[..],
        [ServerMessage::Draining { .. }]
    ));
    assert_eq!(polling.poll().await, close_frame(3000, "Go away!"));
    // The close frame is repeated to a client that asks again.
    assert_eq!(streaming.poll().await, close_frame(3000, "Go away!"));
    let (again, mut stream) = http_visitor(&url(&cluster, "s2"), EventSource, "v", "t").await;
    again.send(&[presence(2, serde_json::json!({}))]).await;
    assert_eq!(
        next_messages(&again, &mut stream).await,
        vec![ServerMessage::PresenceAck { seq: 2 }]
    );
}

#[tokio::test]
async fn idle_http_sessions_get_heartbeats() {
    let cluster = cluster(Settings {
        heartbeat: Duration::from_millis(50),
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let session = HttpSession::new(&url);
    assert_eq!(session.poll().await, ServerFrame::Open);
    assert_eq!(
        session.poll().await,
        ServerFrame::Heartbeat,
        "a waiting poll is answered at the heartbeat"
    );
    let session = HttpSession::new(&url);
    let mut stream = session.receive(EventSource).await;
    assert_eq!(stream.next().await, Some(ServerFrame::Open));
    assert_eq!(stream.next().await, Some(ServerFrame::Heartbeat));
    assert_eq!(
        stream.next().await,
        Some(ServerFrame::Heartbeat),
        "and the stream stays open"
    );
}

#[tokio::test]
async fn a_session_whose_client_stops_polling_times_out_and_its_visitor_goes_offline() {
    let cluster = cluster(Settings {
        disconnect_delay: Duration::from_millis(200),
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let (session, _) = http_visitor(&url, Xhr, "v", "t").await;
    let mut watcher = agent(&url, RawWebsocket, "a").await;
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut watcher).await,
        ServerMessage::Presence { online: true, .. }
    ));
    // No more polls: after the disconnect delay the session is gone.
    assert!(matches!(
        recv(&mut watcher).await,
        ServerMessage::Presence { online: false, .. }
    ));
    assert_eq!(session.send_raw(r#"["{}"]"#).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        session.poll().await,
        ServerFrame::Open,
        "the id is free again: a new session"
    );
}

#[tokio::test]
async fn a_second_receiving_request_gets_2010_and_the_first_keeps_working() {
    let cluster = cluster(settings()).await;
    let (session, mut stream) = http_visitor(&url(&cluster, "s1"), XhrStreaming, "v", "t").await;
    assert_eq!(
        session.poll().await,
        close_frame(2010, "Another connection still open")
    );
    let mut second = session.receive(EventSource).await;
    assert_eq!(
        second.next().await,
        Some(close_frame(2010, "Another connection still open"))
    );
    assert_eq!(second.next().await, None);
    session.send(&[presence(1, serde_json::json!({}))]).await;
    assert_eq!(
        stream.as_mut().expect("a stream").messages().await,
        vec![ServerMessage::PresenceAck { seq: 1 }]
    );
}

#[tokio::test]
async fn a_streaming_response_ends_at_its_byte_limit_and_the_next_one_goes_on() {
    let cluster = cluster(Settings {
        response_limit: 200,
        ..settings()
    })
    .await;
    let (session, stream) = http_visitor(&url(&cluster, "s1"), XhrStreaming, "v", "t").await;
    let mut stream = stream.expect("a stream");
    let mut acked = Vec::new();
    for seq in 1..=3 {
        session.send(&[presence(seq, serde_json::json!({}))]).await;
        for message in stream.messages().await {
            acked.push(message);
        }
    }
    // `o`, `connected` and three acks are over 200 bytes: the response has ended.
    assert_eq!(stream.next().await, None);
    session.send(&[presence(4, serde_json::json!({}))]).await;
    let mut next = session.receive(XhrStreaming).await;
    acked.extend(next.messages().await);
    let seqs: Vec<u64> = acked
        .iter()
        .map(|message| match message {
            ServerMessage::PresenceAck { seq } => *seq,
            other => panic!("expected an ack, got {other:?}"),
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4], "nothing lost across the two responses");
}

#[tokio::test]
async fn xhr_send_refuses_what_sockjs_refuses_and_the_session_stays() {
    let cluster = cluster(Settings {
        max_frame_bytes: 1024,
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    assert_eq!(
        HttpSession::new(&url).send_raw(r#"["x"]"#).await.0,
        StatusCode::NOT_FOUND
    );
    let (session, _) = http_visitor(&url, Xhr, "v", "t").await;
    assert_eq!(
        session.send_raw("").await,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Payload expected.".into()
        )
    );
    assert_eq!(
        session.send_raw(r#"["x"#).await,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Broken JSON encoding.".into()
        )
    );
    session.send(&[presence(1, serde_json::json!({}))]).await;
    assert_eq!(
        messages_of(session.poll().await),
        vec![ServerMessage::PresenceAck { seq: 1 }]
    );
    // A frame over the limit closes the session with 1009, as on a WebSocket.
    let (status, _) = session
        .send_raw(&format!(r#"["{}"]"#, "x".repeat(2000)))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(session.poll().await, close_frame(1009, "Message too big"));
}

#[tokio::test]
async fn a_receiving_request_cut_by_its_client_closes_the_session_with_1002() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let (session, stream) = http_visitor(&url, XhrStreaming, "v", "t").await;
    let mut watcher = agent(&url, RawWebsocket, "a").await;
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut watcher).await,
        ServerMessage::Presence { online: true, .. }
    ));
    // Dropping the unfinished response closes its connection, as a network failure would.
    drop(stream);
    assert_eq!(
        session.poll().await,
        close_frame(1002, "Connection interrupted")
    );
    assert!(matches!(
        recv(&mut watcher).await,
        ServerMessage::Presence { online: false, .. }
    ));
}

#[tokio::test]
async fn the_cluster_shuts_down_promptly_with_http_sessions_open() {
    // A closed HTTP session lingers for the disconnect delay, but not past its instance's
    // listener: with both bounds at 30 s, only that keeps the shutdown short.
    let long = Duration::from_secs(30);
    let settings = Settings {
        drain_window: Duration::from_millis(100),
        shutdown_grace: long,
        disconnect_delay: long,
        ..settings()
    };
    let cluster = cluster(settings).await;
    let (_streaming, mut stream) = http_visitor(&url(&cluster, "s1"), XhrStreaming, "v", "t").await;
    let _polling = http_visitor(&url(&cluster, "s2"), Xhr, "w", "t").await;
    within("the cluster to shut down", cluster.shutdown()).await;
    let stream = stream.as_mut().expect("a stream");
    assert!(matches!(
        stream.messages().await[..],
        [ServerMessage::Draining { .. }]
    ));
    assert_eq!(stream.next().await, Some(close_frame(3000, "Go away!")));
}

#[tokio::test]
async fn a_polling_visitor_gets_every_kept_signal_however_many_wait() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut sender = agent(&url, RawWebsocket, "a").await;
    // More than an HTTP session holds for a client between two polls.
    let kept = 300;
    for id in 0..kept {
        send(&mut sender, signal("v", &id.to_string())).await;
        assert_eq!(
            recv(&mut sender).await,
            ServerMessage::SignalStatus {
                id: id.to_string(),
                status: Status::Queued,
                reason: None
            }
        );
    }
    let session = HttpSession::new(&url);
    assert_eq!(session.poll().await, ServerFrame::Open);
    // `connect` arrives while no poll waits: `connected` and every kept signal queue up.
    session.send(&[connect("v", "t")]).await;
    let mut signals = 0;
    while signals < kept {
        for message in messages_of(session.poll().await) {
            if matches!(message, ServerMessage::Signal { .. }) {
                signals += 1;
            }
        }
    }
    session.send(&[presence(1, serde_json::json!({}))]).await;
    assert_eq!(
        messages_of(session.poll().await),
        vec![ServerMessage::PresenceAck { seq: 1 }]
    );
}
