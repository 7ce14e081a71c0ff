//! The load driver: keeps the number of live visitors on the closed model's stages, or
//! starts visitors at the open model's arrival rate, until the run's end.
//!
//! The closed model always runs for the whole `duration` (the run's length, as the progress
//! line and the report show it): after the last stage its level holds until the end, even
//! when that level is 0 (validation refuses stages that end at 0 before `duration`). Only the
//! open model may end early: once arrivals are over and every visitor has left.
//!
//! In the closed model a visitor that finishes its behavior is replaced by a new one (the
//! slot starts another iteration, as k6's ramping VUs do); ramping down cancels the newest
//! visitors first. In the open model every arrival runs its behavior once.
//!
//! A shard (see `crate::shard`) keeps its stripe of the global figures: its share of the
//! level and of the arrivals, numbered with global visitor indices.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::steer::Steering;
use crate::scenario::Load;
use crate::shard::Shard;
use crate::visitor::{Closing, END_SETTLE};

/// How often the driver adjusts the visitor count.
const TICK: Duration = Duration::from_millis(10);
/// How long the closing waits for visitors to settle: a stopped visitor's request gets
/// `END_SETTLE` for its reply, so this is only reached by visitors blocked on a server that
/// stopped reading; they close when they get there.
const SETTLE_BOUND: Duration = END_SETTLE.saturating_mul(2);

/// What the driver did, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DriveStats {
    /// Visitors started.
    pub started: u64,
    /// Open model: arrivals not started because `max_visitors` were alive.
    pub arrivals_dropped: u64,
}

/// Runs visitors as `load` says until `until`, `stop`, or (open model) arrivals are over and
/// every visitor has left; then ends the run in two steps (see [`Closing`]): stops the rest
/// and waits (at most [`SETTLE_BOUND`]) until each has settled or left, then lets them close
/// and waits up to `grace` for that, so a run lasts `until` plus its settling and closing.
/// `spawn_visitor` gets global visitor indices: those of `shard`'s stripe.
///
/// With `steering`, the level (closed model) or the arrival rate (open model) is the
/// steering's, set while the run goes, and the run ends when the steering finishes (or at
/// `until`, whichever is first); the open model's `max_visitors` still caps it.
pub async fn drive<F, Fut>(
    load: &Load,
    shard: Shard,
    (until, grace): (Duration, Duration),
    (stop, closing, steering): (&CancellationToken, &Closing, Option<&Steering>),
    spawn_visitor: F,
) -> DriveStats
where
    F: Fn(u64, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Tokio's clock (the system's, but for tests on paused time, which see exact instants).
    let start = tokio::time::Instant::now();
    let mut tasks: JoinSet<u64> = JoinSet::new();
    // Live visitors that were not asked to stop, by index (newest last).
    let mut live: BTreeMap<u64, CancellationToken> = BTreeMap::new();
    let mut stats = DriveStats::default();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let steered_done =
        steering.map_or_else(CancellationToken::new, |steering| steering.done().clone());
    // Open model under steering: arrivals due so far, at the rates set over time.
    let (mut steered_due, mut last_elapsed) = (0.0_f64, Duration::ZERO);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = steered_done.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let elapsed = start.elapsed();
        if elapsed >= until {
            break;
        }
        while let Some(done) = tasks.try_join_next() {
            if let Ok(index) = done {
                live.remove(&index);
            }
        }
        let wanted = match (load, steering) {
            (Load::Stages(_), Some(steering)) => {
                shard.share(steering.level().round().max(0.0) as u64) as usize
            }
            (Load::Stages(_), None) => visitors_wanted(load, elapsed, shard),
            (
                Load::ArrivalRate {
                    per_second,
                    max_visitors,
                    for_,
                },
                steering,
            ) => {
                let due = match steering {
                    Some(steering) => {
                        steered_due +=
                            steering.level().max(0.0) * (elapsed - last_elapsed).as_secs_f64();
                        shard.share(steered_due as u64)
                    }
                    None => arrivals_due(*per_second, *for_, elapsed, shard),
                };
                let new = due.saturating_sub(stats.started + stats.arrivals_dropped);
                let cap = shard.share(u64::from(*max_visitors)) as usize;
                let room = cap.saturating_sub(live.len()) as u64;
                stats.arrivals_dropped += new.saturating_sub(room);
                live.len() + new.min(room) as usize
            }
        };
        last_elapsed = elapsed;
        while live.len() > wanted {
            if let Some((_, token)) = live.pop_last() {
                token.cancel();
            }
        }
        if wanted == 0 && tasks.is_empty() && steering.is_none() && arrivals_over(load, elapsed) {
            break;
        }
        while live.len() < wanted {
            let index = shard.global(stats.started);
            stats.started += 1;
            // Not a child of `stop`: the driver stops its visitors itself, after the closing began.
            let token = CancellationToken::new();
            // Boxed before it is wrapped: an async block that awaits a captured future keeps
            // room for it twice (the capture and the pinned awaitee), doubling every task.
            let visitor = Box::pin(spawn_visitor(index, token.clone()));
            tasks.spawn(async move {
                visitor.await;
                index
            });
            live.insert(index, token);
        }
    }
    closing.begin();
    for token in live.values() {
        token.cancel();
    }
    let unsettled = tasks.len();
    let settling = async {
        let mut left = 0;
        while closing.settled_count() + left < unsettled {
            tokio::select! {
                Some(_) = tasks.join_next() => left += 1,
                () = closing.arrival() => {}
            }
        }
    };
    if tokio::time::timeout(SETTLE_BOUND, settling).await.is_err() {
        tracing::warn!(
            settled = closing.settled_count(),
            unsettled,
            "visitors did not settle in time; closing anyway"
        );
    }
    closing.close();
    if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = tasks.len(),
            "visitors did not close within the grace period; aborting them"
        );
        tasks.shutdown().await;
    }
    stats
}

