//! The shape of src/: each top-level unit may use only the units below it
//! (the order in `ORDER`, also drawn in CONTRIBUTING.md), so that a change
//! in a lower unit never has to know about the commands above it. A
//! `crate::X` reference that points up, or a unit that is not in the order
//! at all, fails here with the file and line.

use std::path::{Path, PathBuf};

/// Top first. A unit may depend on any unit after it in this list.
const ORDER: &[&str] = &[
    "main", "cli", "simulate", "launch", "relay", "select", "usage", "codex", "accounts", "config",
    "base",
];

fn rank(unit: &str) -> Option<usize> {
    ORDER.iter().position(|u| *u == unit)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/launch/argv.rs` -> "launch"; `src/config.rs` -> "config".
fn unit_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every unit named after `crate::` on a line (also inside `use crate::{a, b}`).
fn referenced_units(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

#[test]
fn dependencies_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let from = unit_of(&src, file);
        let Some(from_rank) = rank(&from) else {
            wrong.push(format!(
                "{}: unit '{from}' is not in the layer order",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for to in referenced_units(line) {
                match rank(&to) {
                    Some(to_rank) if to_rank < from_rank => wrong.push(format!(
                        "{}:{}: {from} uses {to}, which is above it",
                        file.display(),
                        n + 1
                    )),
                    Some(_) => {}
                    None => wrong.push(format!(
                        "{}:{}: crate::{to} is not a unit in the layer order",
                        file.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_grouped_and_plain_references() {
    assert_eq!(
        referenced_units("use crate::{base, usage::cache};"),
        ["base", "usage"]
    );
    assert_eq!(
        referenced_units("let x = crate::launch::live::list(crate::base::x);"),
        ["launch", "base"]
    );
    assert!(rank("cli") < rank("launch"));
}
