//! Label values that come from the server (instance names) turned into `&'static str`, so
//! recording them stays allocation-free after the first sighting. Bounded: Prometheus
//! labels must stay low-cardinality, so past [`MAX_VALUES`] distinct names every new one is
//! `other`.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// Distinct values kept before the rest are folded into `other`.
pub const MAX_VALUES: usize = 64;

/// The interned `&'static str` for `value` (leaked once per distinct value, at most
/// [`MAX_VALUES`] of them over the process's life).
pub fn intern(value: &str) -> &'static str {
    static VALUES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut values = VALUES.lock().unwrap_or_else(PoisonError::into_inner);
    let values = values.get_or_insert_with(HashSet::new);
    if let Some(known) = values.get(value) {
        return known;
    }
    if values.len() >= MAX_VALUES {
        return "other";
    }
    let leaked: &'static str = Box::leak(value.to_owned().into_boxed_str());
    values.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_is_interned_once() {
        let first = intern("s1-label-test");
        let second = intern(&String::from("s1-label-test"));
        assert!(std::ptr::eq(first, second));
        assert_eq!(first, "s1-label-test");
    }
}
