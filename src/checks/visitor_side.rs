//! Checks a visitor keeps for itself: where `blur` must land, and that each agent's signals
//! arrive in the order they were sent. Both are local to one visitor task: no locking.

use std::time::{Duration, Instant};

/// An agent's name on the wire: `agent-<index>`; signal ids are the agent's running number.
pub fn agent_name(index: u32) -> String {
    format!("agent-{index}")
}

/// The index of an agent of this harness, from its name.
pub fn agent_index(name: &str) -> Option<u32> {
    name.strip_prefix("agent-")?.parse().ok()
}

/// How long past its grace an expected `blur` may still come while the visitor runs: a late
/// `blur` is a latency (the `blur` histogram), and only one this late, or still missing when
/// the visitor stops, is missing (as `UNDELIVERABLE_AFTER` bounds how long signals are kept).
/// It bounds what a visitor keeps when a server never sends its blurs.
pub const MISSING_AFTER: Duration = Duration::from_secs(300);

/// What a `blur` that just arrived means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlurVerdict {
    /// The tab that lost focus was told; the focus change started at the given instant.
    Expected(Instant),
    /// Sent to the tab that has just taken focus.
    Misrouted,
    /// Sent to the tab that has just taken focus by a move made while another tab's `focus`
    /// was still unanswered (a tab reconnecting during a tab switch): the two went to the
    /// server on two sessions, which have no order between them, and the server applied the
    /// `focus` last. Focus is where the server says from here on.
    Reordered,
    /// Sent to the tab that has just taken focus by a `focus` while that tab was unsettled:
    /// another tab of the visitor ended since the tab last answered a request, so the server
    /// may have given it focus on its own (a `focused` the `focus` cannot be told from) and
    /// blurred it again when the ended tab came back, all before it saw the `focus`.
    Unsettled,
    /// Not caused by this visitor (e.g. another tab reconnected); nothing to check.
    Unrelated,
}

/// Where the visitor moved focus last, and which tabs must be blurred for its moves.
///
/// Moves can follow each other faster than the server's `blur`s arrive (open a tab, switch
/// straight back), so every move leaves its own expectation until its `blur` comes. A `blur`
/// is due a grace after the server confirmed the move (`focused`, or the new session open):
/// until then the server may not have seen the move, however long it takes. One that comes
/// later still is a latency; one that has not come when the visitor stops (or
/// [`MISSING_AFTER`] past its grace) is missing.
#[derive(Debug, Default)]
pub struct FocusExpectation {
    /// The tab that took focus by the visitor's last action (boxed: every idle visitor keeps
    /// one, and with `contested` beside it a `String` made the visitor 8 bytes larger).
    holder: Option<Box<str>>,
    /// The last move was made while another tab's `focus` was unanswered: a `blur` to the
    /// holder may be the server applying that `focus` after it (see [`BlurVerdict::Reordered`]).
    contested: bool,
    /// The `blur`s still to come, oldest first.
    blurs: Vec<PendingBlur>,
}

/// One move's `blur`, still to come.
#[derive(Debug)]
struct PendingBlur {
    /// The tab that lost focus and must get the `blur`.
    tab: String,
    /// The tab that took focus.
    to: String,
    /// When the change started (what the blur latency is measured from).
    started: Instant,
    /// A grace after the server confirmed the move; `None` until it did.
    due: Option<Instant>,
}

impl PendingBlur {
    /// Missing at `now` when still expected `patience` past its grace.
    fn missing(&self, now: Instant, patience: Duration) -> bool {
        self.due.is_some_and(|due| due + patience < now)
    }
}

impl FocusExpectation {
    /// Focus moves to tab `to`; the tab that loses it is the one this visitor gave focus to
    /// last, or else `focused` (what the server said last). `contested`: another tab's
    /// `focus` is still unanswered, so the server may apply it after this move.
    pub fn moved(&mut self, focused: Option<&str>, to: &str, now: Instant, contested: bool) {
        let from = self.holder.take().or_else(|| focused.map(Box::from));
        if let Some(from) = from.filter(|from| &**from != to) {
            self.blurs.push(PendingBlur {
                tab: from.into(),
                to: to.to_owned(),
                started: now,
                due: None,
            });
        }
        self.holder = Some(to.into());
        self.contested = contested;
    }

    /// The server confirmed that tab `to` has focus (`focused` on it, or its session opened):
    /// the `blur`s of the moves to `to` are due a grace from `now`. Before that the server
    /// may not have seen the move at all (a `focus` stuck behind a stall, a new tab whose
    /// connect outlasts the grace), so nothing can be expected of it.
    pub fn confirmed(&mut self, to: &str, now: Instant, grace: Duration) {
        for blur in self
            .blurs
            .iter_mut()
            .filter(|blur| blur.to == to && blur.due.is_none())
        {
            blur.due = Some(now + grace);
        }
    }

