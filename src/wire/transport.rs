//! The transports a Presence session runs on (docs/protocol.md section 1), one vocabulary for
//! the scenario, the harness's client, the reference server and both sides' metrics: SockJS
//! over a WebSocket is `sockjs`, a WebSocket without SockJS framing is `raw_websocket`, so
//! that no name means one thing on one side and another on the other.

use serde::{Deserialize, Serialize};

/// Which transport and framing a session runs on: what a scenario asks for, what the
/// harness's client opens, what the server's session was opened on, and the `transport`
/// label value of both sides' metrics.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// SockJS's WebSocket transport: `{prefix}/{server}/{session}/websocket`.
    #[default]
    Sockjs,
    /// Raw WebSocket: `{prefix}/websocket`, one message per text frame, no SockJS framing.
    RawWebsocket,
    /// SockJS `xhr_streaming`: one long POST response carries the frames; sends by `xhr_send`.
    XhrStreaming,
    /// SockJS `xhr` polling: one POST per frame; sends by `xhr_send`.
    XhrPolling,
    /// SockJS `eventsource`: a GET answered with Server-Sent Events; sends by `xhr_send`.
    Eventsource,
}

impl Transport {
    /// Every transport, in the order reports list them.
    pub const ALL: [Transport; 5] = [
        Transport::Sockjs,
        Transport::RawWebsocket,
        Transport::XhrStreaming,
        Transport::XhrPolling,
        Transport::Eventsource,
    ];

    /// The name scenarios, both sides' metric labels and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Sockjs => "sockjs",
            Transport::RawWebsocket => "raw_websocket",
            Transport::XhrStreaming => "xhr_streaming",
            Transport::XhrPolling => "xhr_polling",
            Transport::Eventsource => "eventsource",
        }
    }

    /// The transport named `name`, if any.
    pub fn from_name(name: &str) -> Option<Transport> {
        Transport::ALL
            .into_iter()
            .find(|transport| transport.name() == name)
    }

    /// Whether it carries SockJS framing (all but raw WebSocket): an `o` frame first, then
    /// `h`, `a[...]` and `c[...]` frames.
    pub fn has_sockjs_framing(self) -> bool {
        self != Transport::RawWebsocket
    }

    /// Whether it runs over plain HTTP requests rather than a WebSocket.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            Transport::XhrStreaming | Transport::XhrPolling | Transport::Eventsource
        )
    }
}
