//! The client side of the SockJS HTTP transports against a scripted server: each receiving
//! request is answered with the next body of a script, so the tests can say exactly what
//! the server sends, where a stream is cut, and how it misbehaves. Every misbehaviour ends
//! in a typed error, within the test's bound, never a hang.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use presence_bench::client::{ClientError, ConnectOptions, Connection, Endpoint, Incoming};
use presence_bench::session::kind_of;
use presence_bench::wire::http_frames::PRELUDE_LEN;
use presence_bench::wire::sockjs;
use presence_bench::wire::Transport;
use presence_bench::wire::{ClientMessage, ServerMessage};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::sync::mpsc;

use crate::common::within;

/// One answer to a receiving request.
enum Answer {
    /// 200 with these body pieces, sent one after another, then the end of the body.
    Body(Vec<String>),
    /// 200 with these pieces, then a body that stays open for good.
    Open(Vec<String>),
    /// This status, empty body.
    Status(StatusCode),
}

/// What the scripted server does, and what it saw.
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    /// Paths of the receiving requests, in order.
    requests: Mutex<Vec<String>>,
    /// Bodies of `xhr_send`.
    sent: mpsc::Sender<String>,
    /// How `xhr_send` is answered.
    sends: Sends,
}

/// How the scripted server answers `xhr_send`.
#[derive(Clone, Copy, PartialEq)]
enum Sends {
    Answered,
    Never,
    /// 404: the session is gone.
    Unknown,
}

async fn receive(State(script): State<Arc<Script>>, request: axum::extract::Request) -> Response {
    script
        .requests
        .lock()
        .unwrap()
        .push(format!("{} {}", request.method(), request.uri().path()));
    let answer = script.answers.lock().unwrap().pop_front();
    match answer {
        Some(Answer::Body(pieces)) => body(pieces, false),
        Some(Answer::Open(pieces)) => body(pieces, true),
        Some(Answer::Status(status)) => status.into_response(),
        // Out of script: hold the request open, as a server with nothing to say does.
        None => body(Vec::new(), true),
    }
}

fn body(pieces: Vec<String>, stay_open: bool) -> Response {
    let pieces = futures_util::stream::iter(
        pieces
            .into_iter()
            .map(|piece| Ok::<_, std::io::Error>(Bytes::from(piece))),
    );
    let rest = futures_util::stream::unfold(stay_open, |open| async move {
        if open {
            std::future::pending::<()>().await;
        }
        None::<(Result<Bytes, std::io::Error>, bool)>
    });
    Body::from_stream(futures_util::StreamExt::chain(pieces, rest)).into_response()
}

async fn xhr_send(State(script): State<Arc<Script>>, body: String) -> StatusCode {
    match script.sends {
        Sends::Never => std::future::pending().await,
        Sends::Unknown => StatusCode::NOT_FOUND,
        Sends::Answered => {
            let _ = script.sent.send(body).await;
            StatusCode::NO_CONTENT
        }
    }
}

/// A scripted server on 127.0.0.1:0 (stopped with the test's runtime), its script, and the
/// receiver of what was sent to it.
async fn scripted(
    answers: Vec<Answer>,
    sends: Sends,
) -> (String, Arc<Script>, mpsc::Receiver<String>) {
    let (sent, received) = mpsc::channel(16);
    let script = Arc::new(Script {
        answers: Mutex::new(answers.into()),
        requests: Mutex::default(),
        sent,
        sends,
    });
    let router = Router::new()
        .route("/presence/{server}/{session}/xhr_send", post(xhr_send))
        .route("/presence/{server}/{session}/{transport}", any(receive))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("ws://{addr}/presence"), script, received)
}

fn options(transport: Transport) -> ConnectOptions {
    ConnectOptions {
        transport,
        max_message: 1024,
        send_timeout: Duration::from_millis(300),
        ..Default::default()
    }
}

