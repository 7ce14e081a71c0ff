//! One definition of the Presence wire protocol (`docs/protocol.md`), shared by the reference
//! server and the harness so the two sides cannot drift apart.
//!
//! - [`message`]: every message object of sections 2 and 5, as serde types.
//! - [`sockjs`]: SockJS framing (`o`, `h`, `a[...]`, `c[...]`) in both directions.
//! - [`close`]: the close codes the server uses.
//! - [`data`]: validation of custom `data` objects.
//! - [`client`]: client transports (SockJS over WebSocket, raw WebSocket, SockJS over HTTP).
//! - [`http_session`], [`http_frames`]: the SockJS HTTP transports' requests and framing.
//! - [`event_data`]: the percent-escaping of eventsource frames, both ways.
//! - [`locate`]: the `/locate` discovery request.
//! - [`headers`]: the request headers a run sends on every request (values never shown).
//! - [`cookies`]: a SockJS HTTP session's cookies, kept and sent back as a browser does.
//! - [`upgrade`]: the client's WebSocket opening handshake, with a small buffer.
//! - [`http_server`]: serving HTTP and WebSocket upgrades with bounded waits (both sides).
//! - [`upgrade_hold`]: a server's `101` sent in one write with the first frame after it.

pub mod client;
pub mod close;
pub mod cookies;
pub mod data;
pub mod discovery;
pub mod event_data;
pub mod headers;
pub mod host;
pub mod http_frames;
pub mod http_server;
pub mod http_session;
pub mod locate;
pub mod message;
pub mod sockjs;
pub mod stream;
pub mod tls;
pub mod upgrade;
pub mod upgrade_hold;

pub use message::{ClientMessage, Page, ServerMessage, Status};
