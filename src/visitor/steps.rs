//! The step interpreter: what each scenario step does on the wire, and which latency it
//! records. Scheduled steps (the first step of a `repeat every` iteration) are timed from
//! their intended start, so a stalled server shows up as latency (coordinated omission);
//! the visitor's own waits (holds, think time, pacing) are tallied so that lateness they
//! caused is not charged to the server (`measure::next_intended`). Every request also
//! records its service time, from the actual send.

use std::time::{Duration, Instant};

use super::request::request;
use super::runner::{Interrupt, Visitor, WaitMode};
use super::tab::LastPresence;
use crate::checks::visitor_side::MISSING_AFTER;
use crate::checks::MARKER_KEY;
use crate::measure::{charged_start, next_intended, ErrorKind, Metric};
use crate::scenario::{DataTemplate, PageTemplate, Repeat, Repetitions, Step, TemplateContext};
use crate::wire::{ClientMessage, ServerMessage};

/// Runs `steps` in order. A step that times out or loses its session is counted and the
/// visitor goes on with the next; only the end of the run stops it.
pub(super) async fn run_steps(
    v: &mut Visitor<'_>,
    steps: &[Step],
    intended: Option<Instant>,
) -> Result<(), Interrupt> {
    let mut own = Duration::ZERO;
    run_list(v, steps, intended, &mut own).await
}

/// [`run_steps`], adding to `own` the nominal length of every wait the scenario asked for
/// (holds, `await_signal`, the pacing of inner loops): time that is the visitor's, not the
/// server's. `intended` is when `steps` should have started: their first step that is not a
/// wait is timed from it plus the waits before it, less the timer's rounding
/// (`charged_start`).
async fn run_list(
    v: &mut Visitor<'_>,
    steps: &[Step],
    intended: Option<Instant>,
    own: &mut Duration,
) -> Result<(), Interrupt> {
    let mut intended = intended;
    for step in steps {
        v.check_missing_blurs(MISSING_AFTER).await;
        let waited_before = *own;
        // The scenario's own waits do not use up the intended start: they move it, so a
        // request after a hold is still timed from when it should have gone out.
        let at = match step {
            Step::Hold(_) | Step::AwaitSignal { .. } => None,
            _ => intended.take().map(|at| charged_start(at, Instant::now())),
        };
        match run_step(v, step, at, own).await {
            Ok(()) | Err(Interrupt::Timeout) | Err(Interrupt::TabLost { .. }) => {}
            Err(Interrupt::Cancelled) => return Err(Interrupt::Cancelled),
        }
        intended = intended.map(|at| at + (*own - waited_before));
    }
    Ok(())
}

async fn run_step(
    v: &mut Visitor<'_>,
    step: &Step,
    intended: Option<Instant>,
    own: &mut Duration,
) -> Result<(), Interrupt> {
    match step {
        Step::Connect => connect(v, false).await,
        Step::ConnectUnique => connect(v, true).await,
        Step::Extend => {
            let Some(i) = current_tab(v) else {
                return Ok(());
            };
            timed(
                v,
                i,
                &ClientMessage::Extend,
                intended,
                Metric::Extend,
                |m| matches!(m, ServerMessage::Extended { .. }),
            )
            .await
        }
        Step::Presence(presence) => {
            send_presence(v, presence.page.as_ref(), &presence.data, intended).await
        }
        Step::Navigate(navigation) => {
            if let Some(i) = current_tab(v) {
                let tab_id = v.tabs[i].id.clone();
                let unique = v.tabs[i].unique;
                v.close_tab(i).await;
                let opened = v.open_tab(tab_id, unique).await?;
                v.current = opened;
            }
            send_presence(v, Some(&navigation.page), &navigation.data, intended).await
        }
        Step::OpenTab => {
            let tab_id = v.next_tab_id();
            v.focus_moves_to(&tab_id);
            let unique = v.tabs.first().is_some_and(|t| t.unique);
            v.current = v.open_tab(tab_id.clone(), unique).await?;
            v.focus_confirmed(&tab_id);
            Ok(())
        }
        Step::SwitchTab => {
            if v.tabs.len() < 2 {
                return Ok(());
            }
            let next = (v.current + 1) % v.tabs.len();
            v.current = next;
            let to = v.tabs[next].id.clone();
            v.focus_moves_to(&to);
            v.tabs[next].focus_unanswered = true;
            let answered = timed(
                v,
                next,
                &ClientMessage::Focus,
                intended,
                Metric::Focus,
                |m| matches!(m, ServerMessage::Focused { .. }),
            )
            .await;
            // The tab may have been lost and dropped meanwhile: find it by its id.
            if let Some(tab) = v.tabs.iter_mut().find(|tab| tab.id == to) {
                tab.focus_unanswered = false;
            }
            answered
        }
        Step::CloseTab => {
            if let Some(i) = current_tab(v) {
                v.close_tab(i).await;
            }
            Ok(())
        }
        Step::SetVisitorId(id) => {
            v.close_all().await;
            v.id = match id {
                Some(template) => {
                    let context = TemplateContext {
                        visitor: &v.id,
                        tab: "",
                        seq: 0,
                        index: v.index,
                    };
                    template.render(&context, &mut v.rng)
                }
                None => super::random_id(v.index, &mut v.rng),
            };
            connect(v, false).await
        }
        Step::Disconnect => {
            v.close_all().await;
            Ok(())
        }
        Step::Hold(think) => {
            let pause = think.sample(&mut v.rng);
            // Nominal: a hold that wakes late because the harness was busy is the harness's
            // lateness, which is charged.
            *own += pause;
            v.idle_until(Instant::now() + pause).await
        }
        Step::Repeat(repetition) => Box::pin(repeat(v, repetition, own)).await,
        Step::AwaitSignal { timeout } => {
            let started = Instant::now();
            let waited = await_signal(v, *timeout).await;
            // Waiting for an agent's signal is the scenario's choice, however long it took.
            *own += started.elapsed();
            waited
        }
    }
}

