//! The async runtime of a harness or server process, and how many worker threads it gets.
//!
//! One process alone on the machine gets a worker per core (tokio's default). When a run or a
//! server is split over P processes on the same machine, each of them with a worker per core
//! would put P x cores threads on the cores: every one of them wakes up, steals work and
//! competes for the same cores, and the harness's timers fire late for it (the scheduling lag
//! that makes a run HARNESS-LIMITED). So a process started as one of P gets `cores / P`
//! workers, at least one.

use std::num::NonZeroUsize;

/// The runtime of this process: `threads` workers, or one per core.
pub fn build(threads: Option<NonZeroUsize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads.get());
    }
    builder.enable_all().build()
}

/// The workers each of `processes` processes on this machine gets: its share of the cores,
/// at least one.
pub fn threads_per_process(processes: usize) -> NonZeroUsize {
    share(cores(), processes)
}

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

fn share(cores: usize, processes: usize) -> NonZeroUsize {
    NonZeroUsize::new(cores / processes.max(1)).unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_share_the_cores_and_each_keeps_at_least_one_worker() {
        assert_eq!(share(2, 1).get(), 2);
        assert_eq!(share(8, 2).get(), 4);
        assert_eq!(share(8, 3).get(), 2);
        assert_eq!(
            share(2, 6).get(),
            1,
            "more processes than cores: one worker each"
        );
        assert_eq!(share(2, 0).get(), 2, "no split counts as one process");
    }

    #[test]
    fn a_runtime_gets_the_workers_asked_for() {
        let runtime = build(NonZeroUsize::new(1)).unwrap();
        assert_eq!(runtime.metrics().num_workers(), 1);
        let runtime = build(NonZeroUsize::new(3)).unwrap();
        assert_eq!(runtime.metrics().num_workers(), 3);
    }
}
