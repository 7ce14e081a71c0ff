//! One request of a visitor and how it ends, each way of which is counted: answered (a
//! latency sample), not answered in time (`reply_timeout`), lost with its session outside a
//! planned move (`unanswered`), or still open when the visitor was stopped (`unanswered`,
//! after a short last chance). Every unanswered one leaves a latency sample of at least the
//! time it waited, so a stall shows in the histogram even when nothing was ever answered.

use std::time::{Duration, Instant};

use super::runner::{Interrupt, Visitor, WaitMode};
use crate::measure::ErrorKind;
use crate::measure::{Metric, Recorder};
use crate::protocol::{ClientMessage, ServerMessage};

/// How long a request in flight when its visitor is stopped (the end of the run, a
/// ramp-down, Ctrl-C) may still be answered, within its reply timeout: a healthy server
/// answers in milliseconds, and a stop must stay prompt when the server is stalled.
pub(super) const END_SETTLE: Duration = Duration::from_secs(1);

/// Counts a request that was never answered, timed from `started` to now.
pub(super) fn unanswered(recorder: &Recorder, metric: Option<Metric>, started: Instant) {
    if let Some(metric) = metric {
        recorder.since(metric, started);
    }
    recorder.error(ErrorKind::Unanswered);
}

/// Sends `message` on tab `i` and waits for the reply `is_reply` accepts, recording `metric`
/// from `started` (the intended send, or the send) however it ends, and its service time
/// from the send when it was answered or timed out; `None` records only the
/// errors (a presence resent after a reconnect is timed as `reconnect` instead). `mode` is
/// [`WaitMode::Normal`], or [`WaitMode::HandBack`] to leave the loss of tab `i` to the caller.
pub(super) async fn request(
    v: &mut Visitor<'_>,
    i: usize,
    message: &ClientMessage,
    started: Instant,
    metric: Option<Metric>,
    mode: WaitMode,
    is_reply: impl Fn(&ServerMessage) -> bool,
) -> Result<(), Interrupt> {
    let _waiting = v.ctx.recorder.waiting();
    let tabs = v.tabs.len();
    let sent = Instant::now();
    let deadline = sent + v.ctx.opener.reply_timeout;
    let mut outcome = match v.send_with(i, message, mode).await {
        Ok(()) => v.wait(Some(i), deadline, |m| is_reply(m).then_some(()), mode).await,
        Err(interrupt) => Err(interrupt),
    };
    if outcome == Err(Interrupt::Cancelled) {
        // Stopped mid-request: a last chance, then it is unanswered; `Cancelled` either way.
        // Not when a tab was dropped meanwhile (its session is gone, or `i` names another).
        let last_chance = deadline.min(Instant::now() + END_SETTLE);
        let settled = v.tabs.len() == tabs
            && v.wait(Some(i), last_chance, |m| is_reply(m).then_some(()), WaitMode::Settle).await.is_ok();
        outcome = Err(Interrupt::Cancelled);
        if !settled {
            unanswered(&v.ctx.recorder, metric, started);
            return outcome;
        }
    }
    let recorder = &v.ctx.recorder;
    match outcome {
        Ok(()) | Err(Interrupt::Cancelled) => {
            if let Some(metric) = metric {
                recorder.reply(metric, started, sent);
            }
        }
        Err(Interrupt::Timeout) => {
            if let Some(metric) = metric {
                recorder.reply(metric, started, sent);
            }
            recorder.error(ErrorKind::ReplyTimeout);
        }
        Err(Interrupt::TabLost { planned: false }) => unanswered(recorder, metric, started),
        Err(Interrupt::TabLost { planned: true }) => {}
    }
    outcome
}
