//! Every `presence-bench` command shown in README.md and docs/ is checked, so that an example
//! cannot rot: its options must parse (the command line with `--help` appended, which clap
//! reads to the end, refusing an unknown option or a bad value on the way), and one that
//! names a scenario of this repository must validate with its `--set` changes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What a documented command line starts with, however the page spells the binary.
const PREFIXES: [&str; 4] = [
    "presence-bench ",
    "$B ",
    "target/release/presence-bench ",
    "cargo run --release -- ",
];

fn bench(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The pages a newcomer reads.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    // Not recursive: docs/journal/ stays out (its commands are history, with the flags of their
    // day).
    let docs = std::fs::read_dir(root.join("docs")).expect("docs/ is there");
    pages.extend(
        docs.map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "md")),
    );
    pages.sort();
    pages
}

/// The commands of a page's shell blocks: continuation lines joined, shell variables given a
/// value, cut at the first shell operator; each with its line number.
fn commands(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    let mut in_shell = false;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_shell = !in_shell && matches!(info, "sh" | "bash" | "shell" | "console");
            continue;
        }
        if !in_shell {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        joined.push_str(trimmed.strip_prefix("$ ").unwrap_or(trimmed));
        if let Some(open) = joined.strip_suffix('\\') {
            pending = Some((start, format!("{open} ")));
            continue;
        }
        let Some(rest) = PREFIXES
            .iter()
            .find_map(|prefix| joined.strip_prefix(prefix))
        else {
            continue;
        };
        let expanded = rest
            .replace("${i}", "1")
            .replace("$i", "1")
            .replace("$B", "presence-bench")
            .replace("$k", "0");
        let words = shlex::split(&expanded)
            .unwrap_or_else(|| panic!("line {start}: unbalanced quotes: {joined}"));
        let operator = |word: &String| {
            ["&&", "||", "|", ";", "&"].contains(&word.as_str()) || word.contains('>')
        };
        let args: Vec<String> = words
            .into_iter()
            .take_while(|word| !operator(word))
            .collect();
        found.push((start, args));
    }
    found
}

/// Runs the binary with what `to_run` makes of each documented command (`None`: not this
/// check's), and fails naming every command whose run failed; `at_least` guards the extraction.
fn check_each(what: &str, at_least: usize, to_run: impl Fn(&[String]) -> Option<Vec<String>>) {
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (line, args) in commands(&text) {
            let Some(run) = to_run(&args) else { continue };
            let output = bench(&run);
            checked += 1;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                failures.push(format!(
                    "{}:{line}: {}\n  {}",
                    page.display(),
                    args.join(" "),
                    stderr.trim()
                ));
            }
        }
    }
    assert!(
        checked > at_least,
        "only {checked} {what} found: is the extraction broken?"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} {what} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_documented_command_parses() {
    check_each("documented commands", 30, |args| {
        let mut asked = args.to_vec();
        asked.push("--help".into());
        Some(asked)
    });
}

#[test]
fn every_documented_run_of_a_repository_scenario_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    check_each("documented runs of repository scenarios", 5, |args| {
        let (command, file) = (args.first()?, args.get(1)?);
        if !["run", "validate"].contains(&command.as_str()) || !file.starts_with("scenarios/") {
            return None;
        }
        let mut validate = vec!["validate".to_owned()];
        if file.contains('*') {
            // `scenarios/*.yaml`, as the shell would expand it.
            let mut all: Vec<String> = std::fs::read_dir(root.join("scenarios"))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
                .map(|path| path.display().to_string())
                .collect();
            all.sort();
            validate.extend(all);
        } else {
            validate.push(root.join(file).display().to_string());
        }
        let mut words = args.iter().skip(2);
        while let Some(word) = words.next() {
            if word == "--set" {
                validate.push(word.clone());
                validate.extend(words.next().cloned());
            } else if let Some(set) = word.strip_prefix("--set=") {
                validate.extend(["--set".to_owned(), set.to_owned()]);
            }
        }
        Some(validate)
    });
}

#[test]
fn commands_are_read_from_shell_blocks_only() {
    let page = "text presence-bench run not-a-command\n```sh\n\
                presence-bench run a.yaml \\\n  --set x=1 > out.txt  # note\n\
                $B compare b c && echo\n```\n```yaml\npresence-bench run no\n```\n";
    let found = commands(page);
    let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    assert_eq!(
        found,
        [
            (3, words(&["run", "a.yaml", "--set", "x=1"])),
            (5, words(&["compare", "b", "c"]))
        ]
    );
}
