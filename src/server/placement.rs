//! What `/locate` answers from: the instances that accept visitors and the ring over them.
//!
//! A cluster builds a new [`Placement`] on every change of its accepting instances and
//! answers its own `/locate` from it. The directory of a partitioned server keeps a copy of
//! each child's, sent as a [`Snapshot`] (`/admin/placement`), and answers from that copy with
//! this same code: the two cannot pick differently for one visitor.

use serde::{Deserialize, Serialize};

use super::ring::Ring;
use crate::wire::locate::Located;

/// A placement as it travels: the accepting instances in ring order, and a version that
/// grows with every change, so that a copy can tell a newer snapshot from a late old one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    /// Live, non-draining instances, oldest first.
    pub instances: Vec<Located>,
}

/// A snapshot with its ring built.
#[derive(Debug, Default)]
pub struct Placement {
    snapshot: Snapshot,
    ring: Ring,
}

impl Placement {
    pub fn new(snapshot: Snapshot) -> Placement {
        let ring = Ring::new(
            snapshot
                .instances
                .iter()
                .map(|instance| instance.server.as_str()),
        );
        Placement { snapshot, ring }
    }

    pub fn version(&self) -> u64 {
        self.snapshot.version
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The instance `visitor` belongs to, by consistent hashing on the visitor id; `None`
    /// when no instance accepts visitors.
    pub fn locate(&self, visitor: &str) -> Option<&Located> {
        self.snapshot.instances.get(self.ring.pick(visitor)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(server: &str) -> Located {
        Located {
            url: format!("ws://{server}/presence"),
            server: server.to_owned(),
        }
    }

    #[test]
    fn a_copy_made_from_the_snapshot_places_every_visitor_alike() {
        let original = Placement::new(Snapshot {
            version: 3,
            instances: ["s1", "s2", "s3"].map(instance).into(),
        });
        let text = serde_json::to_string(original.snapshot()).unwrap();
        let copy = Placement::new(serde_json::from_str(&text).unwrap());
        assert_eq!(copy.version(), 3);
        for i in 0..500 {
            let visitor = format!("v{i}");
            assert_eq!(copy.locate(&visitor), original.locate(&visitor));
        }
    }

    #[test]
    fn nobody_is_placed_without_an_instance() {
        assert_eq!(Placement::default().locate("v"), None);
    }
}
