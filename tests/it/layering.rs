//! The ground floor imports one way (docs/architecture.md, "How the folders import each
//! other"): the wire protocol (`src/wire/`) imports nothing else of the crate; the HTTP
//! plumbing both sides share (`src/net/`) only the wire; the harness's connections
//! (`src/client/`) only those two; and the reference server (`src/server/`) nothing of the
//! harness: only itself, the wire, the plumbing and the process helpers. summary.json's types
//! (`src/schema/`) import nothing else of the crate either, so that every module that fills in
//! a part of the document reaches them downward. Above them, no two top-level modules of
//! `src/` import each other, directly or round a circle, and inside the wire's, the
//! plumbing's and the connections' folders no two files do. The sources are read as text, so
//! every breach is named with its file and line, comments included (a path in a doc comment
//! is a dependency too).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each guarded folder of `src/`, and what it may use of the crate besides itself.
const RULES: [(&str, &[&str]); 5] = [
    ("wire", &[]),
    ("schema", &[]),
    ("net", &["wire"]),
    ("client", &["wire", "net"]),
    ("server", &["wire", "net", "procfs", "runtime", "heap"]),
];

#[test]
fn the_wire_and_the_schema_import_nothing_of_the_crate_and_the_server_nothing_of_the_harness() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches = Vec::new();
    for (folder, allowed) in RULES {
        for file in rust_files(&src.join(folder)) {
            for (module, place) in imports_in(&src, &file) {
                if module != folder && !allowed.contains(&module.as_str()) {
                    breaches.push(format!("{folder}/ uses {module}: {place}"));
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "{RULES:?}: each folder may use only itself and these\n{}",
        breaches.join("\n")
    );
}

#[test]
fn no_modules_of_the_crate_import_each_other_directly_or_round_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // Each import of one top-level module by another, with the first place that makes it.
    let mut imports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let shown = file
            .strip_prefix(&src)
            .expect("under src/")
            .display()
            .to_string();
        let module = shown
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        for (imported, place) in imports_in(&src, &file)
            .into_iter()
            .filter(|(imported, _)| *imported != module)
        {
            imports
                .entry(module.clone())
                .or_default()
                .entry(imported)
                .or_insert(place);
        }
    }
    assert_no_circle(&imports, "modules");
}

#[test]
fn no_files_of_a_ground_floor_folder_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // Not the server's files, nor the schema's: summary.json is recursive (a capacity level
    // carries its window's own summary), so its files name each other by nature.
    for folder in ["wire", "net", "client"] {
        // Each file's imports of its siblings, with the first place that makes each.
        let mut imports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for file in rust_files(&src.join(folder)) {
            let name = file.file_stem().expect("a file name").to_string_lossy();
            if name == "mod" {
                continue; // the folder itself: it declares and re-exports its files
            }
            let siblings = places_in(&src, &file, |line, depth| {
                sibling_files(folder, line, depth)
            });
            for (sibling, place) in siblings {
                if sibling != name {
                    imports
                        .entry(name.to_string())
                        .or_default()
                        .entry(sibling)
                        .or_insert(place);
                }
            }
        }
        assert_no_circle(&imports, &format!("files of {folder}/"));
    }
}

/// Panics naming the places of the first circle of `imports`, the `what` of which import each
/// other.
fn assert_no_circle(imports: &BTreeMap<String, BTreeMap<String, String>>, what: &str) {
    for start in imports.keys() {
        if let Some(circle) = circle_from(start, imports, &mut vec![start.clone()]) {
            let places: Vec<&str> = circle
                .windows(2)
                .map(|pair| imports[&pair[0]][&pair[1]].as_str())
                .collect();
            panic!(
                "{what} {} import each other:\n{}",
                circle.join(" -> "),
                places.join("\n")
            );
        }
    }
}

/// The files of `folder` that `line`, from a file of it `depth` deep, names: after
/// `crate::FOLDER::`, or after as many `super::` as lead from the line's module to the folder.
fn sibling_files(folder: &str, line: &str, depth: usize) -> Vec<String> {
    let absolute = format!("crate::{folder}::");
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = [absolute.as_str(), "super::"]
        .iter()
        .filter_map(|word| rest.find(word))
        .min()
    {
        rest = &rest[start..];
        let (supers, tail) = climb(rest);
        let named = match rest.strip_prefix(absolute.as_str()) {
            Some(tail) => Some(tail),
            None => (supers + 1 == depth).then_some(tail),
        };
        found.extend(
            named
                .map(names)
                .unwrap_or_default()
                .into_iter()
                .filter(|name| name.starts_with(|c: char| c.is_ascii_lowercase())),
        );
        rest = rest.strip_prefix(absolute.as_str()).unwrap_or(tail);
    }
    found
}

#[test]
fn a_circle_of_files_is_found_and_named() {
    let mut imports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (from, to) in [("client", "http_session"), ("http_session", "client")] {
        imports.entry(from.to_owned()).or_default().insert(
            to.to_owned(),
            format!("src/x/{from}.rs:1: use super::{to};"),
        );
    }
    let panic = std::panic::catch_unwind(|| assert_no_circle(&imports, "files of x/"))
        .expect_err("a circle panics");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(
        message.contains("client -> http_session -> client import each other")
            && message.contains("src/x/http_session.rs:1: use super::client;"),
        "{message}"
    );
}

