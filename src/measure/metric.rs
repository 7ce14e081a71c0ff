//! The names of everything the harness measures, defined once: reports, summary.json,
//! the interval log and (later) Prometheus all use these names.

/// A latency the harness records, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// `/locate` + TCP connect + WebSocket upgrade + SockJS `o` + `connect` answered by
    /// `connected`; its phases are the five `Connect*` metrics below.
    Connect,
    /// `presence` sent (or scheduled) until its `presence_ack`.
    PresenceAck,
    /// `connect_unique` sent until `unique` arrives (includes the session opening).
    UniqueAssign,
    /// `extend` sent until `extended`.
    Extend,
    /// `focus` sent until `focused`.
    Focus,
    /// A new tab's `connect` sent until the old tab receives its `blur`.
    Blur,
    /// Session lost until the resent presence is acknowledged (docs/protocol.md section 4).
    Reconnect,
    /// `await_signal` step started until a signal arrived.
    SignalWait,
    /// An agent's `signal` (intended send) until the visitor's focused tab receives it.
    SignalDelivery,
    /// A `signal` sent while the visitor was offline until it arrives after the next `connect`.
    QueuedSignalDelivery,
    /// An agent's `invoke` until the visitor receives it.
    InvokeDelivery,
    /// An agent's `signal`/`invoke` until its `signal_status`/`invoke_status` reply.
    SignalStatus,
    /// A visitor's `presence` sent until a watching agent receives the matching event.
    PresencePropagation,
    /// A visitor's connect or disconnect until a watching agent sees `online` change.
    OnlinePropagation,
    /// `Reconnect` of sessions the server drained (`draining`, or close 3000).
    ReconnectDrain,
    /// `Reconnect` of sessions dropped without a close frame (a killed instance).
    ReconnectKill,
    /// `Reconnect` of sessions lost any other way.
    ReconnectOther,
    /// `SignalDelivery` of signals sent or received while a drill window was open.
    SignalDeliveryDrill,
    /// `SignalDelivery` of signals sent and received with no drill window open.
    SignalDeliveryCalm,
    /// `QueuedSignalDelivery` while a drill window was open: kept across the move.
    QueuedSignalDeliveryDrill,
    /// Phase of `Connect`: the `/locate` round trip (none when the target is an instance).
    ConnectLocate,
    /// Phase of `Connect`: the TCP connect (and the TLS handshake for `wss://`).
    ConnectTcp,
    /// Phase of `Connect`: the WebSocket upgrade request until its `101` response.
    ConnectUpgrade,
    /// Phase of `Connect`: the `101` until the SockJS `o` frame (none for raw WebSocket).
    ConnectOpen,
    /// Phase of `Connect`: `connect` sent until `connected`.
    ConnectHandshake,
}

