//! Every setting of the reference server: what docs/protocol.md calls a "default" is one of these.
//!
//! The same struct is the `serve` command line (clap) and the `target.embedded` section of a
//! scenario (serde), so the two can never disagree; clap's defaults are the only defaults.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;
use serde::{Deserialize, Serialize};

use crate::net::serve::Bounds;

/// Settings of a reference cluster.
#[derive(Debug, Clone, PartialEq, clap::Args, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Number of instances started at launch.
    #[arg(long, default_value_t = 3)]
    pub instances: usize,

    /// Address every instance and the directory listen on (keep it on loopback).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port of the directory (`/locate`, `/admin/*`); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub directory_port: u16,

    /// Port of the first instance, the next ones counting up; 0 picks free ones.
    #[arg(long, default_value_t = 0)]
    pub base_port: u16,

    /// URL path prefix of the SockJS and WebSocket routes.
    #[arg(long, default_value = "/presence")]
    pub prefix: String,

    /// SockJS heartbeat interval: an `h` goes out when nothing else was sent for this long.
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,

    /// SockJS HTTP transports: a session with no receiving request (poll or stream) for this
    /// long is gone, as a WebSocket session whose socket closed.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub disconnect_delay: Duration,

    /// SockJS streaming transports (xhr_streaming, eventsource): a response ends after this
    /// many bytes of frames, and the client opens a fresh one (browsers keep a streaming
    /// response's bytes until it ends).
    #[arg(long, default_value_t = 128 * 1024)]
    pub response_limit: usize,

    /// Test only: serve the services the SockJS protocol test suite expects (`/echo`,
    /// `/close`, `/disabled_websocket_echo`, `/cookie_needed_echo`) on every instance.
    #[arg(long, default_value_t = false)]
    pub sockjs_test_endpoints: bool,

    /// How long a unique id lives without `extend`.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub unique_timeout: Duration,

    /// Window over which a draining instance closes its sessions.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub drain_window: Duration,

    /// A client must send a whole request head within this, or its connection is closed
    /// (a slow or stalled client cannot hold a connection).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,

    /// On shutdown, after the drain window: how long connections and sessions still open
    /// get before they are closed. Shutdown takes at most `drain_window` + this.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,

    /// Largest client frame payload, in bytes; larger ones close the session with 1009.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Most signals/invokes kept per visitor (unacknowledged); more are rejected `queue_full`.
    #[arg(long, default_value_t = 1000)]
    pub queue_bound: usize,

    /// How long a visitor with no open tab is remembered (page, data, kept signals and
    /// invokes): after this, a visitor who comes back starts afresh and what was queued for it
    /// is gone. Without a bound, every visitor who ever sent a presence stays in memory.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub visitor_retention: Duration,

    /// Delay added before every `presence_ack`: a known latency for testing the harness.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub ack_delay: Duration,

    /// Test only: drop this fraction (0 to 1) of signals and invokes without a trace.
    #[arg(long, default_value_t = 0.0)]
    pub fault_drop_signals: f64,

    /// Test only: send `blur` to the tab that takes focus instead of the one that loses it.
    #[arg(long, default_value_t = false)]
    pub fault_blur_focused: bool,

    /// Test only: send each `blur` this long after the focus change that calls for it (a
    /// slow server; longer than the run, a server that loses its blurs). 0s: at once.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub fault_blur_delay: Duration,

    /// Test only: hand out a unique id that a live unique connection already holds.
    #[arg(long, default_value_t = false)]
    pub fault_duplicate_unique: bool,

    /// Test only: deliver each visitor's kept signals newest first on `connect`.
    #[arg(long, default_value_t = false)]
    pub fault_reorder_signals: bool,

    /// Test only: deliver signals and invokes to an open tab without focus, when there is one.
    #[arg(long, default_value_t = false)]
    pub fault_signal_unfocused: bool,

    /// Test only: hand out unique ids of five digits instead of six.
    #[arg(long, default_value_t = false)]
    pub fault_malformed_unique: bool,

    /// Test only: presence events to watching agents carry empty `data` (stale for the agent).
    #[arg(long, default_value_t = false)]
    pub fault_stale_presence: bool,

    /// Test only: spin the CPU this long on every client message, a server whose cost per
    /// message grew (a regression a CI gate must catch). Unlike `ack_delay`, no timer is
    /// involved, so microseconds are exact. 0s: off.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub fault_cpu_per_message: Duration,

    /// Test only: past this many open sessions in the cluster, every `presence_ack` is held
    /// `fault_overload_delay` longer per session over it: a server whose latency degrades
    /// past a known load, for `capacity` to find. 0: off.
    #[arg(long, default_value_t = 0)]
    pub fault_overload_sessions: u64,

    /// Test only: the ack delay added per open session past `fault_overload_sessions`.
    #[arg(long, default_value = "1ms", value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub fault_overload_delay: Duration,

    /// Test only: keep this many bytes every time a visitor comes online, and never let them go
    /// (a server that leaks, for the `server_memory` threshold to catch). 0: none.
    #[arg(long, default_value_t = 0)]
    pub fault_leak_per_visitor: usize,
}

