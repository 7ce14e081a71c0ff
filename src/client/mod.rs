//! The harness's connections to a Presence server: a [`Connection`] over SockJS or raw
//! WebSocket, or over SockJS's HTTP transports, found through a directory or at a fixed
//! instance. It speaks the wire protocol of [`crate::wire`] over [`crate::net`]; the server
//! never imports it (`tests/it/layering.rs`).
//!
//! - [`connection`]: one open session, whichever transport carries it.
//! - [`endpoint`]: the instance connected to, and each transport's path below it.
//! - [`options`]: the settings every transport shares.
//! - [`error`]: what can go wrong on a connection.
//! - [`dial`]: TCP from the chosen source address, then TLS for `wss://`.
//! - [`stream`]: the byte stream under a connection, plain or TLS.
//! - [`upgrade`]: the WebSocket opening handshake, with a small buffer.
//! - [`http_session`]: the SockJS HTTP transports' requests, with [`cookies`] kept.
//! - [`discovery`]: where a client connects, through `/locate` or to one instance.
//! - [`host`]: the host a URL names, and whether it is this machine.

pub mod connection;
pub mod cookies;
pub mod dial;
pub mod discovery;
pub mod endpoint;
pub mod error;
pub mod host;
pub mod http_session;
pub mod options;
pub mod stream;
pub mod upgrade;

pub use connection::{Connection, Incoming, OpenPhases};
pub use dial::defer_port_choice;
pub use endpoint::Endpoint;
pub use error::ClientError;
pub use options::ConnectOptions;
