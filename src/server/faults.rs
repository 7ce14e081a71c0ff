//! FAULT SWITCHES: deliberate protocol violations, off by default, so the harness's checks
//! can be shown to catch them. Every place that applies one calls into this file, so a
//! reader can find all of them from here.

use rand::Rng;

use super::settings::Settings;

/// Which faults are switched on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Fraction (0 to 1) of signals and invokes reported as sent but silently dropped.
    drop_signals: f64,
    /// `blur` goes to the tab that takes focus instead of the one that loses it.
    blur_focused: bool,
    /// A unique id that a live unique connection holds is handed out again.
    duplicate_unique: bool,
    /// Kept signals are replayed newest first on `connect`.
    reorder_signals: bool,
}

impl Faults {
    pub fn from_settings(settings: &Settings) -> Self {
        Faults {
            drop_signals: settings.fault_drop_signals.clamp(0.0, 1.0),
            blur_focused: settings.fault_blur_focused,
            duplicate_unique: settings.fault_duplicate_unique,
            reorder_signals: settings.fault_reorder_signals,
        }
    }

    /// FAULT drop_signals: true when this signal/invoke should vanish.
    pub fn drop_signal(&self, rng: &mut impl Rng) -> bool {
        self.drop_signals > 0.0 && rng.random_bool(self.drop_signals)
    }

    /// FAULT blur_focused: the session that receives `blur`, given the one that lost focus
    /// and the one that gained it.
    pub fn blur_target<'a, T>(&self, lost: &'a T, gained: &'a T) -> &'a T {
        if self.blur_focused {
            gained
        } else {
            lost
        }
    }

    /// FAULT duplicate_unique: true when a held unique id should be handed out again.
    pub fn duplicate_unique(&self) -> bool {
        self.duplicate_unique
    }

    /// FAULT reorder_signals: true when kept signals are replayed newest first.
    pub fn reorder_signals(&self) -> bool {
        self.reorder_signals
    }
}
