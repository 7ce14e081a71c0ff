//! Pins what one idle visitor costs in the harness, so that it cannot grow back silently:
//! the visitor task's future (boxed once per visitor, the largest state it can be in), a
//! tab, and the connection inside it. BENCHMARKS.md ("Where an idle visitor's memory goes")
//! breaks the whole 4 KiB down; these are the parts this crate's own types decide.
//!
//! A bound that fails names the size found: if a change needs the room, raise the bound in
//! the same commit and say why there, with the RSS it costs at 19,000 visitors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::tab::Tab;
use super::VisitorContext;
use crate::checks::Ledger;
use crate::client::discovery::Discovery;
use crate::client::{ConnectOptions, Connection, Endpoint};
use crate::drill::Drills;
use crate::measure::Recorder;
use crate::session::Opener;

/// The visitor task's future, boxed per visitor: 2,928 bytes before session opening, closing,
/// requests and signal acks were boxed out of it, 1,232 after (what is left is mostly the
/// idle wait: its timer, the cancellation future and the visitor itself); 1,312 once the
/// per-behavior attribution wrapped it in a task-local scope (its slot and key: 80 bytes,
/// 1.5 MB at 19,000 visitors). As `async fn`s, `visitor::run` and `as_behavior` (now `as_visitor`)
/// each kept a second copy of the whole state (2,648 bytes): they return their futures instead.
/// 1,336 since the run's end waits at `Closing::settled` before the tabs close (24 bytes, 456 KB at
/// 19,000 visitors).
const VISITOR_FUTURE_MAX: usize = 1344;
/// A tab, held per open session: 568 bytes, of which the connection is 368.
const TAB_MAX: usize = 576;

fn context() -> VisitorContext {
    context_at("ws://127.0.0.1:9/presence", "[ connect ]")
}

/// A visitor's context for one instance at `url` (no discovery), its behavior's `steps`
/// written in YAML flow style; shared with the visitor's other unit tests.
pub(super) fn context_at(url: &str, steps: &str) -> VisitorContext {
    let text = format!(
        "name: t\nduration: 1s\ntarget: {{ url: '{url}' }}\n\
         load: {{ stages: [ {{ hold: 1s }} ] }}\nbehaviors: [ {{ name: b, steps: {steps} }} ]\n"
    );
    let plan = crate::scenario::from_str(&text, "footprint.yaml").expect("a valid scenario");
    let recorder = Recorder::new();
    let endpoint = Endpoint::parse(url).expect("a valid URL");
    let opener = Opener {
        discovery: Discovery::Instance(endpoint),
        options: ConnectOptions::default(),
        group: "1".into(),
        recorder: recorder.clone(),
        reply_timeout: Duration::from_secs(1),
    };
    VisitorContext {
        backoff: plan.reconnect,
        plan: Arc::new(plan),
        opener: Arc::new(opener),
        ledger: Arc::new(Ledger::new(recorder.clone(), Duration::from_secs(1))),
        drills: Drills::new(None, recorder.clone(), Instant::now()),
        recorder,
        source_ips: Vec::new(),
        presence_markers: false,
        heartbeat_timeout: None,
        closing: Default::default(),
    }
}

#[test]
fn an_idle_visitors_future_stays_small() {
    let visitor = super::run(Arc::new(context()), 0, CancellationToken::new());
    let size = std::mem::size_of_val(&visitor);
    assert!(
        size <= VISITOR_FUTURE_MAX,
        "the visitor future is {size} bytes, over {VISITOR_FUTURE_MAX}"
    );
}

#[test]
fn a_tab_and_its_connection_stay_small() {
    let tab = std::mem::size_of::<Tab>();
    assert!(tab <= TAB_MAX, "a tab is {tab} bytes, over {TAB_MAX}");
    let connection = std::mem::size_of::<Connection>();
    assert!(connection < tab, "a connection is {connection} bytes");
}
