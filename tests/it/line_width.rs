//! No line of the crate's Rust sources is wider than rustfmt.toml's `max_width` (100 columns,
//! issue 27). `cargo fmt` keeps code within it but leaves alone what it cannot break: string
//! literals (wrapped with a `\` continuation instead), comments, and the inside of macros it
//! cannot parse (`tracing::info!` fields, `tokio::select!` arms, `matches!` with a guard).
//! Every tracked `.rs` file under src/, tests/, benches/ and examples/ is read, and each line
//! over the width is named with its file, line and width. Columns are characters, not bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The folders whose `.rs` files are checked.
const FOLDERS: [&str; 4] = ["src", "tests", "benches", "examples"];

#[test]
fn no_source_line_is_wider_than_rustfmt_max_width() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let width = max_width(root);
    let mut wide = Vec::new();
    for file in rust_files(root) {
        let text = std::fs::read_to_string(root.join(&file)).expect("a source file reads");
        wide.extend(
            too_wide(&text, width)
                .into_iter()
                .map(|(line, columns)| format!("{}:{line}: {columns} columns", file.display())),
        );
    }
    assert!(
        wide.is_empty(),
        "{} lines are wider than rustfmt.toml's max_width = {width} (wrap a string with a `\\` \
         continuation, re-flow a comment):\n{}",
        wide.len(),
        wide.join("\n")
    );
}

#[test]
fn a_wide_line_is_found_by_characters_not_bytes() {
    let ascii = "x".repeat(100);
    let accented = "é".repeat(100);
    assert_eq!(too_wide(&format!("{ascii}\n{accented}\n"), 100), vec![]);
    let text = format!("fn f() {{}}\r\n{ascii}x\r\n{accented}é\n");
    assert_eq!(too_wide(&text, 100), vec![(2, 101), (3, 101)]);
}

/// rustfmt.toml's `max_width`, the one width `cargo fmt` and this check share.
fn max_width(root: &Path) -> usize {
    let config = std::fs::read_to_string(root.join("rustfmt.toml")).expect("rustfmt.toml reads");
    config
        .lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == "max_width")
        .and_then(|(_, value)| value.trim().parse().ok())
        .expect("rustfmt.toml sets max_width")
}

/// Each line (numbered from 1) wider than `width` characters, with its width.
fn too_wide(text: &str, width: usize) -> Vec<(usize, usize)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.chars().count()))
        .filter(|&(_, columns)| columns > width)
        .collect()
}

/// The `.rs` files of `FOLDERS`, relative to `root`: those git tracks, or, outside a git
/// checkout (a source archive), every one found on disk.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let tracked = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--"])
        .args(FOLDERS.map(|folder| format!("{folder}/*.rs")))
        .output()
        .ok()
        .filter(|output| output.status.success() && !output.stdout.is_empty());
    let mut files: Vec<PathBuf> = match tracked {
        Some(output) => String::from_utf8(output.stdout)
            .expect("git names files in UTF-8")
            .split('\0')
            .filter(|name| !name.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => FOLDERS
            .iter()
            .flat_map(|folder| found(root, Path::new(folder)))
            .collect(),
    };
    files.sort();
    assert!(
        files.iter().any(|file| file.starts_with("src")),
        "no Rust sources found under {}",
        root.display()
    );
    files
}

/// Every `.rs` file below `dir` (relative to `root`), if it exists.
fn found(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = dir.join(entry.expect("a directory entry").file_name());
        if root.join(&path).is_dir() {
            files.extend(found(root, &path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}
