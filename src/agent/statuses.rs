//! The statuses an agent waits for: one per `signal` or `invoke` it sent. Each wait ends the
//! way a visitor's request does (docs/reports.md, "Requests that were never answered"):
//! answered (a `signal_status` sample from the intended send), not answered within the reply
//! timeout (`reply_timeout`, a sample of about the timeout), lost with the session outside a
//! planned move or still open at the end (`unanswered`, a sample as long as it waited), or
//! lost in a planned move (nothing: the ledger alone judges the signal).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::measure::{ErrorKind, Metric, Recorder, Waiting};

/// One status awaited.
struct StatusWait {
    /// When the send was intended (latencies are timed from it) and when it went out.
    intended: Instant,
    sent: Instant,
    deadline: Instant,
    /// Counted among the requests waiting now until it ends.
    _waiting: Waiting,
}

/// The statuses an agent awaits, by the signal's running number.
#[derive(Default)]
pub(super) struct Statuses {
    waits: HashMap<u64, StatusWait>,
    /// `(deadline, number)` in send order: each deadline is one reply timeout after its send,
    /// so they ascend. Entries already answered are skipped when they come to the front.
    deadlines: VecDeque<(Instant, u64)>,
}

impl Statuses {
    /// Signal `number`, intended at `intended`, goes out now and must be answered by `deadline`.
    pub fn sent(&mut self, number: u64, intended: Instant, deadline: Instant, waiting: Waiting) {
        let wait = StatusWait {
            intended,
            sent: Instant::now(),
            deadline,
            _waiting: waiting,
        };
        self.waits.insert(number, wait);
        self.deadlines.push_back((deadline, number));
    }

    /// Signal `number`'s status came: timed, if it was still awaited (a late one was counted
    /// at its timeout already).
    pub fn answered(&mut self, number: u64, recorder: &Recorder) {
        if let Some(wait) = self.waits.remove(&number) {
            recorder.reply(Metric::SignalStatus, wait.intended, wait.sent);
        }
        self.skip_settled();
    }

    /// The earliest deadline of a status still awaited.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|(deadline, _)| *deadline)
    }

    /// Counts every status awaited past its deadline at `now` as a `reply_timeout`, with its
    /// sample from the intended send and its service time from the send, as a visitor's
    /// request that timed out.
    pub fn expire(&mut self, now: Instant, recorder: &Recorder) {
        while let Some(&(deadline, number)) = self
            .deadlines
            .front()
            .filter(|(deadline, _)| *deadline <= now)
        {
            self.deadlines.pop_front();
            if self
                .waits
                .get(&number)
                .is_some_and(|wait| wait.deadline == deadline)
            {
                if let Some(wait) = self.waits.remove(&number) {
                    recorder.reply(Metric::SignalStatus, wait.intended, wait.sent);
                    recorder.error(ErrorKind::ReplyTimeout);
                }
            }
        }
        self.skip_settled();
    }

    /// Counts every status still awaited as `unanswered` (the session was lost outside a
    /// planned move, or the run ended), timed from its intended send.
    pub fn unanswered(&mut self, recorder: &Recorder) {
        for (_, wait) in self.waits.drain() {
            recorder.since(Metric::SignalStatus, wait.intended);
            recorder.error(ErrorKind::Unanswered);
        }
        self.deadlines.clear();
    }

    /// The session was lost in a planned move (a drain, or a drill window): the statuses it
    /// carried can never come, and that is no error and no sample. The signals themselves
    /// stay in the ledger, which judges each by whether the visitor received it.
    pub fn forget(&mut self) {
        self.waits.clear();
        self.deadlines.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.waits.is_empty()
    }

    /// Drops answered entries from the front, so the next deadline is a live one.
    fn skip_settled(&mut self) {
        while let Some((deadline, number)) = self.deadlines.front() {
            if self
                .waits
                .get(number)
                .is_some_and(|wait| wait.deadline == *deadline)
            {
                break;
            }
            self.deadlines.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::collector::totals_of;

    #[test]
    fn each_wait_ends_once_however_it_ends() {
        let recorder = Recorder::new();
        let mut statuses = Statuses::default();
        let start = Instant::now();
        let soon = start + Duration::from_millis(10);
        let later = start + Duration::from_secs(60);
        statuses.sent(1, start, soon, recorder.waiting());
        statuses.sent(2, start, later, recorder.waiting());
        statuses.sent(3, start, later, recorder.waiting());
        assert_eq!(recorder.waiting_now().requests, 3);
        statuses.answered(2, &recorder);
        statuses.expire(soon, &recorder);
        assert_eq!(
            statuses.next_deadline(),
            Some(later),
            "1 timed out, 2 answered: 3 is next"
        );
        statuses.answered(1, &recorder);
        statuses.unanswered(&recorder);
        assert!(statuses.is_empty());
        assert_eq!(recorder.waiting_now().requests, 0);
        let totals = totals_of(recorder.drain());
        assert_eq!(
            totals.histogram(Metric::SignalStatus).len(),
            3,
            "one sample each, the late answer none"
        );
        assert_eq!(
            totals.errors.get(ErrorKind::ReplyTimeout.as_str()),
            Some(&1)
        );
        assert_eq!(totals.errors.get(ErrorKind::Unanswered.as_str()), Some(&1));
    }

    #[test]
    fn a_planned_move_forgets_without_a_sample_or_an_error() {
        let recorder = Recorder::new();
        let mut statuses = Statuses::default();
        let now = Instant::now();
        statuses.sent(1, now, now + Duration::from_secs(10), recorder.waiting());
        statuses.forget();
        assert!(statuses.is_empty() && statuses.next_deadline().is_none());
        assert_eq!(
            recorder.waiting_now().requests,
            0,
            "the progress line no longer counts it"
        );
        let totals = totals_of(recorder.drain());
        assert_eq!(totals.histogram(Metric::SignalStatus).len(), 0);
        assert!(totals.errors.is_empty(), "{:?}", totals.errors);
    }
}
