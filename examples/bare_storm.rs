//! A bare connect storm, for BENCHMARKS.md ("Connect storm"): the yardstick the harness's own
//! connect path is measured against. It uses tokio-tungstenite directly, none of
//! presence-bench's client code but the socket option that defers a bound socket's port
//! choice (`defer_port_choice`, so that both bind alike): `VISITORS` connections to one
//! instance, opened as fast as it can with at most `IN_FLIGHT` opening at once, spread over
//! `SOURCE_IPS` loopback source addresses (127.0.0.2, .3, ...; as `target.source_ips`).
//! Each one upgrades (SockJS: `{prefix}/000/{id}/websocket` and waits for `o`; raw:
//! `{prefix}/websocket`), sends `connect`, waits for `connected`, sends one `presence` and
//! waits for its `presence_ack`: what a visitor of `scenarios/connect-storm.yaml` does (with
//! `upgrade`, it stops after the raw WebSocket upgrade: the least a connect can be). The
//! sessions are held until the last one is acknowledged, so the server holds them all at once
//! as it does in the harness's storm. It prints connects per second and its own CPU time
//! (getrusage) per connect. Bounded: every connection gives up after 30 s.
//!
//! ```sh
//! presence-bench serve --instances 1 --directory-port 7000 --base-port 7001 &
//! cargo run --release --example bare_storm -- ws://127.0.0.1:7001/presence 19000 8 sockjs
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use presence_bench::client::defer_port_choice;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
type Socket = WebSocketStream<TcpStream>;

/// How long one connection may take from its start to its `presence_ack`.
const GIVE_UP: Duration = Duration::from_secs(30);

/// What every connection of the storm shares.
struct Storm {
    server: SocketAddr,
    /// `ws://host:port/prefix`, no trailing slash.
    prefix: String,
    sockjs: bool,
    /// Stop once the WebSocket upgrade is done (raw WebSocket, no message): the TCP connect and
    /// the upgrade alone, the least a connect can be.
    upgrade_only: bool,
    sources: Vec<IpAddr>,
    in_flight: Semaphore,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bare_storm WS_PREFIX_URL VISITORS [SOURCE_IPS=8] \
                 [sockjs|raw_websocket|upgrade] [IN_FLIGHT=1024]";
    let (url, visitors) = match args.as_slice() {
        [url, visitors, ..] => (
            url.trim_end_matches('/').to_owned(),
            visitors.parse::<u32>()?,
        ),
        _ => return Err(usage.into()),
    };
    let sources: u8 = args.get(2).map_or(Ok(8), |n| n.parse())?;
    let (sockjs, upgrade_only) = match args.get(3).map_or("sockjs", String::as_str) {
        "sockjs" => (true, false),
        "raw_websocket" => (false, false),
        "upgrade" => (false, true),
        other => return Err(format!("transport {other:?}: {usage}").into()),
    };
    let in_flight: usize = args.get(4).map_or(Ok(1024), |n| n.parse())?;
    let uri: http::Uri = url.parse()?;
    let host_port = uri.authority().ok_or("the URL has no host:port")?.as_str();
    let server = tokio::net::lookup_host(host_port)
        .await?
        .next()
        .ok_or("the host has no address")?;
    let storm = Arc::new(Storm {
        server,
        prefix: url.clone(),
        sockjs,
        upgrade_only,
        sources: (0..sources)
            .map(|i| IpAddr::from([127, 0, 0, 2 + i]))
            .collect(),
        in_flight: Semaphore::new(in_flight),
    });

    let started = Instant::now();
    let tasks: Vec<_> = (0..visitors)
        .map(|index| tokio::spawn(visit(storm.clone(), index)))
        .collect();
    let mut held = Vec::with_capacity(tasks.len());
    let mut latency = Histogram::<u64>::new(3)?;
    let mut errors = 0u32;
    let mut first_error = None;
    for task in tasks {
        match task.await? {
            Ok((socket, took)) => {
                latency.record(took.as_micros() as u64)?;
                held.push(socket);
            }
            Err(err) => {
                errors += 1;
                first_error.get_or_insert(err.to_string());
            }
        }
    }
    let span = started.elapsed();
    let (user, system) = cpu_time();
    let done = held.len() as f64;
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1e3;
    println!(
        "bare storm: {} connects in {:.2} s = {:.0}/s; errors {errors}{}",
        held.len(),
        span.as_secs_f64(),
        done / span.as_secs_f64(),
        first_error
            .map(|err| format!(" (first: {err})"))
            .unwrap_or_default()
    );
    println!(
        "bare storm: connect to presence_ack p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        ms(0.5),
        ms(0.99),
        latency.max() as f64 / 1e3
    );
    println!(
        "bare storm: cpu {:.2} s user + {:.2} s system = {:.0} us per connect",
        user.as_secs_f64(),
        system.as_secs_f64(),
        (user + system).as_secs_f64() * 1e6 / done.max(1.0)
    );
    drop(held);
    Ok(())
}

