//! The machine's limits as they bear on a run: warn before it starts when the open-file
//! limit cannot hold the planned sockets, and say afterwards when files or ports ran out.

use std::collections::BTreeMap;

use crate::protocol::client::{EPHEMERAL_PORTS, OPEN_FILE_LIMIT};
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

/// A warning when `open_file_limit` is too low for the plan's peak.
pub fn open_file_warning(plan: &Plan, open_file_limit: u64) -> Option<String> {
    let needed = peak_sockets(plan) + SPARE_FILES;
    (needed > open_file_limit).then(|| {
        format!(
            "the plan may hold {} sockets at its peak but this process may open only {open_file_limit} files: \
             expect `{OPEN_FILE_LIMIT}` errors (raise `ulimit -n`, or split the load over several processes)",
            peak_sockets(plan)
        )
    })
}

/// One plain sentence when the machine's limits, not the server, refused connections.
pub fn capped_note(errors: &BTreeMap<&'static str, u64>) -> Option<String> {
    let files = errors.get(OPEN_FILE_LIMIT).copied().unwrap_or(0);
    let ports = errors.get(EPHEMERAL_PORTS).copied().unwrap_or(0);
    let reason = match (files, ports) {
        (0, 0) => return None,
        (files, 0) => format!("the open-file limit ({files} connections refused)"),
        (0, ports) => format!("the ephemeral ports ({ports} connections refused; try target.source_ips)"),
        (files, ports) => {
            format!("the open-file limit ({files} connections refused) and the ephemeral ports ({ports} refused)")
        }
    };
    Some(format!("This run was capped by this machine's limits, not by the server: {reason}."))
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
        assert!(open_file_warning(&external, 3000).unwrap().contains("3000 sockets"));
        assert_eq!(open_file_warning(&external, 4000), None);
    }

    #[test]
    fn a_capped_run_says_so_in_one_sentence() {
        let mut errors = BTreeMap::new();
        assert_eq!(capped_note(&errors), None);
        errors.insert("timeout", 3);
        assert_eq!(capped_note(&errors), None);
        errors.insert(OPEN_FILE_LIMIT, 5);
        let note = capped_note(&errors).unwrap();
        assert!(note.contains("open-file limit (5 connections refused)"), "{note}");
        errors.insert(EPHEMERAL_PORTS, 2);
        assert!(capped_note(&errors).unwrap().contains("ephemeral ports (2 refused)"));
    }
}
