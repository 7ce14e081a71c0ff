//! The offline HTML report: one self-contained file built from a run's output directory
//! (summary.json, latency.hlog, timeline.jsonl, health.jsonl), so `report DIR` rebuilds it
//! for any run or merge that wrote those files. See docs/reports.md.

mod capacity;
mod charts;
pub mod data;
mod page;
mod svg;
mod tables;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use data::{ReportData, ReportError};

/// Reads `dir` and writes its report to `file`, and says where on stderr (`run --html`,
/// `merge --html` and `report` all write it here, so they say it alike).
pub fn write(dir: &Path, file: &Path) -> Result<(), ReportError> {
    let html = page::render(&ReportData::read(dir)?);
    std::fs::write(file, html).map_err(|source| ReportError::Write {
        path: file.to_owned(),
        source,
    })?;
    eprintln!("HTML report written to {}", file.display());
    Ok(())
}

/// Text made safe for HTML content and attribute values: every string from a run (scenario
/// names, reasons, error kinds, server names) goes through here.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