/// Closed model: how many visitors `shard` keeps alive `elapsed` into the run.
pub(crate) fn visitors_wanted(load: &Load, elapsed: Duration, shard: Shard) -> usize {
    shard.share(u64::from(load.target_at(elapsed).unwrap_or(0))) as usize
}

/// Open model: how many of `shard`'s arrivals are due `elapsed` into the run. Arrival `i` of
/// the one global sequence is due at `i / per_second`, whichever shard runs it.
pub(crate) fn arrivals_due(
    per_second: f64,
    for_: Duration,
    elapsed: Duration,
    shard: Shard,
) -> u64 {
    let arrival_time = elapsed.min(for_).as_secs_f64();
    shard.share((arrival_time * per_second) as u64)
}

/// True when the open model starts no more visitors from `elapsed` on; the run then ends
/// early, once its visitors left. Never for the closed model, which runs to the end.
fn arrivals_over(load: &Load, elapsed: Duration) -> bool {
    matches!(load, Load::ArrivalRate { for_, .. } if elapsed >= *for_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Stage;
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant as Clock;

    /// When each visitor (by index) started and, once told to, left: on the paused clock.
    type Lives = Arc<Mutex<BTreeMap<u64, (Duration, Option<Duration>)>>>;

    /// A visitor that notes its life in `lives`, from `t0`, and stays until told to leave.
    fn noted(
        lives: &Lives,
        t0: Clock,
    ) -> impl Fn(u64, CancellationToken) -> futures_util::future::BoxFuture<'static, ()> {
        let lives = lives.clone();
        move |index, cancel| {
            let lives = lives.clone();
            Box::pin(async move {
                lives.lock().unwrap().insert(index, (t0.elapsed(), None));
                cancel.cancelled().await;
                lives
                    .lock()
                    .unwrap()
                    .entry(index)
                    .and_modify(|life| life.1 = Some(t0.elapsed()));
            })
        }
    }

    fn alive(lives: &Lives) -> Vec<u64> {
        lives
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (_, left))| left.is_none())
            .map(|(index, _)| *index)
            .collect()
    }

    /// The closed model on paused time: the level follows the stages at each instant, ramping
    /// down cancels the newest visitors, and the run ends exactly at `until`.
    #[tokio::test(start_paused = true)]
    async fn the_closed_model_holds_each_level_at_its_instant() {
        let ms = Duration::from_millis;
        let load = Load::Stages(vec![
            Stage {
                from: 0,
                to: 10,
                over: ms(1000),
            },
            Stage {
                from: 10,
                to: 10,
                over: ms(1000),
            },
            Stage {
                from: 10,
                to: 0,
                over: ms(1000),
            },
        ]);
        let (lives, t0) = (Lives::default(), Clock::now());
        let stop = CancellationToken::new();
        let spawn = noted(&lives, t0);
        let driving = tokio::spawn(async move {
            drive(
                &load,
                Shard::WHOLE,
                (ms(3000), ms(100)),
                (&stop, &Closing::default(), None),
                spawn,
            )
            .await
        });
        for (at, level) in [(305, 3), (1005, 10), (1995, 10), (2505, 5), (2995, 0)] {
            tokio::time::sleep_until(t0 + ms(at)).await;
            let expected: Vec<u64> = (0..level).collect();
            assert_eq!(alive(&lives), expected, "at {at} ms: the oldest {level}");
        }
        let stats = driving.await.unwrap();
        assert_eq!(
            t0.elapsed(),
            ms(3000),
            "the run ends at its end, not a tick later"
        );
        assert_eq!(
            stats,
            DriveStats {
                started: 10,
                arrivals_dropped: 0
            }
        );
        let lives = lives.lock().unwrap();
        assert!(
            lives[&9].0 >= ms(900) && lives[&9].0 < ms(1000),
            "the 10th joins on the ramp: {:?}",
            lives[&9]
        );
        let left = lives[&9].1.expect("the 10th left");
        assert!(
            left >= ms(2050) && left <= ms(2060),
            "and leaves first, when the level rounds to 9: {left:?}"
        );
    }

    /// The open model on paused time: arrival i comes at i/rate, at most `max_visitors` live.
    #[tokio::test(start_paused = true)]
    async fn the_open_model_starts_each_arrival_at_its_instant_and_drops_over_the_cap() {
        let ms = Duration::from_millis;
        let load = Load::ArrivalRate {
            per_second: 10.0,
            max_visitors: 4,
            for_: ms(1000),
        };
        let (lives, t0) = (Lives::default(), Clock::now());
        let stop = CancellationToken::new();
        let spawn = noted(&lives, t0);
        let stopping = stop.clone();
        let driving = tokio::spawn(async move {
            drive(
                &load,
                Shard::WHOLE,
                (ms(5000), ms(100)),
                (&stopping, &Closing::default(), None),
                spawn,
            )
            .await
        });
        tokio::time::sleep_until(t0 + ms(1500)).await;
        let started: Vec<Duration> = lives.lock().unwrap().values().map(|(at, _)| *at).collect();
        assert_eq!(
            started,
            [ms(100), ms(200), ms(300), ms(400)],
            "one every 100 ms, then the cap"
        );
        stop.cancel();
        let stats = driving.await.unwrap();
        assert_eq!(
            stats,
            DriveStats {
                started: 4,
                arrivals_dropped: 6
            }
        );
    }

    /// When each visitor (by index) closed, on the paused clock; a visitor told to stop
    /// settles after `settle_ms[index]` (its last reply, or never: `None`), then closes.
    fn settling(
        closed: &Lives,
        closing: &Arc<Closing>,
        settle_ms: &'static [Option<u64>],
        t0: Clock,
    ) -> impl Fn(u64, CancellationToken) -> futures_util::future::BoxFuture<'static, ()> {
        let (closed, closing) = (closed.clone(), closing.clone());
        move |index, cancel| {
            let (closed, closing) = (closed.clone(), closing.clone());
            Box::pin(async move {
                cancel.cancelled().await;
                let Some(settle) = settle_ms[index as usize] else {
                    return std::future::pending().await;
                };
                tokio::time::sleep(Duration::from_millis(settle)).await;
                closing.settled().await;
                closed.lock().unwrap().insert(index, (t0.elapsed(), None));
            })
        }
    }

    /// The end of a run: nobody closes before every stopped visitor settled (the slowest
    /// after 700 ms); the health monitor's token turns then, not before.
    #[tokio::test(start_paused = true)]
    async fn at_the_end_visitors_close_together_once_all_settled() {
        let ms = Duration::from_millis;
        let load = Load::Stages(vec![Stage {
            from: 3,
            to: 3,
            over: ms(1000),
        }]);
        let (closed, closing, t0) = (Lives::default(), Arc::new(Closing::default()), Clock::now());
        let spawn = settling(&closed, &closing, &[Some(0), Some(700), Some(10)], t0);
        let token = closing.token();
        let watching = tokio::spawn(async move {
            token.cancelled().await;
            t0.elapsed()
        });
        drive(
            &load,
            Shard::WHOLE,
            (ms(1000), ms(100)),
            (&CancellationToken::new(), &closing, None),
            spawn,
        )
        .await;
        let closed: Vec<Duration> = closed.lock().unwrap().values().map(|(at, _)| *at).collect();
        assert_eq!(
            closed,
            [ms(1700); 3],
            "all three closed when the last settled"
        );
        assert_eq!(watching.await.unwrap(), ms(1700));
    }

    /// A visitor that never settles (blocked on a server that stopped reading) holds the
    /// closing back only for `SETTLE_BOUND`.
    #[tokio::test(start_paused = true)]
    async fn a_visitor_that_never_settles_delays_the_closing_only_so_long() {
        let ms = Duration::from_millis;
        let load = Load::Stages(vec![Stage {
            from: 2,
            to: 2,
            over: ms(1000),
        }]);
        let (closed, closing, t0) = (Lives::default(), Arc::new(Closing::default()), Clock::now());
        let spawn = settling(&closed, &closing, &[Some(0), None], t0);
        drive(
            &load,
            Shard::WHOLE,
            (ms(1000), ms(100)),
            (&CancellationToken::new(), &closing, None),
            spawn,
        )
        .await;
        let closed: Vec<(u64, Duration)> = closed
            .lock()
            .unwrap()
            .iter()
            .map(|(i, (at, _))| (*i, *at))
            .collect();
        assert_eq!(closed, [(0, ms(1000) + SETTLE_BOUND)]);
    }

    /// Ramping down is not the end: the visitor let go closes at once, not at the run's end.
    #[tokio::test(start_paused = true)]
    async fn a_visitor_let_go_by_a_ramp_down_closes_at_once() {
        let ms = Duration::from_millis;
        let load = Load::Stages(vec![
            Stage {
                from: 2,
                to: 2,
                over: ms(500),
            },
            Stage {
                from: 1,
                to: 1,
                over: ms(500),
            },
        ]);
        let (closed, closing, t0) = (Lives::default(), Arc::new(Closing::default()), Clock::now());
        let spawn = settling(&closed, &closing, &[Some(0), Some(0)], t0);
        drive(
            &load,
            Shard::WHOLE,
            (ms(1000), ms(100)),
            (&CancellationToken::new(), &closing, None),
            spawn,
        )
        .await;
        let closed = closed.lock().unwrap();
        assert!(
            closed[&1].0 >= ms(500) && closed[&1].0 < ms(520),
            "let go on the ramp: {:?}",
            closed[&1]
        );
        assert_eq!(closed[&0].0, ms(1000), "the other at the end");
    }

    /// `load` driven in the background under a steering that starts at `level`, for an hour
    /// or until the steering finishes: its steer, and the drive.
    fn steered(
        load: Load,
        level: f64,
        spawn: impl Fn(u64, CancellationToken) -> futures_util::future::BoxFuture<'static, ()>
            + Send
            + 'static,
    ) -> (
        crate::engine::steer::Steer,
        tokio::task::JoinHandle<DriveStats>,
    ) {
        let (steer, steering) = crate::engine::steer::steer(level);
        let driving = tokio::spawn(async move {
            let stopping = (
                &CancellationToken::new(),
                &Closing::default(),
                Some(&steering),
            );
            drive(
                &load,
                Shard::WHOLE,
                (Duration::from_secs(3600), Duration::from_millis(100)),
                stopping,
                spawn,
            )
            .await
        });
        (steer, driving)
    }

    /// Under steering, the closed model follows the level as it is set, keeping the oldest
    /// visitors on a step down, and the run ends when the steering finishes, not at `until`.
    #[tokio::test(start_paused = true)]
    async fn a_steered_closed_model_follows_the_level_and_ends_when_steering_finishes() {
        let ms = Duration::from_millis;
        let load = Load::Stages(vec![Stage {
            from: 1,
            to: 1,
            over: ms(1000),
        }]);
        let (lives, t0) = (Lives::default(), Clock::now());
        let (steer, driving) = steered(load, 6.0, noted(&lives, t0));
        tokio::time::sleep_until(t0 + ms(500)).await;
        assert_eq!(alive(&lives), (0..6).collect::<Vec<u64>>());
        steer.set(2.0, Duration::ZERO);
        tokio::time::sleep_until(t0 + ms(1000)).await;
        assert_eq!(alive(&lives), [0, 1], "the oldest stay connected");
        steer.set(12.0, ms(1000));
        tokio::time::sleep_until(t0 + ms(1505)).await;
        assert_eq!(alive(&lives).len(), 7, "half way up a ramp of one second");
        tokio::time::sleep_until(t0 + ms(2100)).await;
        assert_eq!(alive(&lives).len(), 12, "at its top");
        steer.finish();
        let stats = driving.await.unwrap();
        assert!(
            t0.elapsed() < ms(2200),
            "ended by the steering: {:?}",
            t0.elapsed()
        );
        assert_eq!(stats.started, 16, "6, then 10 more on the ramp");
    }

    /// Under steering, the open model's arrivals follow the rate set over time.
    #[tokio::test(start_paused = true)]
    async fn a_steered_open_model_starts_arrivals_at_the_rates_set() {
        let ms = Duration::from_millis;
        let load = Load::ArrivalRate {
            per_second: 1.0,
            max_visitors: 1000,
            for_: ms(1),
        };
        let (lives, t0) = (Lives::default(), Clock::now());
        let (steer, driving) = steered(load, 10.0, noted(&lives, t0));
        tokio::time::sleep_until(t0 + ms(1000)).await;
        steer.set(40.0, Duration::ZERO);
        tokio::time::sleep_until(t0 + ms(2005)).await;
        steer.finish();
        let stats = driving.await.unwrap();
        assert!(
            (49..=51).contains(&stats.started),
            "10 in the first second, 40 in the next: {stats:?}"
        );
    }

    /// A visitor that stays until it is told to leave.
    async fn stay(cancel: CancellationToken) {
        cancel.cancelled().await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_closed_model_runs_until_the_end_even_after_its_stages() {
        let ms = Duration::from_millis;
        // Up to 2 visitors and back to 0 within 100 ms, in a run of 400 ms.
        let load = Load::Stages(vec![
            Stage {
                from: 0,
                to: 2,
                over: ms(50),
            },
            Stage {
                from: 2,
                to: 0,
                over: ms(50),
            },
        ]);
        let start = Clock::now();
        let stats = drive(
            &load,
            Shard::WHOLE,
            (ms(400), ms(100)),
            (&CancellationToken::new(), &Closing::default(), None),
            |_, cancel| stay(cancel),
        )
        .await;
        assert!(
            start.elapsed() >= ms(400),
            "the run ended after {:?}",
            start.elapsed()
        );
        assert!(stats.started >= 1, "{stats:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_open_model_ends_once_arrivals_are_over_and_visitors_left() {
        let ms = Duration::from_millis;
        let load = Load::ArrivalRate {
            per_second: 100.0,
            max_visitors: 10,
            for_: ms(50),
        };
        let start = Clock::now();
        let stats = drive(
            &load,
            Shard::WHOLE,
            (Duration::from_secs(30), ms(100)),
            (&CancellationToken::new(), &Closing::default(), None),
            |_, _| async {},
        )
        .await;
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run lasted {:?}",
            start.elapsed()
        );
        assert!(stats.started >= 1, "{stats:?}");
    }
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod shard_tests;