impl Metric {
    pub const ALL: [Metric; 25] = [
        Metric::Connect,
        Metric::PresenceAck,
        Metric::UniqueAssign,
        Metric::Extend,
        Metric::Focus,
        Metric::Blur,
        Metric::Reconnect,
        Metric::SignalWait,
        Metric::SignalDelivery,
        Metric::QueuedSignalDelivery,
        Metric::InvokeDelivery,
        Metric::SignalStatus,
        Metric::PresencePropagation,
        Metric::OnlinePropagation,
        Metric::ReconnectDrain,
        Metric::ReconnectKill,
        Metric::ReconnectOther,
        Metric::SignalDeliveryDrill,
        Metric::SignalDeliveryCalm,
        Metric::QueuedSignalDeliveryDrill,
        Metric::ConnectLocate,
        Metric::ConnectTcp,
        Metric::ConnectUpgrade,
        Metric::ConnectOpen,
        Metric::ConnectHandshake,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The requests: a message the harness sends and the reply the server sends back. Their
    /// service time (from the actual send) is recorded beside the latency from intent, so a
    /// reader can tell the server's latency from the lateness of the send.
    pub const REQUESTS: [Metric; 4] = [
        Metric::PresenceAck,
        Metric::Extend,
        Metric::Focus,
        Metric::SignalStatus,
    ];

    /// The phases of [`Metric::Connect`]: a breakdown for reading where a connect spends its
    /// time. `compare` leaves them out: `connect` itself is compared, and a phase a target
    /// does not have (`/locate` of an instance) must not count as missing.
    pub const CONNECT_PHASES: [Metric; 5] = [
        Metric::ConnectLocate,
        Metric::ConnectTcp,
        Metric::ConnectUpgrade,
        Metric::ConnectOpen,
        Metric::ConnectHandshake,
    ];

    /// The metric's name in reports (snake_case, stable).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Connect => "connect",
            Metric::PresenceAck => "presence_ack",
            Metric::UniqueAssign => "unique_assign",
            Metric::Extend => "extend",
            Metric::Focus => "focus",
            Metric::Blur => "blur",
            Metric::Reconnect => "reconnect",
            Metric::SignalWait => "signal_wait",
            Metric::SignalDelivery => "signal_delivery",
            Metric::QueuedSignalDelivery => "queued_signal_delivery",
            Metric::InvokeDelivery => "invoke_delivery",
            Metric::SignalStatus => "signal_status",
            Metric::PresencePropagation => "presence_propagation",
            Metric::OnlinePropagation => "online_propagation",
            Metric::ReconnectDrain => "reconnect_drain",
            Metric::ReconnectKill => "reconnect_kill",
            Metric::ReconnectOther => "reconnect_other",
            Metric::SignalDeliveryDrill => "signal_delivery_drill",
            Metric::SignalDeliveryCalm => "signal_delivery_calm",
            Metric::QueuedSignalDeliveryDrill => "queued_signal_delivery_drill",
            Metric::ConnectLocate => "connect_locate",
            Metric::ConnectTcp => "connect_tcp",
            Metric::ConnectUpgrade => "connect_upgrade",
            Metric::ConnectOpen => "connect_open",
            Metric::ConnectHandshake => "connect_handshake",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Where the metric's service time is kept, if it is a request (see [`Self::REQUESTS`]).
    pub(crate) fn service_index(self) -> Option<usize> {
        Self::REQUESTS.iter().position(|request| *request == self)
    }
}

/// A count the harness keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// Visitor tasks started.
    VisitorsStarted,
    /// Visitor tasks that ran their behavior to the end.
    VisitorsCompleted,
    /// Sessions (tabs) opened successfully.
    SessionsOpened,
    /// Sessions lost to the server (close frame, reset, EOF).
    SessionsLost,
    /// Sessions lost that were reconnected.
    Reconnects,
    /// Messages sent to the server.
    MessagesSent,
    /// Messages received from the server (heartbeats excluded).
    MessagesReceived,
    /// Signals and invokes received by visitors.
    SignalsReceived,
    /// Signals and invokes sent by agents.
    SignalsSent,
    /// Signals and invokes the server rejected (`queue_full`): told, so not lost.
    SignalsRejected,
    /// Signals kept for visitors that never came back before the run ended or the entry
    /// expired: neither delivered nor lost.
    SignalsUndeliverable,
}