/// The top-level modules of the crate that `file` (below `src`) names, each with its place
/// (`src/FILE:LINE: the line`).
fn imports_in(src: &Path, file: &Path) -> Vec<(String, String)> {
    places_in(src, file, outside_modules)
}

/// What `find` finds in each line of `file` (below `src`), told the line and its module's
/// depth, each with its place (`src/FILE:LINE: the line`).
fn places_in(
    src: &Path,
    file: &Path,
    find: impl Fn(&str, usize) -> Vec<String>,
) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).expect("a source file reads");
    let shown = file
        .strip_prefix(src)
        .expect("under src/")
        .display()
        .to_string();
    let mut found = Vec::new();
    for (index, line, depth) in lines_with_depth(&text, &shown) {
        for name in find(line, depth) {
            found.push((name, format!("src/{shown}:{}: {}", index + 1, line.trim())));
        }
    }
    found
}

/// A path of imports from the end of `path` back to its start, if there is one.
fn circle_from(
    start: &str,
    imports: &BTreeMap<String, BTreeMap<String, String>>,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    let last = path.last().expect("the path starts somewhere").clone();
    for next in imports.get(&last).into_iter().flat_map(BTreeMap::keys) {
        if next == start {
            let mut circle = path.clone();
            circle.push(next.clone());
            return Some(circle);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(circle) = circle_from(start, imports, path) {
                return Some(circle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn a_path_out_of_the_folder_is_found_in_every_spelling() {
    assert_eq!(
        outside_modules("use crate::measure::ErrorKind;", 2),
        ["measure"]
    );
    assert_eq!(
        outside_modules("    let kind = crate::measure::ErrorKind::Lost;", 2),
        ["measure"]
    );
    assert_eq!(
        outside_modules("use crate::{engine, measure::{Recorder, Tally}};", 2),
        ["engine", "measure"]
    );
    // From `server/session/dispatch.rs` (depth 3), two `super`s stay in `server/`; three leave.
    assert!(outside_modules("use super::super::state::VisitorKey;", 3).is_empty());
    assert_eq!(
        outside_modules("use super::super::super::visitor::Tab;", 3),
        ["visitor"]
    );
    assert!(outside_modules("use super::close;", 2).is_empty());
    assert!(outside_modules("let other_crate::x = 1; // not_crate::y", 2).is_empty());
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source folder reads") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Each line of the file at `shown` (relative to `src/`), numbered from 0, with how deep below
/// the crate root its module is: `wire/mod.rs` is 1, `wire/close.rs` 2,
/// `server/session/dispatch.rs` 3, and one more from an inline module (`mod tests {`) on.
/// Such a module may close before its file does: a `super::` path out of the crate after it
/// is then missed, but none is ever made up.
fn lines_with_depth<'a>(text: &'a str, shown: &str) -> Vec<(usize, &'a str, usize)> {
    let parts = shown.split('/').count();
    let mut depth = if shown.ends_with("/mod.rs") {
        parts - 1
    } else {
        parts
    };
    let mut numbered = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|word| !word.starts_with("pub"))
            .collect();
        if matches!(words.as_slice(), ["mod", _, "{"]) {
            depth += 1;
        }
        numbered.push((index, line, depth));
    }
    numbered
}

/// The top-level modules of the crate that `line` names, from a file `depth` deep: after
/// `crate::` (a `use crate::{a, b::c}` group names each), or after as many `super::` as lead
/// out of the crate root.
fn outside_modules(line: &str, depth: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = ["crate::", "super::"]
        .iter()
        .filter_map(|word| rest.find(word))
        .min()
    {
        let preceded = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[start..];
        let (supers, tail) = climb(rest);
        let root = match rest.strip_prefix("crate::") {
            Some(tail) => Some(tail),
            None => (supers >= depth).then_some(tail),
        };
        if let Some(root) = root.filter(|_| !preceded) {
            found.extend(names(root));
        }
        rest = rest.strip_prefix("crate::").unwrap_or(tail);
    }
    found
}

/// The count of leading `super::`s of `path`, and what follows them.
fn climb(path: &str) -> (usize, &str) {
    let mut supers = 0;
    let mut tail = path;
    while let Some(rest) = tail.strip_prefix("super::") {
        supers += 1;
        tail = rest;
    }
    (supers, tail)
}

/// The first names of a path's tail: `measure::X` is `measure`; `{engine, measure::{Y, Z}}`
/// is `engine` and `measure`.
fn names(tail: &str) -> Vec<String> {
    let ident = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = tail.strip_prefix('{') else {
        return vec![ident(tail)]
            .into_iter()
            .filter(|name| !name.is_empty())
            .collect();
    };
    let (mut names, mut nesting, mut item_start) = (Vec::new(), 0, true);
    for (at, c) in group.char_indices() {
        match c {
            '{' => nesting += 1,
            '}' if nesting == 0 => break,
            '}' => nesting -= 1,
            ',' if nesting == 0 => item_start = true,
            c if item_start && !c.is_whitespace() => {
                item_start = false;
                names.push(ident(&group[at..]));
            }
            _ => {}
        }
    }
    names.retain(|name| !name.is_empty());
    names
}
