//! The house rules of ARCHITECTURE.md, checked on the source itself:
//!
//! - no import circles between the top-level modules of a crate (`a` uses `crate::b`, `b`
//!   uses `crate::a`, however long the way round): leaf modules hold shared vocabulary;
//! - no file over [`MAX_CODE_LINES`] lines of code (non-blank, non-comment lines before its
//!   tests, which may also stand in a `tests.rs` beside it) unless its module documentation
//!   says why, in a line starting `//! Size:`;
//! - the host knows the plugin only through `wit/`: it does not depend on the core crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines of code a file may have without a stated reason.
const MAX_CODE_LINES: usize = 600;

/// The crates' source folders, from the workspace root.
const CRATES: [&str; 4] = [
    "plugin/core/src",
    "plugin/component/src",
    "host/src",
    "tests/src",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The source files under `folder`, a module's `tests.rs` left out: it is the module's
/// tests moved beside it (`#[cfg(test)] mod tests;`), which the rules do not count, as they
/// do not count tests kept at the end of a file.
fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs")
            && path.file_name().is_some_and(|name| name != "tests.rs")
        {
            found.push(path);
        }
    }
}

/// The file's code outside its tests, comments dropped, line by line.
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .collect()
}

/// The top-level module a file belongs to (`lib.rs` and `main.rs` are the crate root).
fn top_module(source: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(source).expect("under the source folder");
    let first = relative
        .components()
        .next()
        .expect("a file")
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned();
    match first.as_str() {
        "lib" | "main" => "crate".to_owned(),
        _ => first,
    }
}

/// The top-level modules `code` names through `crate::`, also inside `crate::{a, b::c}`.
fn crate_imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `privacy_guard_host::...`, not this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// A circle in `graph`, as the modules along it, if there is one.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_owned());
            return Some(circle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    for source in CRATES.map(|folder| workspace().join(folder)) {
        let mut files = Vec::new();
        rust_files(&source, &mut files);
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("readable source");
            let module = top_module(&source, file);
            let imports = crate_imports(&code_lines(&text).join("\n"));
            let edges = graph.entry(module.clone()).or_default();
            edges.extend(imports.into_iter().filter(|target| *target != module));
        }
        // Only modules of this crate count (`crate::` may also name a macro or a re-export).
        let modules: BTreeSet<String> = graph.keys().cloned().collect();
        for edges in graph.values_mut() {
            edges.retain(|target| modules.contains(target));
        }
        if let Some(circle) = find_circle(&graph) {
            panic!(
                "{}: the modules import each other in a circle: {}",
                source.display(),
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(module, edges)| {
        (
            module.to_owned(),
            edges.into_iter().map(str::to_owned).collect(),
        )
    })
    .collect();
    assert_eq!(
        find_circle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        crate_imports("use crate::{a, b::C};\nlet x = crate::c::f(privacy_guard_host::d::g);"),
        ["a", "b", "c"].into_iter().map(str::to_owned).collect()
    );
}

#[test]
fn no_file_is_too_long_to_read_without_a_stated_reason() {
    let mut too_long = Vec::new();
    for source in CRATES.map(|folder| workspace().join(folder)) {
        let mut files = Vec::new();
        rust_files(&source, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            let lines = code_lines(&text).len();
            let reason = text.lines().any(|line| line.starts_with("//! Size:"));
            if lines > MAX_CODE_LINES && !reason {
                too_long.push(format!("{} ({lines} lines of code)", file.display()));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "split these by responsibility, or say at the top why not (`//! Size: ...`): {}",
        too_long.join(", ")
    );
}

#[test]
fn the_host_knows_the_plugin_only_through_the_contract() {
    let manifest =
        std::fs::read_to_string(workspace().join("host/Cargo.toml")).expect("host/Cargo.toml");
    assert!(
        !manifest.contains("privacy-guard-core") && !manifest.contains("privacy-guard-plugin"),
        "the host depends on a plugin crate; it may know the plugin only through wit/"
    );
}
