//! Reports: the terminal table, summary.json and the interval log. Reads what `measure`
//! gathered; measures nothing itself.

pub mod drills;
pub mod hlog;
pub mod summary;
pub mod table;

pub use summary::Summary;
