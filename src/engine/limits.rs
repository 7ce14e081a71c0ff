//! The machine's limits as they bear on a run: warn before it starts when the open-file
//! limit cannot hold the planned sockets. (When files or ports did run out, the harness
//! verdict says so: `report::harness`.)

use crate::measure::ErrorKind;
use crate::scenario::{Destination, Plan, Step};
use crate::shard::Shard;

/// File descriptors the harness needs beside its sockets (runtime, logs, discovery).
const SPARE_FILES: u64 = 64;

/// Sockets `visitors` of the plan may hold at their peak, twice over when the embedded
/// cluster holds the server side in this same process. Each visitor picks its behavior by
/// weight, so the count is a sum of random draws: its mean (each behavior's share times the
/// most tabs it opens) plus three standard deviations, never more than every visitor on the
/// most tabs. (Counting every visitor at the most tabs warned of 33,334 sockets per shard of
/// the 100k run, which holds 18,300.)
pub fn peak_sockets(plan: &Plan, visitors: u64) -> u64 {
    let weights: f64 = plan.behaviors.iter().map(|b| f64::from(b.weight)).sum();
    let (mut mean, mut square, mut most) = (0.0, 0.0, 1);
    for behavior in &plan.behaviors {
        let tabs = 1 + open_tabs(&behavior.steps);
        let share = f64::from(behavior.weight) / weights;
        mean += share * tabs as f64;
        square += share * (tabs * tabs) as f64;
        most = most.max(tabs);
    }
    let n = visitors as f64;
    let likely_most = (n * mean + 3.0 * (n * (square - mean * mean).max(0.0)).sqrt()).ceil() as u64;
    let sides = if matches!(plan.target.destination, Destination::Embedded(_)) {
        2
    } else {
        1
    };
    likely_most.min(visitors * most) * sides
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
    let peak = peak_sockets(plan, shard.share(u64::from(plan.load.peak_visitors())));
    let needed = peak + SPARE_FILES;
    (needed > open_file_limit).then(|| {
        format!(
            "the plan may hold {peak} sockets at its peak but this process may open only \
             {open_file_limit} files: expect `{}` errors (raise `ulimit -n`, or split the load: \
             `run --processes`)",
            ErrorKind::OpenFileLimit
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(steps: &str, target: &str) -> Plan {
        let yaml = format!(
            "name: t\ntarget: {target}\nduration: 10s\n\
             load: {{ stages: [{{ to: 1000, over: 1s }}] }}\n\
             behaviors:\n  - {{ name: a, steps: [connect] }}\n  - {{ name: b, steps: {steps} }}\n"
        );
        crate::scenario::from_str(&yaml, "t.yaml").unwrap()
    }

    #[test]
    fn the_peak_counts_tabs_and_the_embedded_server_side() {
        // Half of 1,000 visitors on 1 tab, half on 3: 2,000 on average, standard deviation
        // sqrt(1,000 * 1) = 31.6, so 2,095 at most but by a 3-sigma draw.
        let external = plan(
            "[connect, open_tab, { repeat: { times: 2, steps: [open_tab] } }]",
            "{ url: 'http://127.0.0.1:1' }",
        );
        assert_eq!(peak_sockets(&external, 1000), 2095);
        assert_eq!(
            peak_sockets(&external, 1),
            3,
            "never more than every visitor on the most tabs"
        );
        assert_eq!(
            peak_sockets(&plan("[connect]", "{ embedded: {} }"), 1000),
            2000
        );
        assert!(open_file_warning(&external, Shard::WHOLE, 2100)
            .unwrap()
            .contains("2095 sockets"));
        assert_eq!(open_file_warning(&external, Shard::WHOLE, 2200), None);
        assert_eq!(
            open_file_warning(&external, Shard { index: 0, count: 2 }, 2100),
            None,
            "half each"
        );
    }
}
