//! The server's modules import each other without loops, and the adapters run no queries
//! of their own (docs/ARCHITECTURE.md, "The server's modules"). Read from the source's
//! `crate::` and `super::` paths: a module imports another when one of its files names a
//! path into it. Checked twice: between top-level modules (a folder or a file directly
//! under `server/src`), and between all modules, however deep; a path into a module's own
//! ancestor does not count (a child uses what its parent declares and exports).
//! Tests may reach anywhere, so `#[cfg(test)]` modules and a file's closing `mod tests`
//! are left out, as are comments.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = imports(&src);
    assert!(
        graph.len() > 10,
        "read too few modules from {}: {:?}",
        src.display(),
        graph.keys().collect::<Vec<_>>()
    );
    assert_no_loops(&graph);
}

#[test]
fn no_module_at_any_depth_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_imports(&src);
    assert!(
        graph.len() > 100,
        "read too few modules from {}",
        src.display()
    );
    assert_no_loops(&graph);
}

fn assert_no_loops(graph: &Graph) {
    let loops: Vec<Vec<String>> = strongly_connected(graph)
        .into_iter()
        .filter(|group| group.len() > 1)
        .collect();
    let mut report = String::new();
    for group in &loops {
        report.push_str(&format!("loop between {group:?}:\n"));
        for from in group {
            for (to, files) in &graph[from] {
                if group.contains(to) {
                    report.push_str(&format!("  {from} -> {to} in {files:?}\n"));
                }
            }
        }
    }
    assert!(loops.is_empty(), "{report}");
}

