//! The server's resources in the table: one line per server process, after the harness's.

use std::fmt::Write;

use crate::measure::server_resources::WHOLE;
use crate::schema::ServerResources;

const MIB: f64 = 1_048_576.0;

/// `server: cpu p99 0.42 s/s (mean 0.31, max 0.50), memory 61.0 -> 88.4 MiB (max 90.1), slope
/// 210.3 MiB/h from 180 s` (`server process 1: ...` per process of a partitioned server), or
/// why there is nothing to show.
pub fn render(resources: &ServerResources) -> String {
    let mut out = String::new();
    if resources.processes.is_empty() {
        let _ = writeln!(
            out,
            "server: no process_* series scraped from {} ({} scrapes failed)",
            resources.url, resources.failed
        );
        return out;
    }
    for (process, figures) in &resources.processes {
        let cpu = figures.cpu.map_or_else(
            || "cpu not measured".to_owned(),
            |cpu| {
                format!(
                    "cpu p99 {:.2} s/s (mean {:.2}, max {:.2})",
                    cpu.p99, cpu.mean, cpu.max
                )
            },
        );
        let memory = &figures.memory;
        let slope = memory.slope_bytes_per_hour.map_or_else(
            || "slope not measured (too few samples in the steady part)".to_owned(),
            |slope| {
                format!(
                    "slope {:.1} MiB/h from {:.0} s",
                    slope / MIB,
                    resources.steady_from_s
                )
            },
        );
        let name = if process == WHOLE {
            "server".to_owned()
        } else {
            format!("server process {process}")
        };
        let _ = writeln!(
            out,
            "{name}: {cpu}, memory {:.1} -> {:.1} MiB (max {:.1}), {slope}",
            memory.steady_first_bytes as f64 / MIB,
            memory.last_bytes as f64 / MIB,
            memory.max_bytes as f64 / MIB,
        );
    }
    out
}
