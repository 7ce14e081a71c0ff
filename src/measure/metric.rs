//! The names of everything the harness measures, defined once: reports, summary.json,
//! the interval log and (later) Prometheus all use these names.

/// A latency the harness records, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// TCP connect + WebSocket upgrade + SockJS `o` + `connect` answered by `connected`.
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
    /// Session lost until the resent presence is acknowledged (PROTOCOL.md section 4).
    Reconnect,
    /// `await_signal` step started until a signal arrived.
    SignalWait,
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::Connect,
        Metric::PresenceAck,
        Metric::UniqueAssign,
        Metric::Extend,
        Metric::Focus,
        Metric::Blur,
        Metric::Reconnect,
        Metric::SignalWait,
    ];
    pub const COUNT: usize = Self::ALL.len();

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
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
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
}

impl Counter {
    pub const ALL: [Counter; 8] = [
        Counter::VisitorsStarted,
        Counter::VisitorsCompleted,
        Counter::SessionsOpened,
        Counter::SessionsLost,
        Counter::Reconnects,
        Counter::MessagesSent,
        Counter::MessagesReceived,
        Counter::SignalsReceived,
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
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A labelled family of rare events, counted by a short fixed label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tally {
    /// A delivery-guarantee violation, labelled by check (`signals_lost`, ...).
    CheckViolation,
    /// A drill event, labelled by kind (`scale_in`, `scale_out`, `kill`).
    DrillEvent,
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
    }
}
