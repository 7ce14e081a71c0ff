//! The SockJS session ids open on one instance (per service), and how HTTP requests reach
//! the session behind an id.
//!
//! A WebSocket session holds its id for as long as its socket lives. An HTTP session is a
//! task that outlives every request: receiving requests (`xhr`, `xhr_streaming`,
//! `eventsource`) are handed to it through its [`Door`], and so are the frames of `xhr_send`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::link::{Gone, Received};
use super::receiver::Receiver;

/// Receiving requests waiting to be attached to one session; more at once get 2010.
const ATTACH_QUEUE: usize = 4;
/// `xhr_send` frames waiting for one session; more wait in their request (backpressure).
const INCOMING_QUEUE: usize = 8;

/// How requests reach one HTTP session.
#[derive(Clone)]
pub struct Door {
    attach: mpsc::Sender<Receiver>,
    incoming: mpsc::Sender<Received>,
}

impl Door {
    /// Hands `frame` (an `xhr_send` body) to the session, waiting while it is behind;
    /// `Err` once the session has ended.
    pub async fn deliver(&self, frame: Received) -> Result<(), Gone> {
        self.incoming.send(frame).await.map_err(|_| Gone)
    }
}

/// The session's ends of its door.
pub struct DoorKeeper {
    pub attach: mpsc::Receiver<Receiver>,
    pub incoming: mpsc::Receiver<Received>,
}

/// Who holds a session id.
enum Holder {
    Socket,
    Http(Door),
}

struct Entry {
    /// Tells apart two sessions that held the same id one after the other.
    generation: u64,
    holder: Holder,
}

#[derive(Default)]
pub struct Registry {
    sessions: Mutex<HashMap<String, Entry>>,
    generations: AtomicU64,
}

/// What became of a receiving request.
pub enum Reception {
    /// Handed to the session that holds the id.
    Attached,
    /// No session had the id: a new one, to be started with these.
    New(Claim, DoorKeeper, Receiver),
    /// A WebSocket session holds the id, or too many requests wait on it: answer 2010.
    Refused(Receiver),
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(
        self: &Arc<Self>,
        sessions: &mut HashMap<String, Entry>,
        id: &str,
        holder: Holder,
    ) -> Claim {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        sessions.insert(id.to_owned(), Entry { generation, holder });
        Claim {
            registry: self.clone(),
            id: id.to_owned(),
            generation,
        }
    }

    /// Claims `id` for a WebSocket session; `None` while another session holds it.
    pub fn claim_socket(self: &Arc<Self>, id: &str) -> Option<Claim> {
        let mut sessions = self.lock();
        if sessions.contains_key(id) {
            return None;
        }
        Some(self.insert(&mut sessions, id, Holder::Socket))
    }

    /// Hands a receiving request to the session `id`, or makes a new session for it.
    pub fn receive(self: &Arc<Self>, id: &str, receiver: Receiver) -> Reception {
        let mut sessions = self.lock();
        let receiver = match sessions.get(id).map(|entry| &entry.holder) {
            None => receiver,
            Some(Holder::Socket) => return Reception::Refused(receiver),
            Some(Holder::Http(door)) => match door.attach.try_send(receiver) {
                Ok(()) => return Reception::Attached,
                Err(TrySendError::Full(receiver)) => return Reception::Refused(receiver),
                // The session has just ended and not yet given its id back: take it over.
                Err(TrySendError::Closed(receiver)) => receiver,
            },
        };
        let (attach, attach_queue) = mpsc::channel(ATTACH_QUEUE);
        let (incoming, incoming_queue) = mpsc::channel(INCOMING_QUEUE);
        let claim = self.insert(&mut sessions, id, Holder::Http(Door { attach, incoming }));
        Reception::New(
            claim,
            DoorKeeper {
                attach: attach_queue,
                incoming: incoming_queue,
            },
            receiver,
        )
    }

    /// The door of HTTP session `id`, for `xhr_send`.
    pub fn door(&self, id: &str) -> Option<Door> {
        match &self.lock().get(id)?.holder {
            Holder::Http(door) => Some(door.clone()),
            Holder::Socket => None,
        }
    }

    /// Session ids held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Holds a session id for as long as its session (and an HTTP session's linger) lives.
pub struct Claim {
    registry: Arc<Registry>,
    id: String,
    generation: u64,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut sessions = self.registry.lock();
        // Only its own entry: a new session may have taken the id over meanwhile.
        if sessions
            .get(&self.id)
            .is_some_and(|entry| entry.generation == self.generation)
        {
            sessions.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::sockjs::receiver::Kind;

    fn poll() -> Receiver {
        Receiver::new(Kind::Polling, 100).0
    }

    #[test]
    fn an_id_is_one_session_until_its_claim_is_dropped() {
        let registry = Arc::new(Registry::default());
        let Reception::New(claim, mut keeper, _) = registry.receive("a", poll()) else {
            panic!("a new session")
        };
        assert!(matches!(registry.receive("a", poll()), Reception::Attached));
        assert!(
            keeper.attach.try_recv().is_ok(),
            "the second request reached the session"
        );
        assert!(
            registry.claim_socket("a").is_none(),
            "a WebSocket cannot take an HTTP session's id"
        );
        assert!(registry.door("a").is_some());
        drop(claim);
        assert!(registry.door("a").is_none() && registry.len() == 0);
        let socket = registry.claim_socket("a").expect("free again");
        assert!(matches!(
            registry.receive("a", poll()),
            Reception::Refused(_)
        ));
        assert!(
            registry.door("a").is_none(),
            "xhr_send cannot reach a WebSocket session"
        );
        drop(socket);
        assert_eq!(registry.len(), 0);
    }

    #[test]
    fn an_ended_session_s_id_is_taken_over_and_its_late_claim_harms_nothing() {
        let registry = Arc::new(Registry::default());
        let Reception::New(old_claim, keeper, _) = registry.receive("a", poll()) else {
            panic!("a new session")
        };
        drop(keeper);
        let Reception::New(new_claim, _keeper, _) = registry.receive("a", poll()) else {
            panic!("taken over")
        };
        drop(old_claim);
        assert!(
            registry.door("a").is_some(),
            "the old claim left the new session's id alone"
        );
        drop(new_claim);
        assert_eq!(registry.len(), 0);
    }
}
