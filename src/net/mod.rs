//! HTTP plumbing both sides share, apart from the wire protocol itself: the reference server
//! and the harness's `/metrics` endpoint serve with it, and the harness, the drills and a
//! partitioned server's directory request with it. It imports only [`crate::wire`].
//!
//! - [`serve`]: serving HTTP and WebSocket upgrades with bounded waits.
//! - [`upgrade_hold`]: a server's `101` sent in one write with the first frame after it.
//! - [`http_client`]: a pooled JSON client with a timeout and a body limit (`/locate`, admin).
//! - [`headers`]: the request headers a run sends on every request (values never shown).
//! - [`tls`]: the TLS roots for `wss://` and `https://`.

pub mod headers;
pub mod http_client;
pub mod serve;
pub mod tls;
pub mod upgrade_hold;