/// One visitor: open, `connect`, one `presence`; answers the open socket and how long it took.
async fn visit(storm: Arc<Storm>, index: u32) -> Result<(Socket, Duration)> {
    let _permit = storm.in_flight.acquire().await?;
    let started = Instant::now();
    let socket = tokio::time::timeout(GIVE_UP, handshake(&storm, index))
        .await
        .map_err(|_| "gave up after 30 s")??;
    Ok((socket, started.elapsed()))
}

async fn handshake(storm: &Storm, index: u32) -> Result<Socket> {
    let tcp = connect_from(storm, index).await?;
    let url = match storm.sockjs {
        true => format!("{}/000/bare{index}/websocket", storm.prefix),
        false => format!("{}/websocket", storm.prefix),
    };
    // tungstenite's 128 KiB read and write buffers would make each connection 256 KiB
    // (2.5 GiB at 19,000, page faults that dwarf the connect); the harness's sizes instead.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await?;
    if storm.upgrade_only {
        return Ok(socket);
    }
    if storm.sockjs && next_text(&mut socket).await? != "o" {
        return Err("expected the SockJS open frame".into());
    }
    let connect = serde_json::json!({
        "type": "connect",
        "group": "42",
        "visitor": format!("bare{index}"),
        "tab": "t1"
    });
    send(storm, &mut socket, connect).await?;
    await_reply(storm, &mut socket, "connected").await?;
    let page = serde_json::json!({ "url": format!("https://shop.example/p{index}") });
    send(
        storm,
        &mut socket,
        serde_json::json!({ "type": "presence", "seq": 1, "page": page }),
    )
    .await?;
    await_reply(storm, &mut socket, "presence_ack").await?;
    Ok(socket)
}

/// TCP from the visitor's source address; the port is left to `connect`
/// (`IP_BIND_ADDRESS_NO_PORT`, through the harness's own function: the one piece of
/// presence-bench this client uses, so that both bind alike), and Nagle is off, as in the
/// harness.
async fn connect_from(storm: &Storm, index: u32) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if !storm.sources.is_empty() {
        defer_port_choice(&socket);
        socket.bind(SocketAddr::new(
            storm.sources[index as usize % storm.sources.len()],
            0,
        ))?;
    }
    let tcp = socket.connect(storm.server).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Sends one message: a SockJS frame of one string, or the message itself on raw WebSocket.
async fn send(storm: &Storm, socket: &mut Socket, message: serde_json::Value) -> Result<()> {
    let text = message.to_string();
    let frame = if storm.sockjs {
        serde_json::to_string(&[text])?
    } else {
        text
    };
    Ok(socket.send(Message::text(frame)).await?)
}

/// Reads until a message of type `wanted` arrives.
async fn await_reply(storm: &Storm, socket: &mut Socket, wanted: &str) -> Result<()> {
    loop {
        let text = next_text(socket).await?;
        let messages = match (storm.sockjs, text.as_bytes().first()) {
            (false, _) => vec![text],
            (true, Some(b'a')) => serde_json::from_str::<Vec<String>>(&text[1..])?,
            (true, Some(b'h')) => continue,
            (true, _) => return Err(format!("unexpected frame {text:?}").into()),
        };
        for message in messages {
            let value: serde_json::Value = serde_json::from_str(&message)?;
            if value["type"] == wanted {
                return Ok(());
            }
        }
    }
}

async fn next_text(socket: &mut Socket) -> Result<String> {
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            return Ok(text.as_str().to_owned());
        }
    }
    Err("the server closed the connection".into())
}

/// This process's CPU time so far: user, system.
fn cpu_time() -> (Duration, Duration) {
    // SAFETY: getrusage(2) fills the zeroed struct it is given; nothing else is touched.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (time(usage.ru_utime), time(usage.ru_stime))
}
