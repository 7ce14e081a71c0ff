//! The report's name for each way a connection fails (`measure::ErrorKind`, docs/reports.md):
//! the client connections (`client/`) and the HTTP client (`net/`) say what went wrong, the
//! harness decides what it is counted as, so neither imports the report's vocabulary.

use std::io;

use crate::client::discovery::DiscoveryError;
use crate::client::ClientError;
use crate::measure::ErrorKind;
use crate::net::http_client::HttpError;
use crate::wire::close::{self, Close};

/// The error kind a final close is counted under, one per close the reference server sends
/// that is not a move.
const CLOSES: [(Close, ErrorKind); 7] = [
    (close::BROKEN_FRAMING, ErrorKind::ClosedBrokenFraming),
    (close::MESSAGE_TOO_BIG, ErrorKind::ClosedTooBig),
    (close::SESSION_IN_USE, ErrorKind::ClosedSessionInUse),
    (close::UNIQUE_EXPIRED, ErrorKind::ClosedUniqueExpired),
    (close::UNIQUE_IN_USE, ErrorKind::ClosedUniqueInUse),
    (close::BAD_REQUEST, ErrorKind::ClosedBadRequest),
    (close::REPLACED, ErrorKind::ClosedReplaced),
];

/// The kind of a client connection's error.
pub fn client(err: &ClientError) -> ErrorKind {
    match err {
        ClientError::InvalidUrl { .. } => ErrorKind::InvalidUrl,
        // Limits of the harness's own machine, told apart for reports and the verdict.
        ClientError::Connect { source, .. } => connect(source),
        ClientError::Tls(_) => ErrorKind::Tls,
        ClientError::Handshake(_) => ErrorKind::Handshake,
        ClientError::Closed { .. } => ErrorKind::Closed,
        ClientError::Lost(_) => ErrorKind::Lost,
        ClientError::Protocol(_) => ErrorKind::Protocol,
        ClientError::FrameTooLarge { .. } => ErrorKind::FrameTooLarge,
        ClientError::Status { .. } => ErrorKind::HttpStatus,
    }
}

/// The kind of a failed `/locate`.
pub fn discovery(err: &DiscoveryError) -> ErrorKind {
    match err {
        DiscoveryError::Locate(HttpError::BodyTooLarge { .. }) => ErrorKind::BodyTooLarge,
        DiscoveryError::Locate(_) => ErrorKind::Locate,
        DiscoveryError::Endpoint(_) => ErrorKind::LocateUrl,
    }
}

/// The kind of a final close with this code; `None` for codes the server does not send,
/// which the caller counts under its own kind.
pub fn close(code: u16) -> Option<ErrorKind> {
    CLOSES
        .iter()
        .find(|(sent, _)| sent.code == code)
        .map(|&(_, kind)| kind)
}

/// A socket that could not be created or connected: the machine's limits (open files,
/// ephemeral ports) get names of their own, so a report can say that the machine, not the
/// server, capped the run.
fn connect(err: &io::Error) -> ErrorKind {
    match err.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => ErrorKind::OpenFileLimit,
        Some(libc::EADDRNOTAVAIL) => ErrorKind::EphemeralPorts,
        _ => ErrorKind::Connect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_either_moves_the_client_or_has_an_error_kind() {
        for (sent, kind) in CLOSES {
            assert!(!close::reconnect_elsewhere(sent.code), "{kind} is final");
            assert_eq!(close(sent.code), Some(kind));
        }
        for code in (0..=u16::MAX).filter(|&code| close::reconnect_elsewhere(code)) {
            assert_eq!(close(code), None, "{code} is a move, not an error");
        }
        assert_eq!(close(4999), None);
    }

    #[test]
    fn machine_limits_have_their_own_error_kinds() {
        let kind = |errno| connect(&io::Error::from_raw_os_error(errno));
        assert_eq!(kind(24), ErrorKind::OpenFileLimit);
        assert_eq!(kind(23), ErrorKind::OpenFileLimit);
        assert_eq!(kind(99), ErrorKind::EphemeralPorts);
        assert_eq!(kind(111), ErrorKind::Connect);
        let refused = ClientError::Connect {
            addr: "x".into(),
            source: io::Error::from_raw_os_error(99),
        };
        assert_eq!(client(&refused), ErrorKind::EphemeralPorts);
    }
}