/// The adapters (the APIs' handlers in `http/`, the console's server side in `dashboard/`,
/// the health and metrics endpoints in `health/`)
/// call the features and the console's queries (`console/`); they run no query of their
/// own.
#[test]
fn the_adapters_run_no_queries() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let markers = [
        "EntityTrait",
        "QueryFilter",
        "QuerySelect",
        "QueryOrder",
        "ConnectionTrait",
        "Statement::from",
        "sqlx::query",
        ".execute(",
    ];
    let mut found = Vec::new();
    for adapter in ["http", "dashboard", "health"] {
        for file in rust_files(&src.join(adapter)) {
            let code = code_only(&std::fs::read_to_string(&file).unwrap());
            for marker in markers {
                if code.contains(marker) {
                    found.push(format!("{} uses {marker}", file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "queries in an adapter:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_reader_sees_a_loop_when_there_is_one() {
    let dir = std::env::temp_dir().join(format!("oncewallet-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(
        dir.join("a/mod.rs"),
        "mod inner;\n#[cfg(test)]\nmod props;\n",
    )
    .unwrap();
    std::fs::write(dir.join("a/inner.rs"), "use crate::{b::{x, y}, c};\n").unwrap();
    std::fs::write(dir.join("a/props.rs"), "use crate::d::Z;\n").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "// crate::c in a comment\nfn f() { crate::a::g() }\n#[cfg(test)]\nmod tests {\n    use crate::d::Q;\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("c.rs"), "").unwrap();
    std::fs::write(dir.join("d.rs"), "").unwrap();
    let graph = imports(&dir);
    let modules = module_imports(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let edges: Vec<(String, String)> = graph
        .iter()
        .flat_map(|(from, tos)| tos.keys().map(move |to| (from.clone(), to.clone())))
        .collect();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(edges, vec![pair("a", "b"), pair("a", "c"), pair("b", "a")]);
    let groups = strongly_connected(&graph);
    assert!(groups
        .iter()
        .any(|g| g.len() == 2 && g.contains(&"a".to_owned())));
    let module_edges: Vec<(String, String)> = modules
        .iter()
        .flat_map(|(from, tos)| tos.keys().map(move |to| (from.clone(), to.clone())))
        .collect();
    assert_eq!(
        module_edges,
        vec![pair("a::inner", "b"), pair("a::inner", "c"), pair("b", "a")],
        "the declaring mod.rs and the test-only module import nothing"
    );
}

/// Top-level module -> module it imports -> the files that do.
fn imports(src: &Path) -> Graph {
    let files = rust_files(src);
    let test_only = test_only_files(src, &files);
    let mut graph = Graph::new();
    for file in &files {
        let relative = file.strip_prefix(src).unwrap();
        let module = top_module(relative);
        if module == "lib" || module == "main" {
            continue;
        }
        graph.entry(module.clone()).or_default();
        if test_only.contains(file) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for used in crate_paths(&code_only(&text)) {
            if used != module {
                graph
                    .entry(module.clone())
                    .or_default()
                    .entry(used)
                    .or_default()
                    .insert(relative.display().to_string());
            }
        }
    }
    graph
}

/// Every module (`a::b`, the crate root left out) -> module it imports -> the files that do.
fn module_imports(src: &Path) -> Graph {
    let files = rust_files(src);
    let test_only = test_only_files(src, &files);
    let modules: BTreeMap<Vec<String>, &PathBuf> = files
        .iter()
        .map(|file| (module_path(file.strip_prefix(src).unwrap()), file))
        .collect();
    let mut graph = Graph::new();
    for (module, file) in &modules {
        if module.is_empty() || module == &["main"] {
            continue;
        }
        let name = module.join("::");
        graph.entry(name.clone()).or_default();
        if test_only.contains(*file) {
            continue;
        }
        let relative = file.strip_prefix(src).unwrap().display().to_string();
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for (from_crate, segments) in module_paths(&code) {
            let mut full: Vec<String> = if from_crate {
                Vec::new()
            } else {
                module[..module.len() - 1].to_vec()
            };
            for segment in segments {
                if segment == "super" {
                    full.pop();
                } else {
                    full.push(segment);
                }
            }
            let target = (1..=full.len())
                .rev()
                .map(|length| &full[..length])
                .find(|prefix| modules.contains_key(*prefix));
            // A path into the module itself or one of its ancestors is not an import.
            if let Some(target) = target.filter(|target| !module.starts_with(target)) {
                graph
                    .entry(name.clone())
                    .or_default()
                    .entry(target.join("::"))
                    .or_default()
                    .insert(relative.clone());
            }
        }
    }
    graph
}

/// `a/b.rs` and `a/b/mod.rs` are `["a", "b"]`; `lib.rs` is the root, `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        path.pop();
    }
    path
}

/// Every `crate::…` and `super::…` path, each item of a `{…}` group on its own: whether it
/// starts at the crate, and its segments after `crate::` (a leading `super` kept).
fn module_paths(code: &str) -> Vec<(bool, Vec<String>)> {
    let mut found = Vec::new();
    for (start, from_crate) in [("crate::", true), ("super::", false)] {
        let mut rest = code;
        while let Some(at) = rest.find(start) {
            let preceded_by_path = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let after = &rest[at + start.len()..];
            if !preceded_by_path {
                let first = if from_crate {
                    vec![]
                } else {
                    vec!["super".to_owned()]
                };
                expand(first, after, &mut found, from_crate);
            }
            rest = after;
        }
    }
    found
}

/// Adds the paths `text` continues `prefix` with: segments up to the first that is not
/// followed by `::`, or each item of a group.
fn expand(
    mut prefix: Vec<String>,
    mut text: &str,
    found: &mut Vec<(bool, Vec<String>)>,
    from_crate: bool,
) {
    loop {
        text = text.trim_start();
        if let Some(group) = text.strip_prefix('{') {
            for item in top_level_items(group) {
                expand(prefix.clone(), item, found, from_crate);
            }
            return;
        }
        let Some(segment) = identifier(text) else {
            break;
        };
        text = &text[segment.len()..];
        prefix.push(segment);
        match text.strip_prefix("::") {
            Some(more) => text = more,
            None => break,
        }
    }
    if !prefix.is_empty() {
        found.push((from_crate, prefix));
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn top_module(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_owned()
}

/// Files declared `#[cfg(test)] mod name;`, and everything below them.
fn test_only_files(src: &Path, files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut roots = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            let declared = pair[1]
                .strip_prefix("mod ")
                .or_else(|| pair[1].strip_prefix("pub mod "))
                .and_then(|rest| rest.strip_suffix(';'));
            if let (true, Some(name)) = (pair[0] == "#[cfg(test)]", declared) {
                // `a/mod.rs` and `lib.rs` declare children beside them, `a/b.rs` in `a/b/`.
                let stem = file.file_stem().unwrap().to_string_lossy();
                let dir = if stem == "mod" || (file.parent() == Some(src) && stem == "lib") {
                    file.parent().unwrap().to_path_buf()
                } else {
                    file.with_extension("")
                };
                roots.push(dir.join(format!("{name}.rs")));
                roots.push(dir.join(name));
            }
        }
    }
    files
        .iter()
        .filter(|file| roots.iter().any(|root| file.starts_with(root)))
        .cloned()
        .collect()
}

/// The text without comments and without the closing `#[cfg(test)] mod tests`.
fn code_only(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment of every `crate::…` path, including each item of `crate::{…}`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let preceded_by_ident = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !preceded_by_ident {
            if let Some(group) = after.strip_prefix('{') {
                for item in top_level_items(group) {
                    found.extend(identifier(item));
                }
            } else {
                found.extend(identifier(after));
            }
        }
        rest = after;
    }
    found
}

/// The comma-separated items of a `{…}` group (without its opening brace), nested groups
/// kept whole.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn identifier(text: &str) -> Option<String> {
    let name: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        groups: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, node: &'g str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            let targets = self.graph.get(node).into_iter().flat_map(|t| t.keys());
            for next in targets {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut group = Vec::new();
                while let Some(member) = self.stack.pop() {
                    group.push(member.to_owned());
                    if member == node {
                        break;
                    }
                }
                group.sort();
                self.groups.push(group);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        groups: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.groups
}
