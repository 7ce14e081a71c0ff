//! One request of a visitor and how it ends, each way of which is counted: answered (a
//! latency sample), not answered in time (`reply_timeout`), lost with its session outside a
//! planned move (`unanswered`), or still open when the visitor was stopped (`unanswered`,
//! after a short last chance, or dropped unfinished when its visitor's task is aborted).
//! Every unanswered one leaves a latency sample of at least the
//! time it waited, so a stall shows in the histogram even when nothing was ever answered.

use std::time::{Duration, Instant};

use super::runner::{Interrupt, Visitor, WaitMode};
use crate::measure::ErrorKind;
use crate::measure::{Metric, Recorder};
use crate::wire::{ClientMessage, ServerMessage};

/// How long a request in flight when its visitor is stopped (the end of the run, a
/// ramp-down, Ctrl-C) may still be answered, within its reply timeout: a healthy server
/// answers in milliseconds, and a stop must stay prompt when the server is stalled.
pub const END_SETTLE: Duration = Duration::from_secs(1);

/// Counts a request that was never answered, timed from `started` to now.
pub(super) fn unanswered(recorder: &Recorder, metric: Option<Metric>, started: Instant) {
    if let Some(metric) = metric {
        recorder.since(metric, started);
    }
    recorder.error(ErrorKind::Unanswered);
}

/// A request in flight. Dropped before [`InFlight::end`] (its visitor's task aborted because
/// it did not close within the run's close grace: a send blocked on a server that stopped
/// reading, say), it counts as unanswered, as a request still open at a stop does; without
/// this, the requests a server stuck hardest vanished from the report.
struct InFlight<'r> {
    recorder: &'r Recorder,
    metric: Option<Metric>,
    started: Instant,
    ended: bool,
}

impl InFlight<'_> {
    /// From here on the request ends in [`request`]'s own accounting.
    fn end(&mut self) {
        self.ended = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.ended {
            unanswered(self.recorder, self.metric, self.started);
        }
    }
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
    // The context outlives the visitor, so the guard borrows its recorder, not `v`.
    let ctx = v.ctx;
    let mut in_flight = InFlight {
        recorder: &ctx.recorder,
        metric,
        started,
        ended: false,
    };
    let tabs = v.tabs.len();
    // Unsettled already when sent: its answer comes after whatever the server sent on this
    // tab when the other tab ended.
    let settles = v.tabs[i].unsettled && !matches!(message, ClientMessage::Focus);
    let sent = Instant::now();
    let deadline = sent + v.ctx.opener.reply_timeout;
    let mut outcome = match v.send_with(i, message, mode, deadline).await {
        Ok(()) => {
            v.wait(Some(i), deadline, |m| is_reply(m).then_some(()), mode)
                .await
        }
        Err(interrupt) => Err(interrupt),
    };
    if outcome == Err(Interrupt::Cancelled) {
        // Stopped mid-request: a last chance, then it is unanswered; `Cancelled` either way.
        // Not when a tab was dropped meanwhile (its session is gone, or `i` names another).
        let last_chance = deadline.min(Instant::now() + END_SETTLE);
        let settled = v.tabs.len() == tabs
            && v.wait(
                Some(i),
                last_chance,
                |m| is_reply(m).then_some(()),
                WaitMode::Settle,
            )
            .await
            .is_ok();
        in_flight.end();
        outcome = Err(Interrupt::Cancelled);
        if !settled {
            unanswered(&v.ctx.recorder, metric, started);
            return outcome;
        }
    }
    in_flight.end();
    // An answer to a request sent after another tab ended: everything the server sent on this
    // tab before it is read, so the tab is settled (not an answer to `focus`: the server may
    // send `focused` on its own).
    if settles && outcome.is_ok() && v.tabs.len() == tabs {
        v.tabs[i].unsettled = false;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use crate::measure::collector::totals_of;
    use crate::measure::{Counter, ErrorKind, Metric};
    use crate::server::cluster::Cluster;
    use crate::server::settings::Settings;

    /// A visitor whose presence the server holds (acknowledged only after a minute) has its
    /// task aborted mid-request, as a run aborts the visitors that do not close within its
    /// close grace: the presence is still `unanswered`, with a sample as long as it waited.
    /// Before `InFlight`, it vanished: no error, no sample.
    #[tokio::test]
    async fn a_request_dropped_with_its_aborted_visitor_is_unanswered() {
        let settings = Settings {
            instances: 1,
            ack_delay: Duration::from_secs(60),
            ..Settings::default()
        };
        let cluster = Cluster::start(settings).await.expect("the cluster starts");
        let url = cluster.instances()[0].url.clone();
        let ctx = Arc::new(super::super::footprint::context_at(
            &url,
            "[ connect, presence ]",
        ));
        let recorder = ctx.recorder.clone();
        let visitor = tokio::spawn(super::super::run(ctx, 0, CancellationToken::new()));
        // The presence is in flight once it was sent, after `connect`: two messages.
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut sent = 0;
            while sent < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                sent += totals_of(recorder.drain()).counter(Counter::MessagesSent);
            }
        })
        .await
        .expect("the presence was sent");
        visitor.abort();
        assert!(visitor.await.expect_err("aborted").is_cancelled());
        let totals = totals_of(recorder.drain());
        assert_eq!(
            totals.errors.get(ErrorKind::Unanswered.as_str()),
            Some(&1),
            "{:?}",
            totals.errors
        );
        assert_eq!(
            totals.histogram(Metric::PresenceAck).len(),
            1,
            "the presence is a sample"
        );
        cluster.shutdown().await;
    }
}
