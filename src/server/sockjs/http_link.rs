//! The HTTP transports' side of a link: a session that outlives each request.
//!
//! Receiving requests attach one at a time; what the session sends while none is attached
//! waits and goes out, as one `a[...]` frame, to the next one (past a bound, sending waits
//! for it, as a WebSocket send waits for its socket). A second
//! receiving request while one is attached gets `c[2010,...]`; a receiving request the
//! client aborts closes the session with `c[1002,"Connection interrupted"]` (SockJS);
//! a session with no receiving request for the disconnect delay is gone, as a WebSocket
//! session whose socket closed. After its close a session lingers for the disconnect delay,
//! answering every receiving request with its close frame, so a polling client learns why.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::link::{Gone, Received};
use super::receiver::{After, Receiver};
use super::registry::{Claim, DoorKeeper};
use crate::wire::close::{self, Close};
use crate::wire::sockjs;
use crate::wire::Transport;

/// The transport settings of HTTP sessions.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// A session with no receiving request for this long is gone.
    pub disconnect_delay: Duration,
    /// A streaming response ends after this many bytes of frames.
    pub response_limit: usize,
}

/// How long a second receiving request waits before it gets 2010: a client that lost its
/// request to a network failure reopens it at once, usually before the server has seen the
/// old one's connection end, and the new one must then learn of the interruption instead.
const CONTENDER_GRACE: Duration = Duration::from_millis(50);

/// Messages that may wait for a receiving request before sending more waits for one.
const MAX_PENDING: usize = 256;

pub struct HttpLink {
    pub transport: Transport,
    settings: HttpSettings,
    attach: mpsc::Receiver<Receiver>,
    incoming: mpsc::Receiver<Received>,
    /// The receiving request attached now.
    current: Option<Receiver>,
    /// A second receiving request, and when it gets 2010 unless `current` ends first.
    contender: Option<(Receiver, Instant)>,
    /// Messages waiting for a receiving request.
    pending: Vec<String>,
    /// A receiving request was cut by its client: the session closes with 1002.
    interrupted: bool,
    pub last_sent: Instant,
    /// When the last receiving request ended (or the session began, with none).
    detached_at: Instant,
    /// Cancelled when the instance stops listening: no request can come any more.
    stopped: CancellationToken,
    // Last: the id is given back only after the door's ends above are closed.
    claim: Claim,
}

impl HttpLink {
    pub fn new(
        claim: Claim,
        keeper: DoorKeeper,
        first: Receiver,
        settings: HttpSettings,
        stopped: CancellationToken,
    ) -> Self {
        let now = Instant::now();
        HttpLink {
            transport: first.kind().transport(),
            settings,
            attach: keeper.attach,
            incoming: keeper.incoming,
            current: Some(first),
            contender: None,
            pending: Vec::new(),
            interrupted: false,
            last_sent: now,
            detached_at: now,
            stopped,
            claim,
        }
    }

    /// Writes `frame` to the attached request, if any; detaches it when its response ends.
    async fn write(&mut self, frame: &str) -> Result<(), Gone> {
        let Some(current) = self.current.as_mut() else {
            return Err(Gone);
        };
        self.last_sent = Instant::now();
        match current.write(frame).await {
            Ok(After::Open) => Ok(()),
            Ok(After::Finished) => {
                self.detach();
                Ok(())
            }
            Err(Gone) => {
                self.current = None;
                self.interrupted = true;
                Err(Gone)
            }
        }
    }

    /// The attached request has ended; a contender, if one waits, takes its place.
    fn detach(&mut self) {
        self.current = None;
        self.detached_at = Instant::now();
        if let Some((contender, _)) = self.contender.take() {
            self.on_attach(contender);
        }
    }

    pub async fn open(&mut self) -> Result<(), Gone> {
        self.write(sockjs::OPEN).await
    }

    /// Sends to the attached request, or queues for the next one.
    pub async fn send<S: AsRef<str>>(&mut self, messages: &[S]) -> Result<(), Gone> {
        if self.current.is_some() {
            let frame = sockjs::encode_messages(messages);
            if self.write(&frame).await.is_ok() {
                return Ok(());
            }
            // Cut while writing: kept, though the session is about to close (1002).
        }
        self.pending
            .extend(messages.iter().map(|message| message.as_ref().to_owned()));
        // Past the bound, wait for the client to take them, as a WebSocket send waits for its
        // socket: meanwhile the session reads nothing and its outbox fills (a slow consumer
        // is kicked), and a client that never comes back is gone after the disconnect delay.
        while self.pending.len() > MAX_PENDING && !self.interrupted {
            let gone_at = self.detached_at + self.settings.disconnect_delay;
            tokio::select! {
                Some(receiver) = self.attach.recv() => self.on_attach(receiver),
                () = sleep_until(gone_at) => return Err(Gone),
                () = self.stopped.cancelled() => return Err(Gone),
            }
        }
        Ok(())
    }

