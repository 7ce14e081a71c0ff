//! The process's heap (glibc malloc), set up so that what was freed goes back to the system:
//! a memory gauge that never falls cannot tell a leak from a process that let go (issue 28;
//! BENCHMARKS.md "Soak: churn"). The server sets its heap up with all three functions; the
//! harness only trims (`measure::health`), every [`HARNESS_TRIM_EVERY`].
//!
//! Three glibc behaviours kept freed memory resident once a churn had left and every visitor
//! was forgotten (`malloc_info` and `/proc/PID/smaps` of an idle `serve`, 2026-12-07):
//!
//! - Each thread that meets contention gets an arena of its own, and `malloc_trim` gives back
//!   the free pages inside every arena but never the top chunk of a thread's arena, only the
//!   main arena's. In a run with the thread cache off, one worker's arena kept 17.4 MiB
//!   resident for 3.5 KB in use, and `malloc_trim` called by hand changed nothing. With one
//!   arena for the process its top is trimmed like the rest.
//! - Nothing trimmed once the server was idle (see `state::sweep`, which now does).
//! - Each thread's cache (tcache: up to 7 freed chunks of each size up to 1 KiB) is memory in
//!   use to the arena, scattered over the heap the peak had grown, and each cached chunk keeps
//!   its page resident. After a 2-minute churn with one arena and the trim, the anonymous
//!   memory stayed 1.9 MiB over its cold 0.7 MiB with the cache, and came back to it (0.70
//!   MiB) without. glibc lets a program turn the cache off only through the environment it
//!   starts with, so `serve` starts itself again with it ([`without_thread_cache`]).
//!
//! The price: every allocation takes the one arena's lock. Over a 4-minute churn beside the
//! old build, the server used 0.062 CPU s/s against 0.059 (BENCHMARKS.md "Back to the
//! baseline").
//!
//! Only `serve` sets the allocator up so: an embedded cluster shares the harness's process,
//! whose own allocations it would slow; it is trimmed when idle all the same.

/// The glibc tunable that turns the thread cache off.
const NO_THREAD_CACHE: &str = "glibc.malloc.tcache_count=0";

/// Starts this program again in the same process (exec: same pid, same arguments) with
/// glibc's thread cache off, unless the environment already says how many chunks it keeps.
/// Returns only when it did not: not glibc, or the exec failed; the server then runs with
/// the cache, and keeps about 2 MiB more after its visitors left.
pub fn without_thread_cache() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let tunables = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
        let Some(tunables) = tunables.to_str() else {
            return;
        };
        if tunables.contains("glibc.malloc.tcache_count") {
            return;
        }
        let Ok(program) = std::env::current_exe() else {
            return;
        };
        let tunables = match tunables {
            "" => NO_THREAD_CACHE.to_owned(),
            some => format!("{some}:{NO_THREAD_CACHE}"),
        };
        let mut args = std::env::args_os();
        let mut again = std::process::Command::new(program);
        if let Some(name) = args.next() {
            again.arg0(name);
        }
        // Only returns on failure.
        let _failed = again.args(args).env("GLIBC_TUNABLES", tunables).exec();
    }
}

/// Makes every thread of the process share glibc's main arena. Call it before the runtime
/// starts its workers: a thread keeps the arena it was first given.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator, under its own lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// How often a harness process hands its free pages back ([`trim`]). A harness that stalled
/// (a machine busy with other work, or stopped for 10 s on purpose) meets a burst when it
/// wakes: every visitor's overdue request at once, and the arrivals it owes. The burst's
/// memory is freed within a second, but the allocations that live on are made among it and
/// keep its pages resident: in a churn soak a 10 s stop left the RSS 27 MiB higher for the
/// rest of the run while the heap in use grew by 4 MB; with this trim, 7 to 9 MiB higher from
/// 40 s later on (BENCHMARKS.md, "What a stall leaves resident in the harness").
pub const HARNESS_TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Hands the free pages of every arena back to the system (the top chunk of the main arena,
/// and whole free pages anywhere else). Freeing alone gives back only the heap's top: a
/// server that had forgotten all of 28,000 visitors kept 80.8 MiB, against 11.1 MiB before
/// the first, until it trimmed.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
