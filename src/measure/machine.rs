//! The whole machine's CPU second by second, beside the harness's own (`health`): on a machine
//! the harness shares with the server, or a virtual machine whose host runs others, the harness
//! can lag without being busy itself, and these figures say why. Read from `/proc/stat`; where
//! it is missing (not Linux), there are none.

/// The whole machine's CPU in one second, all processes and cores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineSecond {
    /// Share of the machine's CPU time spent running anything (the server, the harness, ...).
    pub busy: f64,
    /// Share the host kept for itself (steal): time this machine wanted to run and could not.
    pub steal: f64,
}

impl MachineSecond {
    /// The share between two readings of the machine's CPU ticks (`cpu` line of /proc/stat).
    pub fn between(before: &MachineTicks, after: &MachineTicks) -> Option<MachineSecond> {
        let total = after
            .total()
            .checked_sub(before.total())
            .filter(|total| *total > 0)? as f64;
        let idle = after.idle.saturating_sub(before.idle) as f64;
        let steal = after.steal.saturating_sub(before.steal) as f64;
        Some(MachineSecond {
            busy: ((total - idle - steal) / total).max(0.0),
            steal: steal / total,
        })
    }
}

/// The machine's CPU ticks since boot, summed over cores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineTicks {
    /// Running something (user, nice, system, irq, softirq).
    busy: u64,
    /// Idle or waiting for I/O.
    idle: u64,
    steal: u64,
}

impl MachineTicks {
    fn total(&self) -> u64 {
        self.busy + self.idle + self.steal
    }
}

/// The machine's CPU ticks (`cpu` line of /proc/stat); `None` where /proc is not there.
pub fn read() -> Option<MachineTicks> {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| parse(&stat))
}

/// The first line of /proc/stat: `cpu  user nice system idle iowait irq softirq steal ...`
/// (ticks summed over cores; guest time is already inside user and nice).
fn parse(stat: &str) -> Option<MachineTicks> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    Some(MachineTicks {
        busy: user + nice + system + irq + softirq,
        idle: idle + iowait,
        steal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machines_share_of_busy_and_stolen_time_is_read_from_proc_stat() {
        let before = parse("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        let after = parse("cpu  160 10 80 840 50 0 10 50 0 0\ncpu0 1 2 3 4\n").unwrap();
        // 200 ticks: 110 running, 40 idle, 50 stolen by the host.
        assert_eq!(
            MachineSecond::between(&before, &after),
            Some(MachineSecond {
                busy: 0.55,
                steal: 0.25
            })
        );
        assert_eq!(
            MachineSecond::between(&after, &after),
            None,
            "no time passed"
        );
        assert_eq!(parse("intr 1 2 3\n"), None);
        if cfg!(target_os = "linux") {
            assert!(read().is_some(), "this machine has /proc/stat");
        }
    }
}
