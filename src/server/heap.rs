//! The server process's heap (glibc malloc), set up so that what was freed once the visitors
//! left goes back to the system: a memory gauge that never falls cannot tell a leak from a
//! server that let go (issue 28; BENCHMARKS.md "Soak: churn").
//!
//! Two glibc behaviours kept freed memory resident after a churn had left (`malloc_info` and
//! `/proc/PID/smaps` of an idle `serve`):
//!
//! - Each thread that meets contention gets an arena of its own, and `malloc_trim` gives back
//!   the free pages inside every arena but never the top chunk of a thread's arena: only the
//!   main arena's top is trimmed. One worker's arena was left with 17.4 MiB resident holding
//!   3.5 KB in use, `malloc_trim` called by hand changing nothing. With one arena for the
//!   process its top is trimmed like the rest. The price is one lock for the workers' calls
//!   that miss their thread cache; the server does a few thousand allocations a second.
//! - Nothing trims while the server is idle: freeing a chunk gives back only the top of the
//!   heap, and the middle stays resident until a `malloc_trim` (see `state::sweep`).

/// Makes every thread of the process share glibc's main arena. Call it before the runtime
/// starts its workers: a thread keeps the arena it was first given.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator, under its own lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Hands the free pages of every arena back to the system (the top chunk of the main arena,
/// and whole free pages anywhere else).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
