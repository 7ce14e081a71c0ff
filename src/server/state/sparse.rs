//! Giving back the room of maps and queues that emptied.
//!
//! Rust's `HashMap` and `VecDeque` keep their largest capacity for good: once a 4-minute
//! churn had left (10 s retention), the visitor map still held its peak table (4,096 slots of
//! 280 bytes, 1.15 MB) and the offline queue 262 KB with nothing in them (heaptrack;
//! BENCHMARKS.md "Soak: churn"), and `malloc_trim` cannot give back what is still allocated.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};

/// Below this many entries of capacity a collection is left as it is.
const FLOOR: usize = 64;

/// A collection whose capacity can be brought back near its length.
pub trait Sparse {
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
    fn shrink_to(&mut self, capacity: usize);

    /// Shrinks to twice the length once the length is under a quarter of the capacity.
    /// Amortised: a shrink moves every entry, and the next one comes only after half of
    /// them have gone, so each removal pays for at most two moves; growing again from there
    /// takes the length doubling.
    fn shrink_if_sparse(&mut self) {
        if self.capacity() > FLOOR && self.len() < self.capacity() / 4 {
            self.shrink_to(2 * self.len());
        }
    }
}

impl<K: Eq + Hash, V, S: BuildHasher> Sparse for HashMap<K, V, S> {
    fn len(&self) -> usize {
        HashMap::len(self)
    }
    fn capacity(&self) -> usize {
        HashMap::capacity(self)
    }
    fn shrink_to(&mut self, capacity: usize) {
        HashMap::shrink_to(self, capacity);
    }
}

impl<T> Sparse for VecDeque<T> {
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn capacity(&self) -> usize {
        VecDeque::capacity(self)
    }
    fn shrink_to(&mut self, capacity: usize) {
        VecDeque::shrink_to(self, capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_that_emptied_gives_its_room_back_and_a_full_one_keeps_it() {
        let mut map: HashMap<u32, u32> = (0..10_000).map(|n| (n, n)).collect();
        let peak = map.capacity();
        map.shrink_if_sparse();
        assert_eq!(map.capacity(), peak, "a full map is left alone");
        map.retain(|n, _| *n < 1_000);
        map.shrink_if_sparse();
        assert!(
            map.capacity() < peak / 2 && map.len() == 1_000,
            "capacity {}",
            map.capacity()
        );
        map.clear();
        map.shrink_if_sparse();
        assert_eq!(map.capacity(), 0);
    }

    #[test]
    fn a_queue_that_emptied_gives_its_room_back() {
        let mut queue: VecDeque<u64> = (0..10_000).collect();
        queue.drain(..9_990);
        queue.shrink_if_sparse();
        assert!(
            queue.capacity() <= FLOOR && queue.len() == 10,
            "capacity {}",
            queue.capacity()
        );
    }
}
