//! How the shared state reaches a session: a bounded outbox and a kick switch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::wire::close::Close;

/// What a session is asked to send.
#[derive(Debug)]
pub enum Outgoing {
    /// One encoded message object; shared when it fans out to several watchers.
    Message(Arc<str>),
    /// Close the session with this code.
    Close(Close),
}

/// A cheap, cloneable address of one session.
#[derive(Clone)]
pub struct SessionHandle {
    /// Unique for the life of the process; tells apart two sessions of the same tab.
    pub id: u64,
    outbox: mpsc::Sender<Outgoing>,
    kick: CancellationToken,
}

impl SessionHandle {
    /// A handle and the receiving end its session drains.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let (outbox, receiver) = mpsc::channel(capacity);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        (
            SessionHandle {
                id,
                outbox,
                kick: CancellationToken::new(),
            },
            receiver,
        )
    }

    /// Never blocks, because it runs under the state lock: a session whose outbox is full
    /// cannot keep up, so it is kicked rather than slowing everyone down or growing unbounded.
    pub fn push(&self, outgoing: Outgoing) {
        match self.outbox.try_send(outgoing) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => self.kick.cancel(),
        }
    }

    /// Messages waiting in the outbox.
    pub fn queued(&self) -> usize {
        self.outbox.max_capacity() - self.outbox.capacity()
    }

    /// Completes once the session was kicked as a slow consumer.
    pub fn kicked(&self) -> WaitForCancellationFuture<'_> {
        self.kick.cancelled()
    }

    /// Completes once the session has ended (its outbox is no longer drained).
    pub async fn ended(&self) {
        self.outbox.closed().await;
    }
}
