//! Unique ids: no two live unique connections hold the same one, and each is six digits.

use super::Ledger;
use crate::measure::Check;

impl Ledger {
    /// Visitor number `holder` was assigned unique `id`.
    pub fn unique_assigned(&self, id: &str, holder: u64) {
        if !(id.len() == 6 && id.bytes().all(|b| b.is_ascii_digit())) {
            self.recorder.violation(Check::UniqueMalformed);
        }
        let mut state = self.lock();
        if let Some(previous) = state.uniques.insert(id.to_owned(), holder) {
            if previous != holder {
                self.recorder.violation(Check::UniqueCollisions);
            }
        }
    }

    /// Visitor number `holder` no longer holds unique `id`.
    pub fn unique_released(&self, id: &str, holder: u64) {
        let mut state = self.lock();
        if state.uniques.get(id) == Some(&holder) {
            state.uniques.remove(id);
        }
    }
}
