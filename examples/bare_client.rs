//! A bare Presence client, for BENCHMARKS.md ("Server latency beside a bare client"): the
//! yardstick presence-bench's own latencies are checked against. It uses tokio-tungstenite
//! directly, none of presence-bench's client code: `VISITORS` connections to one instance's
//! raw WebSocket endpoint, each sending a `presence` every `EVERY` and timing the send until
//! its `presence_ack`. Visitors start spread over one `EVERY` (as an arrival rate spreads
//! presence-bench's), so they do not all hit the server in the same instant. It keeps no
//! schedule beyond that and does nothing else, so what it measures is the round trip alone.
//!
//! ```sh
//! presence-bench serve --instances 1 --directory-port 7100 --base-port 7101 --ack-delay 20ms &
//! cargo run --release --example bare_client -- ws://127.0.0.1:7101/presence/websocket 20 150 100ms
//! ```

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio_tungstenite::tungstenite::Message;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, visitors, presences, every] = args.as_slice() else {
        return Err("usage: bare_client WS_URL VISITORS PRESENCES_EACH EVERY (e.g. 100ms)".into());
    };
    let (visitors, presences): (u32, u32) = (visitors.parse()?, presences.parse()?);
    let every = humantime::parse_duration(every)?;
    let tasks: Vec<_> = (0..visitors)
        .map(|index| {
            let start = tokio::time::Instant::now() + every * index / visitors;
            tokio::spawn(visitor(url.clone(), index, start, presences, every))
        })
        .collect();
    let mut total = Histogram::<u64>::new(3)?;
    for task in tasks {
        total.add(task.await??)?;
    }
    let ms = |q: f64| total.value_at_quantile(q) as f64 / 1e3;
    println!(
        "presence_ack round trip: count {} p50 {:.2}ms p90 {:.2}ms p99 {:.2}ms max {:.2}ms",
        total.len(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        total.max() as f64 / 1e3
    );
    Ok(())
}

/// One connection from `start`: `connect`, then `presences` round trips, one every `every`.
async fn visitor(
    url: String,
    index: u32,
    start: tokio::time::Instant,
    presences: u32,
    every: Duration,
) -> Result<Histogram<u64>> {
    tokio::time::sleep_until(start).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let connect = serde_json::json!({
        "type": "connect",
        "group": "42",
        "visitor": format!("bare{index}"),
        "tab": "t1"
    });
    socket.send(Message::text(connect.to_string())).await?;
    await_reply(&mut socket, |reply| reply["type"] == "connected").await?;
    let mut histogram = Histogram::<u64>::new(3)?;
    let mut next = tokio::time::Instant::now();
    for seq in 1..=u64::from(presences) {
        tokio::time::sleep_until(next).await;
        next += every;
        let presence = serde_json::json!({ "type": "presence", "seq": seq, "data": { "n": seq } });
        let sent = Instant::now();
        socket.send(Message::text(presence.to_string())).await?;
        await_reply(&mut socket, |reply| {
            reply["type"] == "presence_ack" && reply["seq"] == seq
        })
        .await?;
        histogram.record(sent.elapsed().as_micros() as u64)?;
    }
    socket.close(None).await?;
    Ok(histogram)
}

/// Reads messages until one that `wanted` accepts.
async fn await_reply<S>(socket: &mut S, wanted: impl Fn(&serde_json::Value) -> bool) -> Result<()>
where
    S: StreamExt<Item = std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            if wanted(&serde_json::from_str(text.as_str())?) {
                return Ok(());
            }
        }
    }
    Err("the server closed the connection".into())
}
