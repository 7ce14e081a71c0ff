//! The harness's HTTP transports (`xhr_streaming`, `xhr_polling`, `eventsource`) against the
//! reference server: every docs/protocol.md behaviour a visitor meets works the same as over
//! WebSocket. Each test runs once per transport.

use std::time::Duration;

use crate::common::*;
use presence_bench::client::{ClientError, Incoming};
use presence_bench::server::Settings;
use presence_bench::wire::Transport;
use presence_bench::wire::{ClientMessage, ServerMessage, Status};

const HTTP: [Transport; 3] = [
    Transport::XhrStreaming,
    Transport::XhrPolling,
    Transport::Eventsource,
];

#[tokio::test]
async fn connect_presence_and_signals_work_on_every_http_transport() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut agent = agent(&url, Sockjs, "agent-0").await;
    for transport in HTTP {
        let id = format!("v-{}", transport.name());
        let mut tab = visitor(&url, transport, &id, "t1").await;
        for seq in 1..=3 {
            round_trip(&mut tab, seq).await;
        }
        // Signals pushed while the visitor sends: delivered, in order, on the receiving side.
        for n in 0..3 {
            assert_eq!(
                signal_status(&mut agent, &id, &format!("{n}")).await,
                (Status::Delivered, None),
                "{transport:?}"
            );
        }
        for n in 0..3 {
            assert_eq!(signal_id(&mut tab).await, format!("{n}"), "{transport:?}");
        }
        send(
            &mut tab,
            ClientMessage::SignalAck {
                id: "0".into(),
                agent: "agent-0".into(),
            },
        )
        .await;
        round_trip(&mut tab, 4).await;
    }
}

#[tokio::test]
async fn a_second_tab_blurs_the_first_on_every_http_transport() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    for transport in HTTP {
        let id = format!("b-{}", transport.name());
        let mut first = visitor(&url, transport, &id, "t1").await;
        let mut second = visitor(&url, transport, &id, "t2").await;
        assert_eq!(
            recv(&mut first).await,
            ServerMessage::Blur { tab: "t1".into() },
            "{transport:?}"
        );
        send(&mut first, ClientMessage::Focus).await;
        assert_eq!(
            recv(&mut first).await,
            ServerMessage::Focused { tab: "t1".into() },
            "{transport:?}"
        );
        assert_eq!(
            recv(&mut second).await,
            ServerMessage::Blur { tab: "t2".into() },
            "{transport:?}"
        );
    }
}

#[tokio::test]
async fn idle_http_sessions_get_heartbeats() {
    let cluster = cluster(Settings {
        heartbeat: Duration::from_millis(100),
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    for transport in HTTP {
        let mut tab = visitor(&url, transport, &format!("h-{}", transport.name()), "t1").await;
        // Two in a row: a polling visitor gets one per poll, a stream one after another.
        for _ in 0..2 {
            let heard = within("a heartbeat", tab.recv()).await;
            assert!(
                matches!(heard, Ok(Incoming::Heartbeat)),
                "{transport:?}: {heard:?}"
            );
        }
        round_trip(&mut tab, 1).await;
    }
}

/// Everything a session receives until it ends, and how it ended.
async fn until_ended(
    tab: &mut presence_bench::client::Connection,
) -> (Vec<ServerMessage>, ClientError) {
    within("the session to end", async {
        let mut messages = Vec::new();
        loop {
            match tab.recv().await {
                Ok(Incoming::Message(message)) => messages.push(message),
                Ok(Incoming::Heartbeat) => {}
                Err(err) => return (messages, err),
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_drain_closes_http_sessions_with_3000() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s2");
    let mut tabs = Vec::new();
    for transport in HTTP {
        tabs.push(visitor(&url, transport, &format!("d-{}", transport.name()), "t1").await);
    }
    cluster.scale_in(Some("s2")).await.expect("s2 drains");
    // All at once, as a visitor's tabs are read: a polling tab keeps polling.
    let ended = futures_util::future::join_all(tabs.iter_mut().map(until_ended)).await;
    for (transport, (messages, end)) in HTTP.into_iter().zip(ended) {
        assert!(
            matches!(end, ClientError::Closed { code: 3000, .. }),
            "{transport:?}: {end}"
        );
        // A poller between two polls gets `draining` from the next poll, before the close
        // frame; a stall longer than the 300 ms drain window here finds the instance stopped
        // and the queued `draining` gone with it, so only the close is certain. A stream
        // is attached when `draining` is sent and always has it.
        if transport != Transport::XhrPolling {
            assert!(
                matches!(messages[..], [ServerMessage::Draining { .. }]),
                "{transport:?}: {messages:?}"
            );
        }
        assert!(
            messages
                .iter()
                .all(|m| matches!(m, ServerMessage::Draining { .. })),
            "{messages:?}"
        );
    }
}
