//! Upper bounds on every count and rate a scenario sets, chosen so that a run this size fits
//! one harness process on an ordinary machine (a few cores, a few GiB). Beyond them a run does
//! not measure the server, it exhausts the harness: starting 4,294,967,295 instances or
//! agents spins or allocates until the process dies, with no report. `validate` and `run`
//! refuse larger values with the field's location; docs/scenarios.md lists the bounds.

/// Visitors alive at once (`stages[].to`, `arrival_rate.max_visitors`): about 5 KiB each in
/// the harness, so 10 million is ~50 GiB, past any single machine already; the socket limit
/// (one per tab) binds far earlier, see docs/scenarios.md.
pub const MAX_VISITORS: u32 = 10_000_000;

/// Agent sessions (`agents.count`): each is a task, a socket and a watch list.
pub const MAX_AGENTS: u32 = 100_000;

/// Events per second of one rate (`arrival_rate.rate`, `agents.signals.rate`,
/// `agents.invokes.rate`): a loopback harness sends a few hundred thousand messages a second
/// at best; more only queues.
pub const MAX_RATE_PER_SECOND: f64 = 1_000_000.0;

/// Nesting depth of `repeat`s: deeper is a generated file gone wrong, and reading stops there
/// instead of recursing on.
pub const MAX_NESTING: usize = 16;

/// Bytes of a scenario file: the largest example is a few KiB; a file of many MiB is generated
/// and gone wrong (a 2 GiB one took 7 minutes to be refused for its nesting).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Checks a rate against [`MAX_RATE_PER_SECOND`]; the message names the bound.
pub(crate) fn check_rate(per_second: f64) -> Result<(), String> {
    if per_second > MAX_RATE_PER_SECOND {
        return Err(format!(
            "expected a rate of at most {MAX_RATE_PER_SECOND}/s, found {per_second}/s"
        ));
    }
    Ok(())
}
