//! The run split by transport (`transports`): a polling visitor costs a server differently
//! from a WebSocket one, so a mix is judged per transport as well as in total.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::latency::LatencySummary;

/// What the visitors of one transport did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransportSummary {
    /// Visitors started on it.
    pub visitors: u64,
    pub sessions_opened: u64,
    pub errors: u64,
    /// `connect` and `presence_ack` of its visitors, by metric name.
    pub metrics: BTreeMap<String, LatencySummary>,
    /// The same as encoded histograms, so that shards' summaries merge exactly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, String>,
}
