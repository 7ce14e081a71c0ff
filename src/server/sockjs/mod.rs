//! The SockJS server side of the reference server: every transport a SockJS client may use
//! (WebSocket, xhr_streaming, xhr polling with xhr_send, eventsource) and raw WebSocket,
//! carrying sessions whose logic (the presence session, or a test service) never asks which
//! transport carries it.
//!
//! - `link`: what a session sees of its transport; `socket` and `http_link` behind it.
//! - `receiver`: one receiving HTTP request and its framing.
//! - `registry`: session ids, and how HTTP requests reach the session behind one.
//! - `routes`: the HTTP surface of one service (SockJS protocol 0.3.3).

mod http_link;
mod link;
mod receiver;
mod registry;
mod routes;
mod socket;

pub use http_link::{HttpSettings, Linger};
pub use link::{Link, Received};
pub use registry::Registry;
pub use routes::{router, App, Service, ServiceOptions};
pub use socket::Framing;
