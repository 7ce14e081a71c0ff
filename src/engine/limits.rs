//! The machine's limits as they bear on a run: warn before it starts when the open-file
//! limit cannot hold the planned sockets. (When files or ports did run out, the harness
//! verdict says so: `report::harness`.)

use super::shard::Shard;
use crate::measure::ErrorKind;
use crate::scenario::{Destination, Plan, Step};

/// File descriptors the harness needs beside its sockets (runtime, logs, discovery).
const SPARE_FILES: u64 = 64;

/// Sockets the plan may hold at its peak: visitors times the most tabs a behavior opens,
/// twice over when the embedded cluster holds the server side in this same process.
pub fn peak_sockets(plan: &Plan) -> u64 {
    let tabs = plan.behaviors.iter().map(|b| 1 + open_tabs(&b.steps)).max().unwrap_or(1);
    let sides = if matches!(plan.target.destination, Destination::Embedded(_)) { 2 } else { 1 };
    u64::from(plan.load.peak_visitors()) * tabs * sides
}

/// `open_tab` steps anywhere in `steps` (each counted once, even inside a repeat).
fn open_tabs(steps: &[Step]) -> u64 {
    steps
        .iter()
        .map(|step| match step {
            Step::OpenTab => 1,
            Step::Repeat(repeat) => open_tabs(&repeat.steps),
            _ => 0,
        })
        .sum()
}

/// A warning when `open_file_limit` is too low for `shard`'s part of the plan's peak.
pub fn open_file_warning(plan: &Plan, shard: Shard, open_file_limit: u64) -> Option<String> {
    let peak = shard.share(peak_sockets(plan));
    let needed = peak + SPARE_FILES;
    (needed > open_file_limit).then(|| {
        format!(
            "the plan may hold {peak} sockets at its peak but this process may open only {open_file_limit} files: \
             expect `{}` errors (raise `ulimit -n`, or split the load: `run --processes`)",
            ErrorKind::OpenFileLimit
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(steps: &str, target: &str) -> Plan {
        let yaml = format!(
            "name: t\ntarget: {target}\nduration: 10s\nload: {{ stages: [{{ to: 1000, over: 1s }}] }}\n\
             behaviors:\n  - {{ name: a, steps: [connect] }}\n  - {{ name: b, steps: {steps} }}\n"
        );
        crate::scenario::from_str(&yaml, "t.yaml").unwrap()
    }

    #[test]
    fn the_peak_counts_tabs_and_the_embedded_server_side() {
        let external =
            plan("[connect, open_tab, { repeat: { times: 2, steps: [open_tab] } }]", "{ url: 'http://127.0.0.1:1' }");
        assert_eq!(peak_sockets(&external), 3000);
        assert_eq!(peak_sockets(&plan("[connect]", "{ embedded: {} }")), 2000);
        assert!(open_file_warning(&external, Shard::WHOLE, 3000).unwrap().contains("3000 sockets"));
        assert_eq!(open_file_warning(&external, Shard::WHOLE, 4000), None);
        assert_eq!(open_file_warning(&external, Shard { index: 0, count: 2 }, 3000), None, "half each");
    }
}