    /// `h` to the attached request; with none attached nothing is due (SockJS sends
    /// heartbeats only to a waiting request), and the next interval begins all the same.
    pub async fn heartbeat(&mut self) -> Result<(), Gone> {
        self.last_sent = Instant::now();
        if self.current.is_some() {
            let _ = self.write(sockjs::HEARTBEAT).await;
        }
        Ok(())
    }

    /// Attaches a receiving request, or turns it away.
    fn on_attach(&mut self, mut receiver: Receiver) {
        if self.current.as_ref().is_some_and(Receiver::is_closed) {
            // The one attached was cut by its client; the session closes, and this request
            // is the one to learn it.
            self.current = Some(receiver);
            self.interrupted = true;
            return;
        }
        if self.current.is_some() {
            match self.contender {
                None => self.contender = Some((receiver, Instant::now() + CONTENDER_GRACE)),
                Some(_) => receiver.refuse(),
            }
            return;
        }
        if !self.pending.is_empty() {
            let frame = sockjs::encode_messages(&self.pending);
            self.pending.clear();
            self.last_sent = Instant::now();
            if receiver.write_now(&frame) == Ok(After::Finished) {
                return self.detached_at = Instant::now();
            }
        }
        self.current = Some(receiver);
    }

    /// The next `xhr_send` frame; meanwhile attaches receiving requests and watches for
    /// the client going away. Cancel safe: every await is a channel receive or a timer.
    pub async fn recv(&mut self) -> Received {
        loop {
            if self.interrupted {
                return Received::Close(close::CONNECTION_INTERRUPTED);
            }
            let gone_at = self.detached_at + self.settings.disconnect_delay;
            let attached = self.current.is_some();
            let refuse_at = self.contender.as_ref().map(|(_, at)| *at);
            tokio::select! {
                Some(receiver) = self.attach.recv() => self.on_attach(receiver),
                Some(frame) = self.incoming.recv() => return frame,
                () = cut(self.current.as_ref()) => {
                    // The contender, if any, is the one to learn of the interruption.
                    self.current = self.contender.take().map(|(receiver, _)| receiver);
                    self.interrupted = true;
                }
                () = sleep_until(refuse_at.unwrap_or(gone_at)), if refuse_at.is_some() => {
                    if let Some((contender, _)) = self.contender.take() {
                        contender.refuse();
                    }
                }
                () = sleep_until(gone_at), if !attached => return Received::Gone,
                () = self.stopped.cancelled() => return Received::Gone,
            }
        }
    }

    /// Sends the close frame to the attached request, if any, and becomes a [`Linger`];
    /// messages still waiting for a receiving request go to the next one, before the close.
    pub async fn close(mut self, close: Close) -> Linger {
        let frame = sockjs::encode_close(close);
        let contender = self.contender.take().map(|(receiver, _)| receiver);
        for mut receiver in self.current.take().into_iter().chain(contender) {
            let _ = receiver.write(&frame).await;
        }
        Linger(Some(Lingering {
            frame,
            pending: self.pending,
            attach: self.attach,
            delay: self.settings.disconnect_delay,
            stopped: self.stopped,
            _claim: self.claim,
        }))
    }

    /// Cuts the attached request without a frame, and gives the id back at once.
    pub fn abort(self) {
        let contender = self.contender.map(|(receiver, _)| receiver);
        for receiver in self.current.into_iter().chain(contender) {
            receiver.abort();
        }
    }
}

/// Completes once the attached request's client has gone; never without one.
async fn cut(current: Option<&Receiver>) {
    match current {
        Some(receiver) => receiver.closed().await,
        None => std::future::pending().await,
    }
}

/// A closed HTTP session that still answers receiving requests with its close frame.
pub struct Linger(Option<Lingering>);

struct Lingering {
    frame: String,
    /// Messages the session sent while no request was attached (a `draining`, say).
    pending: Vec<String>,
    attach: mpsc::Receiver<Receiver>,
    delay: Duration,
    stopped: CancellationToken,
    _claim: Claim,
}

impl Linger {
    /// Nothing to linger for (a WebSocket session).
    pub fn none() -> Self {
        Linger(None)
    }

    /// Answers receiving requests with the close frame until none came for the disconnect
    /// delay, or the instance stops listening; then gives the session id back.
    pub async fn run(self) {
        let Some(mut lingering) = self.0 else { return };
        let mut until = Instant::now() + lingering.delay;
        loop {
            tokio::select! {
                Some(mut receiver) = lingering.attach.recv() => {
                    let mut after = Ok(After::Open);
                    if !lingering.pending.is_empty() {
                        after = receiver.write_now(&sockjs::encode_messages(&lingering.pending));
                        lingering.pending.clear();
                    }
                    if after == Ok(After::Open) {
                        let _ = receiver.write_now(&lingering.frame);
                    }
                    until = Instant::now() + lingering.delay;
                }
                () = sleep_until(until) => return,
                () = lingering.stopped.cancelled() => {
                    // Requests that reached the session as its instance stopped still learn
                    // why it ended, rather than getting an empty answer.
                    while let Ok(mut receiver) = lingering.attach.try_recv() {
                        let _ = receiver.write_now(&lingering.frame);
                    }
                    return;
                }
            }
        }
    }
}