    /// Tab `tab` received `blur`; `unsettled`: see [`BlurVerdict::Unsettled`].
    pub fn blurred(&mut self, tab: &str, unsettled: bool) -> BlurVerdict {
        if let Some(position) = self.blurs.iter().position(|blur| blur.tab == tab) {
            return BlurVerdict::Expected(self.blurs.remove(position).started);
        }
        if self.holder.as_deref() == Some(tab) && std::mem::take(&mut self.contested) {
            // The other tab's `focus` came last: it holds focus now, as its `focused` says.
            self.holder = None;
            return BlurVerdict::Reordered;
        }
        if self.holder.as_deref() == Some(tab) && unsettled {
            return BlurVerdict::Unsettled;
        }
        if self.holder.as_deref() == Some(tab) {
            // The blur meant for another tab went to this one: that one's wait is over too.
            if !self.blurs.is_empty() {
                self.blurs.remove(0);
            }
            return BlurVerdict::Misrouted;
        }
        BlurVerdict::Unrelated
    }

    /// Whether an expected `blur` is still missing `patience` past its grace.
    pub fn any_missing(&self, now: Instant, patience: Duration) -> bool {
        self.blurs.iter().any(|blur| blur.missing(now, patience))
    }

    /// Takes out the expected `blur`s still missing `patience` past their grace: they went
    /// to nobody. Each is counted once.
    pub fn take_missing(&mut self, now: Instant, patience: Duration) -> usize {
        let before = self.blurs.len();
        self.blurs.retain(|blur| !blur.missing(now, patience));
        before - self.blurs.len()
    }

    /// Tab `tab` closed or was lost: nothing about it can be checked any more.
    pub fn forget(&mut self, tab: &str) {
        if self.holder.as_deref() == Some(tab) {
            self.holder = None;
        }
        self.blurs.retain(|blur| blur.tab != tab);
    }
}

/// The newest signal number received from each agent (agents are few: a small vector).
#[derive(Debug, Default)]
pub struct SignalOrder {
    newest: Vec<(u32, u64)>,
}

impl SignalOrder {
    /// Records a first receipt; false when a later signal of the same agent came before it.
    pub fn in_order(&mut self, agent: u32, number: u64) -> bool {
        match self.newest.iter_mut().find(|(known, _)| *known == agent) {
            Some((_, newest)) if *newest > number => false,
            Some((_, newest)) => {
                *newest = number;
                true
            }
            None => {
                self.newest.push((agent, number));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_round_trip() {
        assert_eq!(agent_index(&agent_name(12)), Some(12));
        assert_eq!(agent_index("someone"), None);
    }

    const GRACE: Duration = Duration::from_secs(5);

    #[test]
    fn blur_must_reach_the_tab_that_lost_focus() {
        let now = Instant::now();
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, false);
        focus.confirmed("t2", now, GRACE);
        assert_eq!(focus.blurred("t1", false), BlurVerdict::Expected(now));
        assert_eq!(
            focus.take_missing(now + GRACE * 2, Duration::ZERO),
            0,
            "satisfied"
        );

        focus.moved(Some("t2"), "t1", now, false);
        focus.confirmed("t1", now, GRACE);
        assert_eq!(focus.blurred("t1", false), BlurVerdict::Misrouted);
        assert_eq!(
            focus.take_missing(now + GRACE * 2, Duration::ZERO),
            0,
            "a misrouted blur is counted once"
        );

        focus.moved(None, "t2", now, false);
        focus.confirmed("t2", now, GRACE);
        assert!(!focus.any_missing(now, Duration::ZERO));
        assert!(focus.any_missing(now + GRACE * 2, Duration::ZERO));
        assert_eq!(
            focus.take_missing(now + GRACE * 2, Duration::ZERO),
            1,
            "blur went to nobody"
        );
        assert_eq!(
            focus.take_missing(now + GRACE * 3, Duration::ZERO),
            0,
            "and is counted once"
        );
    }

    #[test]
    fn quick_moves_each_expect_their_blur() {
        let now = Instant::now();
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, false);
        // Straight back to t1, before the server's blur for t1 arrived.
        focus.moved(Some("t1"), "t1", now, false);
        assert_eq!(
            focus.blurred("t1", false),
            BlurVerdict::Expected(now),
            "the blur of the first move"
        );
        assert_eq!(
            focus.blurred("t2", false),
            BlurVerdict::Expected(now),
            "the blur of the second move"
        );
        assert_eq!(focus.take_missing(now + GRACE * 2, Duration::ZERO), 0);
    }

    #[test]
    fn a_late_blur_is_a_latency_until_it_is_missing_past_the_patience() {
        let now = Instant::now();
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, false);
        focus.confirmed("t2", now, GRACE);
        let late = now + GRACE + Duration::from_secs(2);
        assert!(
            !focus.any_missing(late, MISSING_AFTER),
            "while the visitor runs, late is not missing"
        );
        // Back to t1 before the late blur came: it must still be taken for the first move's.
        focus.moved(Some("t2"), "t1", late, false);
        focus.confirmed("t1", late, GRACE);
        assert_eq!(
            focus.blurred("t1", false),
            BlurVerdict::Expected(now),
            "late, to the right tab: a latency"
        );
        assert_eq!(
            focus.take_missing(late + MISSING_AFTER * 2, Duration::ZERO),
            1,
            "the second move's never came"
        );
        focus.moved(Some("t1"), "t2", now, false);
        focus.confirmed("t2", now, GRACE);
        assert_eq!(
            focus.take_missing(now + GRACE + MISSING_AFTER, MISSING_AFTER),
            0
        );
        assert_eq!(
            focus.take_missing(now + GRACE + MISSING_AFTER * 2, MISSING_AFTER),
            1,
            "never came at all"
        );
    }

