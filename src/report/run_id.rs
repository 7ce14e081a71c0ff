//! One run's identity. The shards of a split run share nothing but their inputs, so each
//! derives the same id from them (the scenario's hash, the seed, the shard count and the
//! agreed start), or is given one (`--run-id`). Every output file carries it, so `merge` can
//! tell a shard of this run from a leftover of an earlier one in a reused directory, and a
//! Kubernetes run can name its Jobs and its results directory after it. What an id may be
//! is the type's own rule (`schema`); this module derives one.

use std::time::SystemTime;

use super::split::fnv1a;
use crate::schema::RunId;

impl RunId {
    /// The id every shard of one run computes alike: `run-` and 12 hex digits of the FNV-1a
    /// hash of its inputs. The start is taken to the millisecond, as `--start-at` is printed.
    pub fn derive(scenario_hash: &str, seed: u64, shards: u32, start: Option<SystemTime>) -> RunId {
        let start = start.map_or_else(
            || "none".to_owned(),
            |at| humantime::format_rfc3339_millis(at).to_string(),
        );
        let hash = fnv1a(&format!("{scenario_hash}/{seed}/{shards}/{start}"));
        format!("run-{:012x}", hash >> 16)
            .parse()
            .expect("`run-` and hex digits are a valid id")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn shards_of_one_run_derive_one_id_and_any_other_input_changes_it() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_144_400);
        let id = RunId::derive("cbf29ce484222325", 7, 3, Some(start));
        assert_eq!(id, RunId::derive("cbf29ce484222325", 7, 3, Some(start)));
        assert!(
            id.as_str().starts_with("run-") && id.as_str().len() == 16,
            "{id}"
        );
        assert_eq!(
            id.as_str().parse::<RunId>().as_ref(),
            Ok(&id),
            "a derived id is a valid one"
        );
        let others = [
            RunId::derive("cbf29ce484222326", 7, 3, Some(start)),
            RunId::derive("cbf29ce484222325", 8, 3, Some(start)),
            RunId::derive("cbf29ce484222325", 7, 2, Some(start)),
            RunId::derive(
                "cbf29ce484222325",
                7,
                3,
                Some(start + Duration::from_millis(1)),
            ),
            RunId::derive("cbf29ce484222325", 7, 3, None),
        ];
        for other in others {
            assert_ne!(other, id);
        }
    }
}
