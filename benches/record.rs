//! The recording hot path: what one latency sample, one counter increment and counting one
//! request as waiting cost.
//! Figures go in BENCHMARKS.md ("Recording a sample").

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use presence_bench::measure::attribution::sync_as_behavior;
use presence_bench::measure::{Counter, Metric, Recorder};

fn record(c: &mut Criterion) {
    let recorder = Recorder::with_behaviors(vec!["browser".into(), "mobile".into()]);
    c.bench_function("record latency", |b| {
        let mut micros = 0u64;
        b.iter(|| {
            micros = (micros + 37) % 50_000;
            recorder.latency(
                black_box(Metric::PresenceAck),
                Duration::from_micros(micros),
            );
        })
    });
    // What a visitor's sample costs: the same, from inside its behavior (kept per behavior).
    sync_as_behavior(1, || {
        c.bench_function("record latency (behavior)", |b| {
            let mut micros = 0u64;
            b.iter(|| {
                micros = (micros + 37) % 50_000;
                recorder.latency(
                    black_box(Metric::PresenceAck),
                    Duration::from_micros(micros),
                );
            })
        })
    });
    // What a request's reply costs: latency from intent and service time from the send,
    // under one lane lock, with the clock read it needs; beside it, the latency alone with
    // the same clock read (what a reply cost before service times were recorded).
    let sent = Instant::now();
    let intended = sent - Duration::from_millis(3);
    c.bench_function("record reply", |b| {
        b.iter(|| recorder.reply(black_box(Metric::PresenceAck), intended, sent))
    });
    c.bench_function("record since", |b| {
        b.iter(|| recorder.since(black_box(Metric::PresenceAck), intended))
    });
    c.bench_function("record counter", |b| {
        b.iter(|| recorder.count(black_box(Counter::MessagesSent), 1))
    });
    // Every request is counted as waiting from its send to its end (the live `waiting` figure).
    c.bench_function("request waiting", |b| {
        b.iter(|| drop(black_box(recorder.waiting())))
    });
}

criterion_group!(benches, record);
criterion_main!(benches);
