//! One task per presence session, whichever transport carries it (`sockjs::Link`): the
//! dispatch loop, heartbeats, unique expiry, delayed acks, and leaving on drain or kill.
//!
//! A session is one task and one bounded outbox, nothing else, so that tens of thousands
//! of idle ones stay cheap. Everything it learns goes into the shared state; everything
//! others want it to send arrives through its outbox.

mod agent;
mod dispatch;
mod visitor;

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Duration, Instant};

use crate::wire::close::{self, Close};
use crate::wire::ServerMessage;

use super::cluster::Context;
use super::faults;
use super::instance::Instance;
use super::sockjs::{Linger, Link, Received};
use super::state::{Outgoing, SessionHandle};
use dispatch::Role;

/// Messages waiting for a session's socket; a session this far behind is closed.
const OUTBOX_CAPACITY: usize = 256;
/// Most messages sent in one SockJS `a[...]` frame.
const MAX_BATCH: usize = 64;

/// How a session ends.
enum End {
    /// Send this close (frame) and close the socket.
    Close(Close),
    /// Drop the socket without a frame: peer gone, slow consumer, or instance killed.
    Drop,
}

/// An encoded message to send: a reply of this session, or one shared with others.
enum Reply {
    Owned(String),
    Shared(Arc<str>),
}

impl AsRef<str> for Reply {
    fn as_ref(&self) -> &str {
        match self {
            Reply::Owned(text) => text,
            Reply::Shared(text) => text,
        }
    }
}

struct Session {
    context: Context,
    instance: Arc<Instance>,
    handle: SessionHandle,
    role: Role,
    /// Replies to the frame being handled, sent together once it is done.
    replies: Vec<Reply>,
    /// Set when handling a message decided the session must close.
    close: Option<Close>,
    /// When a unique connection expires unless extended.
    unique_deadline: Option<Instant>,
    /// `presence_ack`s held back by `ack_delay`: `(due, seq)`, due times ascending.
    pending_acks: VecDeque<(Instant, u64)>,
}

/// Serves one open link until it ends, then takes the session out of the state. What is
/// left is the link's linger (an HTTP session's close frame, still answered for a while).
pub async fn run(mut link: Link, instance: Arc<Instance>, context: Context) -> Linger {
    if instance.is_draining() {
        return link.close(close::GO_AWAY).await;
    }
    let _counted = (
        instance.counters.session(link.transport()),
        context.counters.session(),
    );
    let (handle, outbox) = SessionHandle::new(OUTBOX_CAPACITY);
    let mut session = Session {
        context,
        instance,
        handle,
        role: Role::Anonymous,
        replies: Vec::new(),
        close: None,
        unique_deadline: None,
        pending_acks: VecDeque::new(),
    };
    let end = session.serve(&mut link, outbox).await;
    session.leave();
    match end {
        End::Close(close) => link.close(close).await,
        End::Drop => {
            link.abort();
            Linger::none()
        }
    }
}

/// A deadline for a `select!` branch that is disabled when there is none.
fn or_never(deadline: Option<Instant>) -> Instant {
    deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400))
}