impl Counter {
    pub const ALL: [Counter; 11] = [
        Counter::VisitorsStarted,
        Counter::VisitorsCompleted,
        Counter::SessionsOpened,
        Counter::SessionsLost,
        Counter::Reconnects,
        Counter::MessagesSent,
        Counter::MessagesReceived,
        Counter::SignalsReceived,
        Counter::SignalsSent,
        Counter::SignalsRejected,
        Counter::SignalsUndeliverable,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            Counter::VisitorsStarted => "visitors_started",
            Counter::VisitorsCompleted => "visitors_completed",
            Counter::SessionsOpened => "sessions_opened",
            Counter::SessionsLost => "sessions_lost",
            Counter::Reconnects => "reconnects",
            Counter::MessagesSent => "messages_sent",
            Counter::MessagesReceived => "messages_received",
            Counter::SignalsReceived => "signals_received",
            Counter::SignalsSent => "signals_sent",
            Counter::SignalsRejected => "signals_rejected",
            Counter::SignalsUndeliverable => "signals_undeliverable",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A delivery guarantee of docs/protocol.md section 3 that the harness checks; each counts
/// violations, and any violation fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// A signal or invoke that should have arrived (the visitor was online, or connected
    /// again after it was sent) and did not, within the grace period.
    SignalsLost,
    /// The same signal received again (allowed by at-least-once delivery; counted, not failed).
    SignalsDuplicated,
    /// A signal from an agent received after a later one from the same agent.
    SignalsOutOfOrder,
    /// A signal delivered to a tab that did not have focus.
    SignalsUnfocused,
    /// A `blur` sent to the tab that has just taken focus.
    BlurMisrouted,
    /// A `blur` owed to the tab that lost focus that never came: not by the time its visitor
    /// stopped (with its grace over), nor within `checks::visitor_side::MISSING_AFTER`.
    BlurMissing,
    /// Two live unique connections holding the same id.
    UniqueCollisions,
    /// A unique id that is not six decimal digits.
    UniqueMalformed,
    /// A presence a watching agent never saw within the grace period.
    PresenceMissed,
    /// A presence event carrying data older than what the visitor had confirmed.
    PresenceStale,
    /// `connected` (or `agent_connected`) naming another visitor (or agent) than the one
    /// that asked.
    ConnectedMismatch,
    /// `blur` or `focused` naming another tab than the one it was sent to.
    TabMismatch,
    /// A signal or invoke that no agent of the run sent (unknown agent, or a number that
    /// agent never used for this visitor).
    SignalsUnknown,
}

impl Check {
    pub const ALL: [Check; 13] = [
        Check::SignalsLost,
        Check::SignalsDuplicated,
        Check::SignalsOutOfOrder,
        Check::SignalsUnfocused,
        Check::BlurMisrouted,
        Check::BlurMissing,
        Check::UniqueCollisions,
        Check::UniqueMalformed,
        Check::PresenceMissed,
        Check::PresenceStale,
        Check::ConnectedMismatch,
        Check::TabMismatch,
        Check::SignalsUnknown,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            Check::SignalsLost => "signals_lost",
            Check::SignalsDuplicated => "signals_duplicated",
            Check::SignalsOutOfOrder => "signals_out_of_order",
            Check::SignalsUnfocused => "signals_unfocused",
            Check::BlurMisrouted => "blur_misrouted",
            Check::BlurMissing => "blur_missing",
            Check::UniqueCollisions => "unique_collisions",
            Check::UniqueMalformed => "unique_malformed",
            Check::PresenceMissed => "presence_missed",
            Check::PresenceStale => "presence_stale",
            Check::ConnectedMismatch => "connected_mismatch",
            Check::TabMismatch => "tab_mismatch",
            Check::SignalsUnknown => "signals_unknown",
        }
    }

    /// Whether a violation fails the run: duplicates are allowed by at-least-once delivery.
    pub fn fails_run(self) -> bool {
        self != Check::SignalsDuplicated
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A labelled family of rare events, counted by a short fixed label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tally {
    /// A drill event, labelled by kind (`scale_in`, `scale_out`, `kill`, or `observed` in
    /// watch mode).
    DrillEvent,
    /// A message sent, labelled by its `type`.
    MessageSent,
    /// A message received, labelled by its `type`.
    MessageReceived,
    /// A visitor session opened, labelled by the server instance that took it.
    SessionOpened,
    /// A visitor session lost, labelled by the server instance that had it.
    SessionLost,
    /// A try to bring a lost session back, labelled `ok` or `failed`.
    ReconnectAttempt,
    /// A visitor started, labelled by its transport (`by_transport`).
    TransportVisitor,
    /// A visitor session opened, labelled by its transport.
    TransportSession,
    /// An error of a visitor, labelled by its transport.
    TransportError,
    /// The harness learned of a server instance (the embedded cluster's, or one a scale-out
    /// answered with) before any session opened there: its per-server series start at zero.
    ServerSeen,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_match_the_order_of_all() {
        for (i, metric) in Metric::ALL.iter().enumerate() {
            assert_eq!(metric.index(), i);
        }
        for (i, counter) in Counter::ALL.iter().enumerate() {
            assert_eq!(counter.index(), i);
        }
        for (i, check) in Check::ALL.iter().enumerate() {
            assert_eq!(check.index(), i);
        }
    }
}
