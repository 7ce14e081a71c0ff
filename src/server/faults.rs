//! FAULT SWITCHES: deliberate protocol violations, off by default, so the harness's checks
//! can be shown to catch them. Every place that applies one calls into this file, so a
//! reader can find all of them from here.

use std::time::{Duration, Instant};

use rand::Rng;

use super::settings::Settings;
use super::state::{Outgoing, SessionHandle};

/// Which faults are switched on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Fraction (0 to 1) of signals and invokes reported as sent but silently dropped.
    drop_signals: f64,
    /// `blur` goes to the tab that takes focus instead of the one that loses it.
    blur_focused: bool,
    /// `blur` is sent this long after the focus change (zero: at once).
    blur_delay: Duration,
    /// A unique id that a live unique connection holds is handed out again.
    duplicate_unique: bool,
    /// Kept signals are replayed newest first on `connect`.
    reorder_signals: bool,
    /// Signals go to a tab without focus when the visitor has one.
    signal_unfocused: bool,
    /// Unique ids have five digits.
    malformed_unique: bool,
    /// Watchers' presence events carry empty `data`.
    stale_presence: bool,
    /// Open sessions past which acks slow down (0: off), and by how much per session over.
    overload_sessions: u64,
    overload_delay: Duration,
    /// Bytes kept for good every time a visitor comes online.
    leak_per_visitor: usize,
}

impl Faults {
    pub fn from_settings(settings: &Settings) -> Self {
        Faults {
            drop_signals: settings.fault_drop_signals.clamp(0.0, 1.0),
            blur_focused: settings.fault_blur_focused,
            blur_delay: settings.fault_blur_delay,
            duplicate_unique: settings.fault_duplicate_unique,
            reorder_signals: settings.fault_reorder_signals,
            signal_unfocused: settings.fault_signal_unfocused,
            malformed_unique: settings.fault_malformed_unique,
            stale_presence: settings.fault_stale_presence,
            overload_sessions: settings.fault_overload_sessions,
            overload_delay: settings.fault_overload_delay,
            leak_per_visitor: settings.fault_leak_per_visitor,
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

    /// FAULT blur_delay: sends `blur` to `session`, at once or after the delay. The delayed
    /// push runs in a task of its own, since the caller holds the state lock; it lasts no
    /// longer than the delay or the session (which ends with the cluster), whichever is first.
    pub fn send_blur(&self, session: &SessionHandle, blur: Outgoing) {
        if self.blur_delay.is_zero() {
            return session.push(blur);
        }
        let (session, delay) = (session.clone(), self.blur_delay);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(delay) => session.push(blur),
                () = session.ended() => {}
            }
        });
    }

    /// FAULT duplicate_unique: true when a held unique id should be handed out again.
    pub fn duplicate_unique(&self) -> bool {
        self.duplicate_unique
    }

    /// FAULT reorder_signals: true when kept signals are replayed newest first.
    pub fn reorder_signals(&self) -> bool {
        self.reorder_signals
    }

    /// FAULT signal_unfocused: the tab a signal goes to, given the focused one and the others.
    pub fn signal_target<'a, T>(
        &self,
        focused: Option<&'a T>,
        mut others: impl Iterator<Item = &'a T>,
    ) -> Option<&'a T> {
        if self.signal_unfocused {
            others.next().or(focused)
        } else {
            focused
        }
    }

    /// FAULT malformed_unique: how a claimed unique number is written.
    pub fn unique_id(&self, number: u32) -> String {
        if self.malformed_unique {
            format!("{:05}", number % 100_000)
        } else {
            format!("{number:06}")
        }
    }

    /// FAULT stale_presence: true when watchers' events lose their `data`.
    pub fn stale_presence(&self) -> bool {
        self.stale_presence
    }

    /// FAULT overload: the delay added to a `presence_ack` with `open` sessions in the
    /// cluster: none up to `fault_overload_sessions`, then `fault_overload_delay` per session
    /// over it. A knee at a load known in advance, so a capacity search can be checked
    /// against it (its answer for a p99 bound B is about `sessions + B / delay`).
    pub fn overload_ack_delay(&self, open: u64) -> Duration {
        if self.overload_sessions == 0 || open <= self.overload_sessions {
            return Duration::ZERO;
        }
        let over = u32::try_from(open - self.overload_sessions).unwrap_or(u32::MAX);
        self.overload_delay.saturating_mul(over)
    }

    /// FAULT leak_per_visitor: a visitor came online (its first open tab); its bytes go into
    /// `leaked` and stay there for the life of the cluster. Written, not only allocated, so
    /// that they count in the process's resident memory.
    pub fn leak(&self, leaked: &mut Vec<Box<[u8]>>) {
        if self.leak_per_visitor > 0 {
            leaked.push(vec![0x5a; self.leak_per_visitor].into_boxed_slice());
        }
    }
}

/// FAULT cpu_per_message: keeps this thread busy for `cost` (nothing when zero), as a server
/// that does more work per message would. A busy loop, not a sleep: a sleep would yield the
/// core and land on the timer's millisecond granularity, while a slower server holds its core.
pub fn spend_cpu(cost: Duration) {
    if cost.is_zero() {
        return;
    }
    let start = Instant::now();
    while start.elapsed() < cost {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overload_delay_grows_past_its_session_count_only() {
        let ms = Duration::from_millis;
        let settings = Settings {
            fault_overload_sessions: 100,
            fault_overload_delay: ms(2),
            ..Settings::default()
        };
        let faults = Faults::from_settings(&settings);
        assert_eq!(faults.overload_ack_delay(100), Duration::ZERO);
        assert_eq!(faults.overload_ack_delay(101), ms(2));
        assert_eq!(faults.overload_ack_delay(125), ms(50));
        assert_eq!(
            Faults::default().overload_ack_delay(1_000_000),
            Duration::ZERO,
            "off by default"
        );
    }

    /// CPU time this thread has used so far.
    fn thread_cpu_time() -> Duration {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec for the call to fill in.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        assert_eq!(rc, 0, "clock_gettime");
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    #[test]
    fn spending_cpu_keeps_the_thread_busy_rather_than_asleep() {
        let before = thread_cpu_time();
        spend_cpu(Duration::from_millis(20));
        // On a busy machine the thread may be preempted for part of the 20 ms; a sleep would
        // use next to none.
        let used = thread_cpu_time() - before;
        assert!(used >= Duration::from_millis(5), "used {used:?} of CPU");
        let before = thread_cpu_time();
        spend_cpu(Duration::ZERO);
        assert!(thread_cpu_time() - before < Duration::from_millis(5));
    }
}
