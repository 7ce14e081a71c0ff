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

/// Where the visitor moved focus last, and which tab must be blurred for it.
#[derive(Debug, Default)]
pub struct FocusExpectation {
    /// The tab that took focus by the visitor's last action.
    holder: Option<String>,
    /// (tab that must get `blur`, by when, when the change started).
    blur: Option<(String, Instant, Instant)>,
}

impl FocusExpectation {
    /// Focus moved from tab `from` (if another tab had it) to tab `to`.
    pub fn moved(&mut self, from: Option<&str>, to: &str, now: Instant, grace: Duration) {
        self.holder = Some(to.to_owned());
        self.blur = from.filter(|from| *from != to).map(|from| (from.to_owned(), now + grace, now));
    }

    /// Tab `tab` received `blur`.
    pub fn blurred(&mut self, tab: &str) -> BlurVerdict {
        if self.holder.as_deref() == Some(tab) {
            self.blur = None;
            return BlurVerdict::Misrouted;
        }
        match self.blur.take() {
            Some((expected, _, started)) if expected == tab => BlurVerdict::Expected(started),
            other => {
                self.blur = other;
                BlurVerdict::Unrelated
            }
        }
    }

    /// True once: when the expected `blur` did not come in time (it went to nobody).
    pub fn overdue(&mut self, now: Instant) -> bool {
        let late = self.blur.as_ref().is_some_and(|(_, due, _)| *due < now);
        if late {
            self.blur = None;
        }
        late
    }

    /// Tab `tab` closed or was lost: nothing about it can be checked any more.
    pub fn forget(&mut self, tab: &str) {
        if self.holder.as_deref() == Some(tab) {
            self.holder = None;
        }
        if self.blur.as_ref().is_some_and(|(expected, _, _)| expected == tab) {
            self.blur = None;
        }
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
        assert!(!focus.overdue(now + grace * 2), "satisfied");

        focus.moved(Some("t2"), "t1", now, grace);
        assert_eq!(focus.blurred("t1"), BlurVerdict::Misrouted);
        assert!(!focus.overdue(now + grace * 2), "a misrouted blur is counted once");

        focus.moved(Some("t1"), "t2", now, grace);
        assert!(!focus.overdue(now));
        assert!(focus.overdue(now + grace * 2), "blur went to nobody");
        assert!(!focus.overdue(now + grace * 3), "and is counted once");
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
