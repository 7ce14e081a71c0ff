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

/// What a `blur` that just arrived means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlurVerdict {
    /// The tab that lost focus was told; the focus change started at the given instant.
    Expected(Instant),
    /// Sent to the tab that has just taken focus.
    Misrouted,
    /// Not caused by this visitor (e.g. another tab reconnected); nothing to check.
    Unrelated,
}

/// Where the visitor moved focus last, and which tabs must be blurred for its moves.
///
/// Moves can follow each other faster than the server's `blur`s arrive (open a tab, switch
/// straight back), so every move leaves its own expectation until its `blur` comes.
#[derive(Debug, Default)]
pub struct FocusExpectation {
    /// The tab that took focus by the visitor's last action.
    holder: Option<String>,
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
    /// By when the `blur` must have come.
    due: Instant,
    /// When the change started (what the blur latency is measured from).
    started: Instant,
}

impl FocusExpectation {
    /// Focus moves to tab `to`; the tab that loses it is the one this visitor gave focus to
    /// last, or else `focused` (what the server said last).
    pub fn moved(&mut self, focused: Option<&str>, to: &str, now: Instant, grace: Duration) {
        let from = self.holder.take().or_else(|| focused.map(str::to_owned));
        if let Some(from) = from.filter(|from| from != to) {
            self.blurs.push(PendingBlur { tab: from, to: to.to_owned(), due: now + grace, started: now });
        }
        self.holder = Some(to.to_owned());
    }

    /// Tab `to`, which took focus, has its session open only now (a new tab's connect can
    /// take longer than the grace under load): the server could not blur the other tab before,
    /// nor could the visitor read that `blur` while it was connecting, so the grace of the
    /// moves to `to` runs from `now`.
    pub fn opened(&mut self, to: &str, now: Instant, grace: Duration) {
        for blur in self.blurs.iter_mut().filter(|blur| blur.to == to) {
            blur.due = blur.due.max(now + grace);
        }
    }

    /// Tab `tab` received `blur`.
    pub fn blurred(&mut self, tab: &str) -> BlurVerdict {
        if let Some(position) = self.blurs.iter().position(|blur| blur.tab == tab) {
            return BlurVerdict::Expected(self.blurs.remove(position).started);
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

    /// How many expected `blur`s did not come in time (they went to nobody); each is
    /// counted once.
    pub fn overdue(&mut self, now: Instant) -> usize {
        let before = self.blurs.len();
        self.blurs.retain(|blur| blur.due >= now);
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

    #[test]
    fn blur_must_reach_the_tab_that_lost_focus() {
        let now = Instant::now();
        let grace = Duration::from_secs(1);
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, grace);
        assert_eq!(focus.blurred("t1"), BlurVerdict::Expected(now));
        assert_eq!(focus.overdue(now + grace * 2), 0, "satisfied");

        focus.moved(Some("t2"), "t1", now, grace);
        assert_eq!(focus.blurred("t1"), BlurVerdict::Misrouted);
        assert_eq!(focus.overdue(now + grace * 2), 0, "a misrouted blur is counted once");

        focus.moved(None, "t2", now, grace);
        assert_eq!(focus.overdue(now), 0);
        assert_eq!(focus.overdue(now + grace * 2), 1, "blur went to nobody");
        assert_eq!(focus.overdue(now + grace * 3), 0, "and is counted once");
    }

    #[test]
    fn quick_moves_each_expect_their_blur() {
        let now = Instant::now();
        let grace = Duration::from_secs(1);
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, grace);
        // Straight back to t1, before the server's blur for t1 arrived.
        focus.moved(Some("t1"), "t1", now, grace);
        assert_eq!(focus.blurred("t1"), BlurVerdict::Expected(now), "the blur of the first move");
        assert_eq!(focus.blurred("t2"), BlurVerdict::Expected(now), "the blur of the second move");
        assert_eq!(focus.overdue(now + grace * 2), 0);
    }

    #[test]
    fn a_new_tab_slow_to_connect_has_its_grace_from_when_it_opened() {
        let now = Instant::now();
        let grace = Duration::from_secs(5);
        let mut focus = FocusExpectation::default();
        focus.moved(Some("t1"), "t2", now, grace);
        // t2's connect took 8 s: the blur for t1 could not come before it.
        let open = now + Duration::from_secs(8);
        focus.opened("t2", open, grace);
        assert_eq!(focus.overdue(open + Duration::from_secs(1)), 0, "still within the grace after the open");
        assert_eq!(focus.blurred("t1"), BlurVerdict::Expected(now), "measured from the move");
        focus.moved(Some("t2"), "t3", now, grace);
        focus.opened("t3", now, grace);
        assert_eq!(focus.overdue(now + grace * 2), 1, "a blur that never came is still counted");
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