impl Session {
    async fn serve(&mut self, link: &mut Link, mut outbox: mpsc::Receiver<Outgoing>) -> End {
        let heartbeat = self.context.settings.heartbeat;
        let mut drain_at: Option<Instant> = None;
        // One heartbeat timer for the session's life, moved later as frames go out. A new
        // timer per pass of the loop (per frame received or pushed) took the runtime's timer
        // lock twice, to register and to cancel it; moving a timer later takes none.
        let heartbeat_timer = sleep_until(link.last_sent() + heartbeat);
        tokio::pin!(heartbeat_timer);
        loop {
            let ack_at = self.pending_acks.front().map(|(due, _)| *due);
            let heartbeat_at = link.last_sent() + heartbeat;
            if heartbeat_timer.deadline() != heartbeat_at {
                heartbeat_timer.as_mut().reset(heartbeat_at);
            }
            let sockjs = link.wants_heartbeats();
            tokio::select! {
                biased;
                () = self.instance.killed() => return End::Drop,
                () = self.handle.kicked() => return End::Drop,
                // What others pushed goes out before more input is read: the outbox stays short,
                // and whatever handling the last frame pushed to this session precedes the
                // replies to the next one.
                Some(first) = outbox.recv() => {
                    if let Some(end) = forward(link, first, &mut outbox, &self.instance).await {
                        return end;
                    }
                }
                received = link.recv() => {
                    match received {
                        Received::Messages(messages) => self.on_messages(&messages),
                        Received::Close(close) => return End::Close(close),
                        Received::Gone => return End::Drop,
                    }
                    if link.send(&self.replies).await.is_err() {
                        return End::Drop;
                    }
                    self.instance.counters.sent(self.replies.len());
                    self.replies.clear();
                    if let Some(close) = self.close.take() {
                        return End::Close(close);
                    }
                }
                () = &mut heartbeat_timer, if sockjs => {
                    if link.heartbeat().await.is_err() {
                        return End::Drop;
                    }
                }
                () = sleep_until(or_never(self.unique_deadline)),
                    if self.unique_deadline.is_some() =>
                {
                    let expired = ServerMessage::Expired {}.encode();
                    return match link.send(&[expired]).await {
                        Ok(()) => End::Close(close::UNIQUE_EXPIRED),
                        Err(_) => End::Drop,
                    };
                }
                () = sleep_until(or_never(ack_at)), if ack_at.is_some() => {
                    let now = Instant::now();
                    let mut due = Vec::new();
                    while let Some((_, seq)) =
                        self.pending_acks.front().filter(|(at, _)| *at <= now).copied()
                    {
                        self.pending_acks.pop_front();
                        due.push(ServerMessage::PresenceAck { seq }.encode());
                    }
                    if link.send(&due).await.is_err() {
                        return End::Drop;
                    }
                    self.instance.counters.sent(due.len());
                }
                () = self.instance.draining(), if drain_at.is_none() => {
                    drain_at = Some(self.drain_moment());
                }
                () = sleep_until(or_never(drain_at)), if drain_at.is_some() => {
                    let draining = ServerMessage::Draining { retry_after_ms: Some(0) }.encode();
                    return match link.send(&[draining]).await {
                        Ok(()) => End::Close(close::GO_AWAY),
                        Err(_) => End::Drop,
                    };
                }
            }
        }
    }

    /// Handles the messages of one client frame, until one decides the session must close.
    fn on_messages(&mut self, messages: &[String]) {
        self.instance.counters.received(messages.len());
        for message in messages {
            faults::spend_cpu(self.context.settings.fault_cpu_per_message);
            self.dispatch(message);
            if self.close.is_some() {
                break;
            }
        }
    }

    /// A random moment in what is left of the drain window, so that a drain spreads the
    /// reconnects of its sessions instead of moving them all at once.
    fn drain_moment(&self) -> Instant {
        let now = Instant::now();
        let left = self
            .instance
            .drain_deadline()
            .map_or(Duration::ZERO, |end| end.saturating_duration_since(now));
        now + left.mul_f64(rand::random::<f64>())
    }
}

/// Sends what others pushed to this session, batching what is already waiting.
async fn forward(
    link: &mut Link,
    first: Outgoing,
    outbox: &mut mpsc::Receiver<Outgoing>,
    instance: &Instance,
) -> Option<End> {
    let mut batch: Vec<Arc<str>> = Vec::new();
    let mut close = None;
    let mut next = Some(first);
    while let Some(outgoing) = next {
        match outgoing {
            Outgoing::Message(message) => batch.push(message),
            Outgoing::Close(requested) => {
                close = Some(requested);
                break;
            }
        }
        if batch.len() >= MAX_BATCH {
            break;
        }
        next = outbox.try_recv().ok();
    }
    if link.send(&batch).await.is_err() {
        return Some(End::Drop);
    }
    instance.counters.sent(batch.len());
    close.map(End::Close)
}
