//! The directory's copy of each child's placement, from which it answers `/locate` itself.
//!
//! A copy is trusted only while the child's feed delivers ([`super::feed`]) and no admin
//! action's refresh failed; an untrusted copy is dropped, and `/locate` for that child's
//! groups is forwarded to the child as before, so a view that may be stale never answers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::server::placement::{Placement, Snapshot};

/// One slot per child process: its placement, or `None` while it cannot be trusted.
pub struct Views {
    slots: Vec<watch::Sender<Option<Arc<Placement>>>>,
}

impl Views {
    pub fn new(processes: usize) -> Views {
        Views {
            slots: (0..processes).map(|_| watch::Sender::new(None)).collect(),
        }
    }

    /// Child `index`'s placement, if trusted.
    pub fn get(&self, index: usize) -> Option<Arc<Placement>> {
        self.slots.get(index)?.borrow().clone()
    }

    /// Takes `snapshot` as child `index`'s placement, unless the copy is newer already (a
    /// feed line sent before an admin action's refresh can arrive after it).
    pub fn install(&self, index: usize, snapshot: Snapshot) {
        self.replace(index, snapshot, true);
    }

    /// Installs `snapshot` only over a copy still trusted: a placement read after an admin
    /// action must not trust again a copy whose feed broke (nothing would keep it current).
    pub fn refresh(&self, index: usize, snapshot: Snapshot) {
        self.replace(index, snapshot, false);
    }

    fn replace(&self, index: usize, snapshot: Snapshot, over_distrusted: bool) {
        if let Some(slot) = self.slots.get(index) {
            slot.send_if_modified(|current| {
                let newer = match current {
                    Some(current) => current.version() < snapshot.version,
                    None => over_distrusted,
                };
                if newer {
                    *current = Some(Arc::new(Placement::new(snapshot)));
                }
                newer
            });
        }
    }

    /// Drops child `index`'s copy: its `/locate` is forwarded until a snapshot comes again.
    pub fn distrust(&self, index: usize) {
        if let Some(slot) = self.slots.get(index) {
            slot.send_replace(None);
        }
    }

    /// Waits until child `index`'s copy (or its absence) satisfies `condition`.
    pub async fn wait_until(
        &self,
        index: usize,
        condition: impl FnMut(&Option<Arc<Placement>>) -> bool,
    ) {
        if let Some(slot) = self.slots.get(index) {
            // The sender is borrowed by `self`: it cannot be dropped meanwhile.
            let _ = slot.subscribe().wait_for(condition).await;
        }
    }

    /// Waits, for at most `bound`, until every child's copy is in; answers whether they are.
    pub async fn ready(&self, bound: Duration) -> bool {
        let all = async {
            for index in 0..self.slots.len() {
                self.wait_until(index, Option::is_some).await;
            }
        };
        tokio::time::timeout(bound, all).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::locate::Located;

    fn snapshot(version: u64, servers: &[&str]) -> Snapshot {
        let instances = servers.iter().map(|server| Located {
            url: format!("ws://{server}"),
            server: (*server).to_owned(),
        });
        Snapshot {
            version,
            instances: instances.collect(),
        }
    }

    fn servers(views: &Views, index: usize) -> Option<Vec<String>> {
        let placement = views.get(index)?;
        Some(
            placement
                .snapshot()
                .instances
                .iter()
                .map(|instance| instance.server.clone())
                .collect(),
        )
    }

    #[test]
    fn a_late_older_snapshot_does_not_replace_a_newer_one() {
        let views = Views::new(2);
        views.install(1, snapshot(5, &["p1-s1"]));
        views.install(1, snapshot(4, &["p1-s1", "p1-s2"]));
        assert_eq!(servers(&views, 1), Some(vec!["p1-s1".to_owned()]));
        assert_eq!(servers(&views, 0), None, "child 0 sent nothing yet");
    }

    #[test]
    fn a_distrusted_copy_answers_nothing_until_the_next_snapshot() {
        let views = Views::new(1);
        views.install(0, snapshot(2, &["p0-s1"]));
        views.distrust(0);
        assert!(views.get(0).is_none());
        // After a reconnect the feed starts with the version the child is at, whatever it is.
        views.refresh(0, snapshot(3, &["p0-s1"]));
        assert!(
            views.get(0).is_none(),
            "a placement read after an admin action does not trust it again"
        );
        views.install(0, snapshot(2, &["p0-s1"]));
        assert_eq!(servers(&views, 0), Some(vec!["p0-s1".to_owned()]));
        views.refresh(0, snapshot(3, &["p0-s1", "p0-s2"]));
        assert_eq!(
            servers(&views, 0),
            Some(vec!["p0-s1".to_owned(), "p0-s2".to_owned()]),
            "a trusted copy is refreshed"
        );
    }

    #[tokio::test]
    async fn ready_once_every_child_sent_its_placement() {
        let views = Views::new(2);
        views.install(0, snapshot(1, &["p0-s1"]));
        assert!(
            !views.ready(Duration::from_millis(20)).await,
            "child 1 sent nothing"
        );
        views.install(1, snapshot(1, &["p1-s1"]));
        assert!(views.ready(Duration::from_secs(5)).await);
    }
}