/// Most instances one cluster starts: each is a listener and a task set in this process, and
/// a few dozen already fill a machine's cores (`serve`, `run` and `validate` all refuse more).
pub const MAX_INSTANCES: usize = 64;

/// A setting the server cannot run with: which one, and why. `run`, `serve` and `validate`
/// all ask [`Settings::validate`], so they accept and refuse the same settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct InvalidSetting {
    /// The field as the scenario and the command line name it (`heartbeat`).
    pub field: &'static str,
    /// What it must be, and what it was.
    pub problem: String,
}

impl Settings {
    /// How long the cluster's HTTP listeners wait on clients.
    pub fn http_bounds(&self) -> Bounds {
        Bounds {
            header_read_timeout: self.header_timeout,
            grace: self.shutdown_grace,
        }
    }

    /// Refuses values the server cannot run with (a zero heartbeat would spin, for one).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let invalid = |field, problem: String| Err(InvalidSetting { field, problem });
        if !(1..=MAX_INSTANCES).contains(&self.instances) {
            return invalid(
                "instances",
                format!(
                    "must be from 1 to {MAX_INSTANCES}, found {}",
                    self.instances
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.fault_drop_signals) {
            return invalid(
                "fault_drop_signals",
                format!("must be between 0 and 1, found {}", self.fault_drop_signals),
            );
        }
        if self.heartbeat.is_zero() {
            return invalid("heartbeat", "must be longer than 0s".to_owned());
        }
        if self.header_timeout.is_zero() {
            return invalid("header_timeout", "must be longer than 0s".to_owned());
        }
        if self.disconnect_delay.is_zero() {
            return invalid("disconnect_delay", "must be longer than 0s".to_owned());
        }
        if self.response_limit == 0 {
            return invalid("response_limit", "must be at least 1".to_owned());
        }
        if self.max_frame_bytes == 0 {
            return invalid("max_frame_bytes", "must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            settings: Settings,
        }
        Defaults::parse_from(["defaults"]).settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_protocol() {
        let settings = Settings::default();
        assert_eq!(settings.heartbeat, Duration::from_secs(25));
        assert_eq!(settings.unique_timeout, Duration::from_secs(300));
        assert_eq!(settings.drain_window, Duration::from_secs(5));
        assert_eq!(
            (settings.header_timeout, settings.shutdown_grace),
            (Duration::from_secs(10), Duration::from_secs(5))
        );
        assert_eq!(settings.max_frame_bytes, 65536);
        assert_eq!(
            (settings.disconnect_delay, settings.response_limit),
            (Duration::from_secs(5), 131_072)
        );
        assert_eq!(settings.fault_drop_signals, 0.0);
        assert_eq!(
            (settings.visitor_retention, settings.fault_leak_per_visitor),
            (Duration::from_secs(300), 0)
        );
    }

    #[test]
    fn yaml_overrides_only_what_it_names() {
        let settings: Settings = serde_yaml::from_str("instances: 2\nheartbeat: 100ms\n").unwrap();
        assert_eq!(settings.instances, 2);
        assert_eq!(settings.heartbeat, Duration::from_millis(100));
        assert_eq!(settings.unique_timeout, Duration::from_secs(300));
        assert!(serde_yaml::from_str::<Settings>("instance: 2\n").is_err());
    }

    #[test]
    fn validation_names_the_bad_setting() {
        assert_eq!(Settings::default().validate(), Ok(()));
        let bad = Settings {
            fault_drop_signals: 1.5,
            ..Settings::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "fault_drop_signals");
        let bad = Settings {
            heartbeat: Duration::ZERO,
            ..Settings::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "heartbeat must be longer than 0s"
        );
        let bad = Settings {
            instances: 4_294_967_295,
            ..Settings::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "instances must be from 1 to 64, found 4294967295"
        );
        let bad = Settings {
            disconnect_delay: Duration::ZERO,
            ..Settings::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "disconnect_delay");
        let bad = Settings {
            header_timeout: Duration::ZERO,
            ..Settings::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "header_timeout must be longer than 0s"
        );
    }
}
