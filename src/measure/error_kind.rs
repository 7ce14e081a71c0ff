//! Error kinds that visitors and agents both record, named once (docs/reports.md lists
//! every kind).

/// A request that was never answered: still open when its visitor or agent stopped (after a
/// short last chance), or lost with a session that was not a planned move.
pub const UNANSWERED: &str = "unanswered";

/// A session lost (reset, closed without a frame, silent past the heartbeat timeout, closed
/// with a code that asks to reconnect) outside a drill window and without a drain announced.
pub const SESSION_LOST: &str = "session_lost";

/// A request not answered within `target.reply_timeout`.
pub const REPLY_TIMEOUT: &str = "reply_timeout";
