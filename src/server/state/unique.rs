//! Six-digit unique ids (`connect_unique`): no two live unique connections share one.

use rand::Rng;

use super::Shared;

/// Ids run from `000000` to `999999`.
const ID_SPACE: u32 = 1_000_000;
/// Random draws before falling back to a scan; only a nearly full space gets that far.
const RANDOM_TRIES: usize = 32;

impl Shared {
    /// Claims an id no live unique connection holds; `None` when all of them are taken.
    pub fn claim_unique(&self) -> Option<String> {
        let mut state = self.lock();
        let state = &mut *state;
        if self.faults.duplicate_unique() {
            if let Some((held, holders)) = state.uniques.iter_mut().next() {
                *holders += 1;
                return Some(held.clone());
            }
        }
        if state.uniques.len() >= ID_SPACE as usize {
            return None;
        }
        let start = state.rng.random_range(0..ID_SPACE);
        let candidates = (0..RANDOM_TRIES)
            .map(|_| state.rng.random_range(0..ID_SPACE))
            .chain((0..ID_SPACE).map(|offset| (start + offset) % ID_SPACE));
        for candidate in candidates {
            let id = self.faults.unique_id(candidate);
            if !state.uniques.contains_key(&id) {
                state.uniques.insert(id.clone(), 1);
                return Some(id);
            }
        }
        None
    }

    /// The unique connection holding `id` ended.
    pub fn release_unique(&self, id: &str) {
        let mut state = self.lock();
        if let Some(holders) = state.uniques.get_mut(id) {
            *holders -= 1;
            if *holders == 0 {
                state.uniques.remove(id);
            }
        }
    }
}