async fn open(url: &str, options: &ConnectOptions) -> Result<Connection, ClientError> {
    let endpoint = Endpoint::parse(url).unwrap();
    within(
        "the session to open",
        Connection::open(&endpoint, options, &mut SmallRng::seed_from_u64(3)),
    )
    .await
}

fn ack(seq: u64) -> String {
    ServerMessage::PresenceAck { seq }.encode()
}

fn line(frame: &str) -> String {
    format!("{frame}\n")
}

/// `text` cut at `at` (byte offsets, ascending) into pieces sent one by one.
fn cut(text: &str, at: &[usize]) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut from = 0;
    for &to in at.iter().chain([&text.len()]) {
        pieces.push(text[from..to].to_owned());
        from = to;
    }
    pieces
}

fn prelude() -> String {
    line(&"h".repeat(PRELUDE_LEN))
}

async fn next(conn: &mut Connection) -> Result<Incoming, ClientError> {
    within("the next frame", conn.recv()).await
}

#[tokio::test]
async fn a_stream_reopened_after_its_byte_limit_loses_and_repeats_nothing() {
    let answers = vec![
        // The open frame and one message, cut inside the prelude and inside the message.
        Answer::Body(cut(
            &(prelude() + &line("o") + &line(&sockjs::encode_messages(&[ack(1)]))),
            &[100, 2060],
        )),
        Answer::Body(vec![
            prelude() + &line(&sockjs::encode_messages(&[ack(2), ack(3)])),
        ]),
        Answer::Open(vec![prelude() + "h\n"]),
    ];
    let (url, script, _) = scripted(answers, Sends::Answered).await;
    let mut conn = open(&url, &options(Transport::XhrStreaming)).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next(&mut conn).await.unwrap());
    }
    let acks = (1..=3).map(|seq| Incoming::Message(ServerMessage::PresenceAck { seq }));
    assert_eq!(got, acks.chain([Incoming::Heartbeat]).collect::<Vec<_>>());
    let requests = script.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("POST /presence/") && r.ends_with("/xhr_streaming")),
        "{requests:?}"
    );
    assert!(
        requests.windows(2).all(|pair| pair[0] == pair[1]),
        "one session: {requests:?}"
    );
}

