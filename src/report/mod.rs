//! Reports: the terminal table, summary.json and the interval log. Reads what `measure`
//! gathered; measures nothing itself.

pub mod baseline;
pub mod capacity;
pub mod compare;
pub mod compare_table;
pub mod drills;
pub mod encoded;
pub mod exercise;
pub mod findings;
pub mod harness;
pub mod hlog;
pub mod html;
pub mod intervals;
pub mod junit;
pub mod latency_set;
pub mod merge;
pub mod merge_files;
pub mod neighbours;
pub mod noise;
pub mod pace;
pub mod regression;
pub mod run_id;
pub mod server_cost;
pub mod server_resources;
pub mod shard_table;
pub mod split;
pub mod summary;
pub mod table;
pub mod threshold;
pub mod timeline;
pub mod transports;
pub mod verdict;
