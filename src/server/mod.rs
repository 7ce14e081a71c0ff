//! The reference Presence server: a cluster of instances in one process sharing one state,
//! a directory for `/locate` and admin routes. A guest in this crate: it imports only
//! `protocol`, never the harness.

pub mod settings;

pub use settings::Settings;
