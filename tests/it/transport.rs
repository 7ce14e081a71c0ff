//! Transports and framing: SockJS and raw WebSocket, info, heartbeats, and bad input that
//! must close or answer one session while the one beside it keeps working.

use std::time::Duration;

use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use hyper::{Method, StatusCode};
use presence_bench::server::Settings;
use presence_bench::wire::{ClientMessage, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn info_and_welcome_follow_sockjs() {
    let cluster = cluster(settings()).await;
    let base = http_base(&cluster, "s1");
    let info = raw_get(&base, "/presence/info").await;
    let (head, body) = info.split_once("\r\n\r\n").expect("headers and body");
    let head = head.to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.0 200") || head.starts_with("http/1.1 200"),
        "{head}"
    );
    assert!(
        head.contains("content-type: application/json; charset=utf-8"),
        "{head}"
    );
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let info: serde_json::Value = serde_json::from_str(body).expect("JSON info");
    assert_eq!(info["websocket"], true);
    assert_eq!(info["origins"], serde_json::json!(["*:*"]));
    assert_eq!(info["cookie_needed"], false);
    assert!(info["entropy"].is_u64());
    for path in ["/presence", "/presence/"] {
        let (status, body) = http()
            .request(Method::GET, &format!("{base}{path}"))
            .await
            .expect("welcome");
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, &b"Welcome to SockJS!\n"[..])
        );
    }
}

#[tokio::test]
async fn both_transports_carry_the_same_messages() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    for transport in [Sockjs, RawWebsocket] {
        let name = format!("v-{transport:?}");
        let mut tab = visitor(&url, transport, &name, "t1").await;
        let mut watcher = agent(&url, transport, "a1").await;
        send(
            &mut watcher,
            ClientMessage::Lookup {
                visitor: name.clone(),
            },
        )
        .await;
        let ServerMessage::Presence {
            online: true,
            focus_tab,
            ..
        } = recv(&mut watcher).await
        else {
            panic!("expected an online presence")
        };
        assert_eq!(focus_tab.as_deref(), Some("t1"));
        send(&mut tab, presence(1, serde_json::json!({"k": "v"}))).await;
        assert_eq!(recv(&mut tab).await, ServerMessage::PresenceAck { seq: 1 });
        let ServerMessage::Presence { data, .. } = recv(&mut watcher).await else {
            panic!("expected presence")
        };
        assert_eq!(data.get("k"), Some(&serde_json::json!("v")));
    }
}

#[tokio::test]
async fn idle_sockjs_sessions_get_heartbeats() {
    let cluster = cluster(Settings {
        heartbeat: Duration::from_millis(50),
        ..settings()
    })
    .await;
    let mut conn = open(&url(&cluster, "s1"), Sockjs).await;
    let incoming = within("a heartbeat", conn.recv()).await.expect("a frame");
    assert_eq!(incoming, presence_bench::client::Incoming::Heartbeat);
}

/// A heartbeat is due a whole interval after the last frame sent, not after the session
/// opened: the session's one heartbeat timer moves with every frame that goes out.
#[tokio::test]
async fn a_heartbeat_comes_a_whole_interval_after_the_last_frame() {
    use presence_bench::client::Incoming;
    let heartbeat = Duration::from_millis(400);
    let cluster = cluster(Settings {
        heartbeat,
        ..settings()
    })
    .await;
    let mut conn = open(&url(&cluster, "s1"), Sockjs).await;
    // Pacing, not synchronisation: a frame goes out three quarters into the first interval
    // (an `extend` before `connect` is answered with an error).
    tokio::time::sleep(heartbeat * 3 / 4).await;
    send(&mut conn, ClientMessage::Extend).await;
    recv(&mut conn).await;
    let answered = std::time::Instant::now();
    let incoming = within("a heartbeat", conn.recv()).await.expect("a frame");
    assert_eq!(incoming, Incoming::Heartbeat);
    // Had the timer stayed where the session opened, the heartbeat would follow the answer
    // by a quarter of the interval.
    assert!(
        answered.elapsed() >= heartbeat / 2,
        "a heartbeat {:?} after the last frame",
        answered.elapsed()
    );
}

