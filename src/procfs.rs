//! This process's CPU time and resident memory, read from /proc (Linux; elsewhere zero).
//!
//! A leaf module shared by both sides: the harness's health monitor reads it once a second,
//! and the reference server exports it as `process_cpu_seconds_total` and
//! `process_resident_memory_bytes`, the names Prometheus client libraries use, so that a soak
//! can judge a server's memory and CPU by the same names whatever it is written in. Like
//! `wire/`, it imports nothing else of the crate.

/// CPU time and resident memory of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User + system CPU seconds since the process started.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads two small files: cheap enough for once a second or once per scrape.
pub fn usage() -> Usage {
    #[cfg(target_os = "linux")]
    {
        Usage {
            cpu_seconds: std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|s| linux::cpu_seconds(&s))
                .unwrap_or(0.0),
            rss_bytes: std::fs::read_to_string("/proc/self/statm")
                .ok()
                .and_then(|s| linux::rss_bytes(&s))
                .unwrap_or(0),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Usage::default()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// utime + stime (fields 14 and 15 of /proc/self/stat, after the parenthesised name).
    pub fn cpu_seconds(stat: &str) -> Option<f64> {
        let after_name = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_name.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        // SAFETY: sysconf only reads a configuration value.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Some((utime + stime) as f64 / if ticks > 0 { ticks as f64 } else { 100.0 })
    }

    /// Resident pages (second field of /proc/self/statm) times the page size.
    pub fn rss_bytes(statm: &str) -> Option<u64> {
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf only reads a configuration value.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages * if page > 0 { page as u64 } else { 4096 })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed() {
        let stat = "1234 (tokio (rt) x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0 100 0 0";
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert_eq!(linux::cpu_seconds(stat), Some(300.0 / ticks));
        assert!(linux::rss_bytes("100 25 3 1 0 20 0").unwrap() >= 25 * 4096);
        assert!(usage().rss_bytes > 0);
    }
}