    #[test]
    fn the_grace_runs_from_the_servers_confirmation_of_the_move() {
        let now = Instant::now();
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, false);
        // `focused` (or t2's new session) came 8 s after the move: the server was stalled,
        // and could not have blurred t1 before.
        assert!(
            !focus.any_missing(now + Duration::from_secs(8), Duration::ZERO),
            "not confirmed: not due"
        );
        let confirmed = now + Duration::from_secs(8);
        focus.confirmed("t2", confirmed, GRACE);
        focus.confirmed("t2", confirmed + GRACE, GRACE);
        assert!(
            !focus.any_missing(confirmed + Duration::from_secs(1), Duration::ZERO),
            "within the grace"
        );
        assert!(
            focus.any_missing(confirmed + GRACE * 2, Duration::ZERO),
            "a later `focused` does not move it"
        );
        assert_eq!(
            focus.blurred("t1", false),
            BlurVerdict::Expected(now),
            "measured from the move"
        );
        focus.moved(Some("t2"), "t3", now, false);
        focus.confirmed("t3", now, GRACE);
        assert_eq!(
            focus.take_missing(now + GRACE * 2, Duration::ZERO),
            1,
            "a blur that never came is still counted"
        );
    }

    #[test]
    fn a_blur_the_server_may_have_sent_before_it_saw_the_move_is_not_misrouted() {
        // t2 was switched to (its `focus` unanswered) when t1, killed, came back: the server
        // applied t1's connect (blurring t2) and then t2's `focus` (blurring t1).
        let now = Instant::now();
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, false);
        focus.forget("t1");
        focus.moved(Some("t2"), "t1", now, true);
        focus.confirmed("t1", now, GRACE);
        assert_eq!(
            focus.blurred("t2", false),
            BlurVerdict::Expected(now),
            "t1's connect blurs t2"
        );
        assert_eq!(
            focus.blurred("t1", false),
            BlurVerdict::Reordered,
            "t2's focus, applied last, blurs t1"
        );
        assert_eq!(focus.take_missing(now + GRACE * 2, Duration::ZERO), 0);
        // From there on focus is where the server says: a move to t1 owes t2 its blur.
        focus.moved(Some("t2"), "t1", now, false);
        assert_eq!(focus.blurred("t2", false), BlurVerdict::Expected(now));
        // A tab unsettled by another's end may have been focused and blurred by the server on
        // its own before it saw the move to it: that blur is not judged, and changes nothing.
        focus.moved(Some("t1"), "t2", now, false);
        assert_eq!(focus.blurred("t2", true), BlurVerdict::Unsettled);
        assert_eq!(
            focus.blurred("t1", false),
            BlurVerdict::Expected(now),
            "the move's own blur still comes"
        );
        // The same blur after an uncontested move to a settled tab is misrouted, once.
        assert_eq!(focus.blurred("t2", false), BlurVerdict::Misrouted);
        assert_eq!(
            focus.blurred("t2", false),
            BlurVerdict::Misrouted,
            "a second wrong blur counts again"
        );
    }

    #[test]
    fn signals_of_one_agent_must_keep_their_order() {
        let mut order = SignalOrder::default();
        assert!(order.in_order(1, 1));
        assert!(order.in_order(2, 7));
        assert!(order.in_order(1, 3));
        assert!(!order.in_order(1, 2));
        assert!(order.in_order(2, 8));
    }
}
