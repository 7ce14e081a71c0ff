//! Every kind of error the harness records, as one closed enum beside `Counter` and `Check`:
//! the recorder takes an [`ErrorKind`], so a kind the code records is always one a threshold
//! may name (`errors.KIND`), and a misspelt kind in a scenario is refused before the run
//! instead of counting zero and passing forever. docs/reports.md lists every kind (a test
//! compares the two).

/// What went wrong, in a word fit for a report row and a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    Connect,
    OpenFileLimit,
    EphemeralPorts,
    InvalidUrl,
    Tls,
    Handshake,
    Locate,
    LocateUrl,
    BodyTooLarge,
    FrameTooLarge,
    Timeout,
    UnexpectedReply,
    ReplyTimeout,
    SignalTimeout,
    StepWithoutSession,
    ServerError,
    Closed,
    ClosedBrokenFraming,
    ClosedTooBig,
    ClosedSessionInUse,
    ClosedUniqueExpired,
    ClosedUniqueInUse,
    ClosedBadRequest,
    ClosedReplaced,
    Lost,
    SessionLost,
    Protocol,
    HttpStatus,
    Unanswered,
}

impl ErrorKind {
    /// Every kind, in the order docs/reports.md lists them.
    pub const ALL: [ErrorKind; 29] = [
        ErrorKind::Connect,
        ErrorKind::OpenFileLimit,
        ErrorKind::EphemeralPorts,
        ErrorKind::InvalidUrl,
        ErrorKind::Tls,
        ErrorKind::Handshake,
        ErrorKind::Locate,
        ErrorKind::LocateUrl,
        ErrorKind::BodyTooLarge,
        ErrorKind::FrameTooLarge,
        ErrorKind::Timeout,
        ErrorKind::UnexpectedReply,
        ErrorKind::ReplyTimeout,
        ErrorKind::SignalTimeout,
        ErrorKind::StepWithoutSession,
        ErrorKind::ServerError,
        ErrorKind::Closed,
        ErrorKind::ClosedBrokenFraming,
        ErrorKind::ClosedTooBig,
        ErrorKind::ClosedSessionInUse,
        ErrorKind::ClosedUniqueExpired,
        ErrorKind::ClosedUniqueInUse,
        ErrorKind::ClosedBadRequest,
        ErrorKind::ClosedReplaced,
        ErrorKind::Lost,
        ErrorKind::SessionLost,
        ErrorKind::Protocol,
        ErrorKind::HttpStatus,
        ErrorKind::Unanswered,
    ];

    /// The name in reports, summary.json, the `kind` label and `errors.KIND` thresholds.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::OpenFileLimit => "open_file_limit",
            ErrorKind::EphemeralPorts => "ephemeral_ports",
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::Tls => "tls",
            ErrorKind::Handshake => "handshake",
            ErrorKind::Locate => "locate",
            ErrorKind::LocateUrl => "locate_url",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::FrameTooLarge => "frame_too_large",
            ErrorKind::Timeout => "timeout",
            ErrorKind::UnexpectedReply => "unexpected_reply",
            ErrorKind::ReplyTimeout => "reply_timeout",
            ErrorKind::SignalTimeout => "signal_timeout",
            ErrorKind::StepWithoutSession => "step_without_session",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Closed => "closed",
            ErrorKind::ClosedBrokenFraming => "closed_broken_framing",
            ErrorKind::ClosedTooBig => "closed_too_big",
            ErrorKind::ClosedSessionInUse => "closed_session_in_use",
            ErrorKind::ClosedUniqueExpired => "closed_unique_expired",
            ErrorKind::ClosedUniqueInUse => "closed_unique_in_use",
            ErrorKind::ClosedBadRequest => "closed_bad_request",
            ErrorKind::ClosedReplaced => "closed_replaced",
            ErrorKind::Lost => "lost",
            ErrorKind::SessionLost => "session_lost",
            ErrorKind::Protocol => "protocol",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Unanswered => "unanswered",
        }
    }

    /// The kind a name stands for (`None` for a name the harness never records).
    pub fn parse(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        }
        let unique: std::collections::HashSet<_> =
            ErrorKind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(unique.len(), ErrorKind::ALL.len());
        assert_eq!(ErrorKind::parse("reply_timout"), None);
    }

    /// docs/reports.md has one row per kind, in this order, and no row for a kind that is
    /// not recorded: the reader's list cannot fall behind the code.
    #[test]
    fn docs_list_every_kind_once() {
        let doc = include_str!("../../docs/reports.md");
        let section = doc
            .split("### Error kinds")
            .nth(1)
            .expect("docs/reports.md has an Error kinds section");
        let table = section
            .split("\n\n")
            .find(|block| block.trim_start().starts_with('|'))
            .expect("a table");
        let listed: Vec<&str> = table
            .lines()
            .skip(2)
            .filter_map(|row| row.trim_start_matches("| `").split('`').next())
            .collect();
        let kinds: Vec<&str> = ErrorKind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(listed, kinds);
    }
}
