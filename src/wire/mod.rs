//! The Presence wire protocol (docs/protocol.md), one definition for the reference server and
//! the harness so the two sides cannot drift apart. It imports nothing else of the crate
//! (`tests/it/layering.rs`): both sides build on it, never the other way.
//!
//! - [`message`]: every message object of sections 2 and 5, as serde types.
//! - [`sockjs`]: SockJS framing (`o`, `h`, `a[...]`, `c[...]`) in both directions.
//! - [`close`]: the close codes the server uses.
//! - [`data`]: validation of custom `data` objects.
//! - [`transport`]: the transports a session runs on, one name each for both sides.
//! - [`http_frames`]: the framing of the SockJS HTTP transports' responses.
//! - [`event_data`]: the percent-escaping of eventsource frames, both ways.
//! - [`locate`]: the `/locate` discovery request and its answer.

pub mod close;
pub mod data;
pub mod event_data;
pub mod http_frames;
pub mod locate;
pub mod message;
pub mod sockjs;
pub mod transport;

pub use message::{ClientMessage, Page, ServerMessage, Status};
pub use transport::Transport;
