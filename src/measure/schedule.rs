//! Timing scheduled actions from intent (the coordinated-omission correction), charging the
//! server, and a late harness, for lateness they caused, and never the scenario's own waits.
//! docs/reports.md ("How lateness is charged") explains the rule with examples.
//!
//! Every rule here is continuous: a sample's latency never jumps because some lateness
//! crossed a threshold (the old rule forgave up to 2 ms of lateness and charged all of it
//! beyond, so 1.9 ms and 2.1 ms of lateness differed by 2 ms in the result).

use std::time::{Duration, Instant};

/// The timer's resolution: tokio rounds every sleep up to its 1 ms wheel, so a timer that
/// fires on time wakes 0 to 1 ms after its deadline.
pub const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// The instant a scheduled action's latency is measured from, when it was due at `scheduled`
/// and went out at `now`. The first [`TIMER_RESOLUTION`] of lateness is the timer's rounding
/// and is forgiven; every bit beyond is charged (a visitor or agent held up by a slow reply,
/// or a harness too busy to run its timers). Continuous: one more microsecond of lateness
/// adds at most one microsecond to the latency.
pub fn charged_start(scheduled: Instant, now: Instant) -> Instant {
    scheduled
        + now
            .saturating_duration_since(scheduled)
            .min(TIMER_RESOLUTION)
}

/// When the next iteration of a paced loop (`repeat: { every }`) is intended to start.
///
/// - `intended`: when the iteration that just ended was intended to start;
/// - `own`: how long that iteration spent on the visitor's own waits (holds, think time,
///   pacing of inner loops), at their nominal lengths;
/// - `ended`: when it actually ended;
/// - `slot`: when the schedule has the next iteration start.
///
/// Had every reply been instant, the visitor would have been ready at `intended + own`. If
/// that is before `slot`, any lateness is the server's (or the harness's) and is charged:
/// the next iteration is timed from `slot`. If the visitor's own waits alone overran the
/// slot, by `overrun`, the schedule has slipped and the slip is the scenario's: the loop is
/// then closed (send, wait, hold, send) and the reply waits on the way (`owed`, already
/// charged to the requests that waited) are charged again only for the part that exceeds
/// the overrun. So the charge shrinks from all of `owed` (no overrun) to nothing (an
/// overrun at least as long as `owed`) one microsecond per microsecond: no cliff, and a
/// loop whose holds exceed its period reports the server's latency, not its own holds.
pub fn next_intended(intended: Instant, own: Duration, ended: Instant, slot: Instant) -> Instant {
    let ready = intended + own;
    let overrun = ready.saturating_duration_since(slot);
    let owed = ended.saturating_duration_since(ready);
    let charged = owed.saturating_sub(overrun);
    slot.max(ended - charged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn timer_rounding_is_forgiven_and_lateness_beyond_it_is_charged() {
        let scheduled = Instant::now();
        let on_time = scheduled + us(900);
        assert_eq!(charged_start(scheduled, on_time), on_time);
        let stalled = scheduled + ms(500);
        assert_eq!(stalled - charged_start(scheduled, stalled), ms(499));
        assert_eq!(
            charged_start(scheduled, scheduled - ms(1)),
            scheduled,
            "early is not late"
        );
    }

    #[test]
    fn charged_lateness_has_no_cliff() {
        // Just below, at and just above every lateness that matters (the old 2 ms slack, the
        // 1 ms resolution): one more microsecond of lateness is at most one more charged.
        let scheduled = Instant::now();
        for around in [us(1000), us(2000), ms(10)] {
            let mut previous = None;
            for late in (around.as_micros() as u64 - 3)..=(around.as_micros() as u64 + 3) {
                let now = scheduled + us(late);
                let charged = now - charged_start(scheduled, now);
                if let Some(previous) = previous {
                    assert!(
                        charged >= previous && charged - previous <= us(1),
                        "{late}us: {charged:?} after {previous:?}"
                    );
                }
                previous = Some(charged);
            }
        }
    }

    #[test]
    fn a_loop_whose_holds_fit_charges_every_delay_the_server_caused() {
        // every 500ms, [presence, hold 100ms]; the presence stalls 2 s: the next iteration
        // is still timed from its slot, so the stall shows in it too.
        let start = Instant::now();
        let next = next_intended(start, ms(100), start + ms(2100), start + ms(500));
        assert_eq!(next, start + ms(500));
        // A hold that started late because of a 300 ms reply and ended after the slot.
        let next = next_intended(start, ms(400), start + ms(700), start + ms(500));
        assert_eq!(next, start + ms(500));
    }

    #[test]
    fn a_loop_whose_holds_overrun_its_period_is_not_charged_for_them() {
        // every 500ms, [presence, hold 1s], replies in 100 us: the next send is intended when
        // the hold ends, not at the slot 500 ms earlier.
        let start = Instant::now();
        let ended = start + ms(1000) + us(100);
        assert_eq!(
            next_intended(start, ms(1000), ended, start + ms(500)),
            ended
        );
        // The same with 20 ms replies: in a slipped loop the reply wait (charged to its own
        // request) is not charged again to the next one.
        let ended = start + ms(1020);
        assert_eq!(
            next_intended(start, ms(1000), ended, start + ms(500)),
            ended
        );
    }

    #[test]
    fn the_charge_shrinks_continuously_with_the_overrun() {
        // 20 ms of reply waits; the visitor's own waits end from 20 ms before the slot (the
        // replies make it late) to 40 ms after it (a slip longer than the replies).
        let start = Instant::now();
        let slot = start + ms(500);
        let mut previous: Option<Duration> = None;
        for own_us in (480_000..=540_000).step_by(250) {
            let own = us(own_us);
            let ended = start + own + ms(20);
            let charged = ended.saturating_duration_since(next_intended(start, own, ended, slot));
            let overrun = (start + own).saturating_duration_since(slot);
            let late = ended.saturating_duration_since(slot);
            assert_eq!(
                charged,
                late.min(ms(20).saturating_sub(overrun)),
                "own {own:?}"
            );
            if let Some(previous) = previous {
                assert!(
                    previous.abs_diff(charged) <= us(250),
                    "a step at own {own:?}"
                );
            }
            previous = Some(charged);
        }
    }
}
