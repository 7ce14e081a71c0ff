//! The least server a connect storm can run against, for BENCHMARKS.md ("What one connect
//! costs this machine at least"): tokio-tungstenite alone, answering just what
//! `examples/bare_storm.rs` waits for (SockJS `o`, `connected` to `connect`, `presence_ack` to
//! `presence`) and nothing of docs/protocol.md beyond it: no session state, no heartbeats, no
//! directory. Beside the bare client it gives the floor of one connect on this machine (TCP,
//! the upgrade, two round trips), which no Presence server and harness can go below.
//! It prints its own CPU time per accepted connection every 5 s while connections come in,
//! and stops by itself after `LIFETIME`.
//!
//! ```sh
//! cargo run --release --example bare_server -- 127.0.0.1:7101 &
//! cargo run --release --example bare_storm -- ws://127.0.0.1:7101/presence 19000 8 sockjs
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The server exits after this long: every load loop here stops by itself.
const LIFETIME: Duration = Duration::from_secs(600);
/// How often it prints its cost so far.
const REPORT_EVERY: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<()> {
    let address = std::env::args()
        .nth(1)
        .ok_or("usage: bare_server HOST:PORT (loopback)")?;
    let listener = TcpListener::bind(&address).await?;
    // The instance's backlog in the reference server is 4,096; the kernel caps it at somaxconn.
    println!("bare server listening on {}", listener.local_addr()?);
    let accepted = Arc::new(AtomicU64::new(0));
    let report = tokio::spawn(report_cost(accepted.clone()));
    let serving = async {
        loop {
            let (tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            accepted.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = session(tcp).await;
            });
        }
    };
    let outcome: Result<()> = tokio::select! {
        result = serving => result,
        () = tokio::time::sleep(LIFETIME) => Ok(()),
    };
    report.abort();
    outcome
}

/// One connection: the upgrade, `o`, then a reply to each `connect` and `presence`.
async fn session(tcp: TcpStream) -> Result<()> {
    // The harness's and the reference server's buffer sizes, not tungstenite's 128 KiB.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut socket = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await?;
    socket.send(Message::text("o")).await?;
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let reply = if text.contains(r#"\"type\":\"connect\""#) {
            r#"a["{\"type\":\"connected\"}"]"#
        } else if text.contains(r#"\"type\":\"presence\""#) {
            r#"a["{\"type\":\"presence_ack\",\"seq\":1}"]"#
        } else {
            continue;
        };
        socket.send(Message::text(reply)).await?;
    }
    Ok(())
}

/// Prints the process's CPU time per accepted connection while the count grows.
async fn report_cost(accepted: Arc<AtomicU64>) {
    let mut last = 0;
    loop {
        tokio::time::sleep(REPORT_EVERY).await;
        let now = accepted.load(Ordering::Relaxed);
        if now != last && now > 0 {
            let cpu = cpu_seconds();
            println!(
                "bare server: {now} connections, cpu {cpu:.2} s = {:.0} us per connection",
                cpu * 1e6 / now as f64
            );
            last = now;
        }
    }
}

/// This process's CPU time so far (user + system), from getrusage.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