/// Opens the first tab (if none is open).
async fn connect(v: &mut Visitor<'_>, unique: bool) -> Result<(), Interrupt> {
    if v.tabs.is_empty() {
        let tab_id = v.next_tab_id();
        v.current = v.open_tab(tab_id, unique).await?;
    }
    Ok(())
}

fn current_tab(v: &Visitor<'_>) -> Option<usize> {
    if v.tabs.is_empty() {
        v.ctx.recorder.error(ErrorKind::StepWithoutSession);
        None
    } else {
        Some(v.current)
    }
}

/// A timed request of a step: from its intended start, or from now.
async fn timed(
    v: &mut Visitor<'_>,
    i: usize,
    message: &ClientMessage,
    intended: Option<Instant>,
    metric: Metric,
    is_reply: impl Fn(&ServerMessage) -> bool,
) -> Result<(), Interrupt> {
    // Boxed: a request's wait is the largest state a visitor passes through, and inlined it
    // would size every visitor's future, idle ones included, for it.
    Box::pin(request(
        v,
        i,
        message,
        intended.unwrap_or_else(Instant::now),
        Some(metric),
        WaitMode::Normal,
        is_reply,
    ))
    .await
}

async fn send_presence(
    v: &mut Visitor<'_>,
    page: Option<&PageTemplate>,
    data: &DataTemplate,
    intended: Option<Instant>,
) -> Result<(), Interrupt> {
    let Some(i) = current_tab(v) else {
        return Ok(());
    };
    let seq = v.next_seq(i);
    let context = TemplateContext {
        visitor: &v.id,
        tab: &v.tabs[i].id,
        seq,
        index: v.index,
    };
    let page = page.map(|page| page.render(&context, &mut v.rng));
    let mut data = (!data.is_empty()).then(|| data.render(&context, &mut v.rng));
    let marker = v.ctx.presence_markers.then(|| {
        v.next_marker += 1;
        data.get_or_insert_with(Default::default)
            .insert(MARKER_KEY.to_owned(), v.next_marker.into());
        v.ctx
            .ledger
            .presence_sent(&v.id, v.next_marker, intended.unwrap_or_else(Instant::now));
        v.next_marker
    });
    let last = v.tabs[i]
        .last_presence
        .get_or_insert_with(LastPresence::default);
    if page.is_some() {
        last.page = page.clone();
    }
    if let Some(data) = &data {
        last.data
            .get_or_insert_with(Default::default)
            .extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let message = ClientMessage::Presence { seq, data, page };
    timed(
        v,
        i,
        &message,
        intended,
        Metric::PresenceAck,
        |m| matches!(m, ServerMessage::PresenceAck { seq: s } if *s == seq),
    )
    .await?;
    if let Some(marker) = marker {
        v.ctx.ledger.presence_acked(&v.id, marker, Instant::now());
    }
    Ok(())
}

/// Runs a `repeat`. With `every`, iteration n+1 is due at its slot on the schedule, or, when
/// the visitor's own waits in iteration n overran that slot, when they ended: the schedule
/// then slips, and neither the slip nor a catch-up burst after it is charged to the server
/// (`measure::next_intended`).
async fn repeat(
    v: &mut Visitor<'_>,
    repetition: &Repeat,
    own: &mut Duration,
) -> Result<(), Interrupt> {
    let mut slot = Instant::now();
    let mut intended = None;
    let mut done = 0;
    while match repetition.times {
        Repetitions::Times(times) => done < times,
        Repetitions::UntilEnd => true,
    } {
        done += 1;
        let begun = intended.unwrap_or_else(Instant::now);
        let mut body_own = Duration::ZERO;
        let ran = run_list(v, &repetition.steps, intended, &mut body_own).await;
        *own += body_own;
        ran?;
        if let Some(every) = &repetition.every {
            slot += every.sample(&mut v.rng);
            let ended = Instant::now();
            slot = next_intended(begun, body_own, ended, slot);
            *own += slot.saturating_duration_since(ended);
            v.idle_until(slot).await?;
            intended = Some(slot);
        }
    }
    Ok(())
}

async fn await_signal(v: &mut Visitor<'_>, timeout: Duration) -> Result<(), Interrupt> {
    let started = Instant::now();
    let found = v
        .wait_for(None, started + timeout, |m| {
            matches!(
                m,
                ServerMessage::Signal { .. } | ServerMessage::Invoke { .. }
            )
            .then_some(())
        })
        .await;
    match found {
        Ok(()) => {
            v.ctx.recorder.since(Metric::SignalWait, started);
            Ok(())
        }
        Err(Interrupt::Timeout) => {
            v.ctx.recorder.error(ErrorKind::SignalTimeout);
            Ok(())
        }
        Err(other) => Err(other),
    }
}