#[tokio::test]
async fn polling_asks_again_after_each_frame_and_sends_with_xhr_send() {
    let answers = vec![
        Answer::Body(vec![line("o")]),
        Answer::Body(vec![line(&sockjs::encode_messages(&[ack(1)]))]),
        Answer::Body(vec![line("h")]),
        Answer::Body(vec![line(r#"c[3000,"Go away!"]"#)]),
    ];
    let (url, script, mut sent) = scripted(answers, Sends::Answered).await;
    let mut conn = open(&url, &options(Transport::XhrPolling)).await.unwrap();
    conn.send(&ClientMessage::Extend).await.unwrap();
    let body = within("the send", sent.recv()).await.unwrap();
    assert_eq!(
        sockjs::decode_client_frame(&body).unwrap(),
        [ClientMessage::Extend.encode()]
    );
    assert_eq!(
        next(&mut conn).await.unwrap(),
        Incoming::Message(ServerMessage::PresenceAck { seq: 1 })
    );
    assert_eq!(next(&mut conn).await.unwrap(), Incoming::Heartbeat);
    let err = next(&mut conn).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Closed { code: 3000, .. }),
        "{err}"
    );
    let requests = script.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 4);
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("POST") && r.ends_with("/xhr")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn event_source_reads_data_lines_from_a_get() {
    let events = format!(
        "\r\ndata: o\r\n\r\ndata: {}\r\n\r\n",
        sockjs::encode_messages(&[ack(7)])
    );
    let (url, script, _) = scripted(vec![Answer::Open(vec![events])], Sends::Answered).await;
    let mut conn = open(&url, &options(Transport::Eventsource)).await.unwrap();
    assert_eq!(
        next(&mut conn).await.unwrap(),
        Incoming::Message(ServerMessage::PresenceAck { seq: 7 })
    );
    let requests = script.requests.lock().unwrap().clone();
    assert!(
        requests[0].starts_with("GET /presence/") && requests[0].ends_with("/eventsource"),
        "{requests:?}"
    );
}

/// Opens a session whose second receiving answer is `then`, and answers its error.
async fn error_after_open(transport: Transport, then: Answer) -> ClientError {
    let (url, _, _) = scripted(
        vec![Answer::Body(vec![prelude() + "o\n"]), then],
        Sends::Answered,
    )
    .await;
    let mut conn = open(&url, &options(transport)).await.unwrap();
    next(&mut conn).await.unwrap_err()
}

#[tokio::test]
async fn a_misbehaving_server_ends_in_a_typed_error_never_a_hang() {
    // An endless line: refused at the 1 KiB limit.
    let endless = Answer::Open(vec!["a".repeat(4096)]);
    let err = error_after_open(Transport::XhrStreaming, endless).await;
    assert!(
        matches!(err, ClientError::FrameTooLarge { limit: 1024 }),
        "{err}"
    );
    // Garbage where a frame should be.
    let err = error_after_open(Transport::XhrStreaming, Answer::Body(vec!["zzz\n".into()])).await;
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    // Empty answers, which would be polled in a hot loop.
    let err = error_after_open(Transport::XhrPolling, Answer::Body(Vec::new())).await;
    assert!(err.to_string().contains("without a frame"), "{err}");
    // A body that stops inside a frame.
    let err = error_after_open(Transport::XhrPolling, Answer::Body(vec!["a[\"x".into()])).await;
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    // A status other than 200.
    let err = error_after_open(
        Transport::XhrStreaming,
        Answer::Status(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .await;
    assert!(
        matches!(
            err,
            ClientError::Status {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        kind_of::client(&err),
        presence_bench::measure::ErrorKind::HttpStatus
    );
    // No open frame at all.
    let (url, _, _) = scripted(vec![Answer::Body(vec![line("h")])], Sends::Answered).await;
    let err = open(&url, &options(Transport::XhrPolling))
        .await
        .err()
        .expect("no open frame");
    assert!(err.to_string().contains("expected open frame"), "{err}");
}

#[tokio::test]
async fn a_send_never_answered_fails_after_the_send_timeout() {
    let (url, _, _) = scripted(vec![Answer::Open(vec![prelude() + "o\n"])], Sends::Never).await;
    let mut conn = open(&url, &options(Transport::XhrStreaming)).await.unwrap();
    let err = within("the send to fail", conn.send(&ClientMessage::Extend))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Lost(_)), "{err}");
    assert!(
        err.to_string().contains("xhr_send unanswered within 300ms"),
        "{err}"
    );
}

#[tokio::test]
async fn a_send_to_a_session_the_server_ended_leaves_the_reason_to_the_receiving_side() {
    let drained = [
        sockjs::encode_messages(&[ServerMessage::Draining {
            retry_after_ms: None,
        }
        .encode()]),
        r#"c[3000,"Go away!"]"#.into(),
    ];
    let answers = vec![
        Answer::Body(vec![line("o")]),
        Answer::Body(drained.iter().map(|frame| line(frame)).collect()),
    ];
    let (url, _, _) = scripted(answers, Sends::Unknown).await;
    let mut conn = open(&url, &options(Transport::XhrPolling)).await.unwrap();
    // The 404 is no loss of its own: the drain that ended the session arrives, then its close.
    conn.send(&ClientMessage::Extend)
        .await
        .expect("a 404 is not the send's error to tell");
    assert!(matches!(
        next(&mut conn).await,
        Ok(Incoming::Message(ServerMessage::Draining { .. }))
    ));
    let err = next(&mut conn).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Closed { code: 3000, .. }),
        "{err}"
    );
}