#[tokio::test]
async fn invalid_session_paths_are_404_and_reuse_gets_2010() {
    let cluster = cluster(settings()).await;
    let base = http_base(&cluster, "s1");
    for path in [
        "/presence/1234/abc/websocket",
        "/presence/1/a.b/websocket",
        "/presence/x/abc/websocket",
    ] {
        let (status, _) = http()
            .request(Method::GET, &format!("{base}{path}"))
            .await
            .expect("an answer");
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let session_url = format!("{}/007/same-id/websocket", url(&cluster, "s1"));
    let (mut first, _) = tokio_tungstenite::connect_async(&session_url)
        .await
        .expect("first upgrade");
    let (mut second, _) = tokio_tungstenite::connect_async(&session_url)
        .await
        .expect("second upgrade");
    let text = |frame: Option<Result<Message, _>>| {
        frame
            .expect("a frame")
            .expect("no error")
            .into_text()
            .expect("text")
    };
    assert_eq!(text(first.next().await).as_str(), "o");
    assert_eq!(text(second.next().await).as_str(), "o");
    assert_eq!(
        text(second.next().await).as_str(),
        r#"c[2010,"Another connection still open"]"#
    );
    // The first one is unharmed.
    first
        .send(Message::text(r#"["{\"type\":\"extend\"}"]"#))
        .await
        .expect("sent");
    let reply = text(within("a reply", first.next()).await);
    assert!(reply.contains("not_connected"), "{reply}");
}

#[tokio::test]
async fn non_json_frames_close_with_1002() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut healthy = visitor(&url, Sockjs, "healthy", "t").await;
    for transport in [Sockjs, RawWebsocket] {
        let mut bad = visitor(&url, transport, "bad", "t").await;
        bad.send_text("{not json".into()).await.expect("sent");
        assert_eq!(closed(&mut bad).await, (1002, "Broken framing.".into()));
        round_trip(&mut healthy, 1).await;
    }
    // A frame that is JSON but not SockJS framing breaks it too; an empty one is ignored.
    let mut bad = open(&url, Sockjs).await;
    bad.send_text(String::new()).await.expect("sent");
    bad.send_text("[1]".into()).await.expect("sent");
    assert_eq!(closed(&mut bad).await.0, 1002);
}

#[tokio::test]
async fn oversized_frames_close_with_1009() {
    let cluster = cluster(Settings {
        max_frame_bytes: 1024,
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut healthy = visitor(&url, RawWebsocket, "healthy", "t").await;
    for transport in [Sockjs, RawWebsocket] {
        let mut bad = open(&url, transport).await;
        bad.send_text(format!("\"{}\"", "x".repeat(1100)))
            .await
            .expect("sent");
        assert_eq!(closed(&mut bad).await, (1009, "Message too big".into()));
        round_trip(&mut healthy, 1).await;
    }
    // Far over even tungstenite's limit: the socket is dropped, nothing else happens.
    let mut huge = open(&url, RawWebsocket).await;
    let _ = huge.send_text("x".repeat(64 * 1024)).await;
    assert!(within("the huge frame's end", huge.recv()).await.is_err());
    round_trip(&mut healthy, 2).await;
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_session_stays() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut healthy = visitor(&url, Sockjs, "healthy", "t").await;
    for transport in [Sockjs, RawWebsocket] {
        let mut conn = open(&url, transport).await;
        let error_code = |message: ServerMessage| match message {
            ServerMessage::Error { code, .. } => code,
            other => panic!("expected an error, got {other:?}"),
        };
        send(&mut conn, presence(1, serde_json::json!({}))).await;
        assert_eq!(error_code(recv(&mut conn).await), "not_connected");
        send(&mut conn, signal("v", "1")).await;
        assert_eq!(error_code(recv(&mut conn).await), "not_connected");
        conn.send_text(r#"["{\"type\":\"teleport\"}"]"#.into())
            .await
            .expect("sent");
        assert_eq!(error_code(recv(&mut conn).await), "unknown_type");
        if transport == RawWebsocket {
            conn.send_text(r#"{"type":"teleport"}"#.into())
                .await
                .expect("sent");
            assert_eq!(error_code(recv(&mut conn).await), "unknown_type");
        }
        send(
            &mut conn,
            ClientMessage::AgentConnect {
                group: "not digits".into(),
                agent: "a".into(),
            },
        )
        .await;
        assert_eq!(error_code(recv(&mut conn).await), "bad_request");
        send(&mut conn, connect("", "t")).await;
        assert_eq!(error_code(recv(&mut conn).await), "bad_request");
        // Still usable.
        send(&mut conn, connect("v-after-errors", "t")).await;
        assert!(matches!(
            recv(&mut conn).await,
            ServerMessage::Connected { .. }
        ));
        let mistyped = r#"{"type":"presence","seq":"x"}"#;
        conn.send_text(match transport {
            RawWebsocket => mistyped.to_owned(),
            _ => presence_bench::wire::sockjs::encode_client_frame(&[mistyped]),
        })
        .await
        .expect("sent");
        assert_eq!(error_code(recv(&mut conn).await), "bad_request");
        round_trip(&mut conn, 9).await;
        round_trip(&mut healthy, 1).await;
    }
}

#[tokio::test]
async fn bad_data_is_refused_and_nothing_is_stored() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut tab = visitor(&url, Sockjs, "v", "t").await;
    let mut watcher = agent(&url, RawWebsocket, "a").await;
    send(&mut tab, presence(1, serde_json::json!({"good": 1}))).await;
    assert_eq!(recv(&mut tab).await, ServerMessage::PresenceAck { seq: 1 });
    for bad in [
        serde_json::json!({"nested": {"a": 1}}),
        serde_json::json!({"list": [1]}),
        serde_json::json!({"b": true}),
    ] {
        send(&mut tab, presence(2, bad)).await;
        assert!(
            matches!(recv(&mut tab).await, ServerMessage::Error { code, .. } if code == "bad_data")
        );
    }
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    let ServerMessage::Presence { data, .. } = recv(&mut watcher).await else {
        panic!("expected presence")
    };
    assert_eq!(
        serde_json::Value::Object(data),
        serde_json::json!({"good": 1})
    );
}
