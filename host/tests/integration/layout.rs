//! Imports point down: the host's modules form no import circle (#25), nor
//! do the plugin's and the model's.
//!
//! The graph is read from the source: file A depends on file B when A uses
//! an item defined in B through a `crate::`, `super::` or `self::` path (or
//! a path through one of its own child modules), following `use`
//! re-exports to the file that defines the item. A `pub use` line is a
//! re-export, not a use; tests (`#[cfg(test)] mod ...`) are left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use regex::Regex;

type Module = Vec<String>;

/// One crate's source: each module's code, what its `use` lines name
/// (alias to path) and every path it uses.
struct Source {
    code: BTreeMap<Module, String>,
    imports: HashMap<Module, HashMap<String, Vec<String>>>,
    uses: HashMap<Module, Vec<Vec<String>>>,
}

fn read_modules(root: &Path, dir: &Path, code: &mut BTreeMap<Module, String>) {
    let comment = Regex::new(r"//[^\n]*").unwrap();
    let tests = Regex::new(r"#\[cfg\(test\)\]\s*(pub(\([\w ]+\))?\s+)?mod \w+\s*\{").unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_modules(root, &path, code);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap().with_extension("");
        let mut module: Module = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|m| m == "mod" || m == "lib") {
            module.pop();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text = comment.replace_all(&text, "").into_owned();
        let text = match tests.find(&text) {
            Some(m) => text[..m.start()].to_string(),
            None => text,
        };
        code.insert(module, text);
    }
}

/// `head` (`crate`, `super`, `self`) and `segs` from module `m`, as a path
/// from the crate root.
fn absolute(m: &Module, head: &str, segs: &[String]) -> Vec<String> {
    let mut base: Vec<String> = match head {
        "crate" => Vec::new(),
        "self" => m.clone(),
        _ => m[..m.len().saturating_sub(1)].to_vec(),
    };
    let mut rest = segs;
    while head == "super" && rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    base
}

fn split_path(text: &str) -> Vec<String> {
    text.split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The paths of the use tree `prefix::{group}`, each with its alias.
fn expand(prefix: &[String], group: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut items = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for ch in group.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            items.push(std::mem::take(&mut current));
        } else {
            current.push(ch);
        }
    }
    items.push(current);
    let mut out = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        if let Some(open) = item.find("::{") {
            let mut inner = prefix.to_vec();
            inner.extend(split_path(&item[..open]));
            out.extend(expand(&inner, &item[open + 3..item.len() - 1]));
            continue;
        }
        let (path, alias) = match item.split_once(" as ") {
            Some((path, alias)) => (path, Some(alias.trim().to_string())),
            None => (item, None),
        };
        let segs = split_path(path);
        let mut full = prefix.to_vec();
        if segs == ["self"] {
            out.push((full, prefix.last().cloned()));
            continue;
        }
        full.extend(segs.iter().cloned());
        out.push((full, alias.or_else(|| segs.last().cloned())));
    }
    out
}

impl Source {
    fn read(root: &Path) -> Self {
        let mut code = BTreeMap::new();
        read_modules(root, root, &mut code);
        let use_line = Regex::new(r"\b(pub(\([\w ]+\))?\s+)?use\s+([^;]+);").unwrap();
        let path_ref = Regex::new(r"\b(crate|super|self)((?:::\w+)+)").unwrap();
        let mut imports = HashMap::new();
        let mut uses = HashMap::new();
        for (m, text) in &code {
            let mut named = HashMap::new();
            let mut used = Vec::new();
            for line in use_line.captures_iter(text) {
                let public = line.get(1).is_some();
                let tree = line[3].trim();
                let items = match tree.find('{') {
                    Some(open) if tree.ends_with('}') => {
                        expand(&split_path(&tree[..open]), &tree[open + 1..tree.len() - 1])
                    }
                    _ => expand(&[], tree),
                };
                for (segs, alias) in items {
                    let Some(first) = segs.first() else { continue };
                    let path = if ["crate", "super", "self"].contains(&first.as_str()) {
                        absolute(m, first, &segs[1..])
                    } else {
                        let mut child = m.clone();
                        child.push(first.clone());
                        if !code.contains_key(&child) {
                            continue;
                        }
                        let mut path = m.clone();
                        path.extend(segs.iter().cloned());
                        path
                    };
                    if let Some(alias) = alias.filter(|a| a != "*") {
                        named.insert(alias, path.clone());
                    }
                    if !public {
                        used.push(path);
                    }
                }
            }
            let body = use_line.replace_all(text, "");
            for found in path_ref.captures_iter(&body) {
                used.push(absolute(m, &found[1], &split_path(&found[2])));
            }
            for child in code
                .keys()
                .filter(|c| c.len() == m.len() + 1 && c.starts_with(m))
            {
                let name = regex::escape(child.last().unwrap());
                let child_ref = Regex::new(&format!(r"(^|[^\w:]){name}((?:::\w+)+)")).unwrap();
                for found in child_ref.captures_iter(&body) {
                    let mut path = child.clone();
                    path.extend(split_path(&found[2]));
                    used.push(path);
                }
            }
            imports.insert(m.clone(), named);
            uses.insert(m.clone(), used);
        }
        Self {
            code,
            imports,
            uses,
        }
    }

    /// The module that defines the item at `path`.
    fn resolve(&self, path: &[String], depth: usize) -> Option<Module> {
        if depth > 20 {
            return None;
        }
        for i in (0..=path.len()).rev() {
            let module = path[..i].to_vec();
            if self.code.contains_key(&module) {
                if let Some(next) = path.get(i)
                    && let Some(target) = self.imports[&module].get(next)
                {
                    let mut followed = target.clone();
                    followed.extend(path[i + 1..].iter().cloned());
                    return self.resolve(&followed, depth + 1);
                }
                return Some(module);
            }
        }
        None
    }

    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        self.code
            .keys()
            .map(|m| {
                let to = self.uses[m]
                    .iter()
                    .filter_map(|path| self.resolve(path, 0))
                    .filter(|to| to != m)
                    .collect();
                (m.clone(), to)
            })
            .collect()
    }
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("/")
    }
}

/// Every circle, as `a -> b -> ... -> a`, one per edge that closes one.
fn circles(root: &Path) -> Vec<String> {
    let edges = Source::read(root).edges();
    let path_back = |from: &Module, to: &Module| -> Option<Vec<Module>> {
        // Breadth-first from `from` until `to`, keeping the way.
        let mut came: BTreeMap<Module, Module> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from.clone()]);
        let mut seen = BTreeSet::from([from.clone()]);
        while let Some(at) = queue.pop_front() {
            if &at == to {
                let mut way = vec![at.clone()];
                let mut cur = at;
                while let Some(prev) = came.get(&cur) {
                    way.push(prev.clone());
                    cur = prev.clone();
                }
                way.reverse();
                return Some(way);
            }
            for next in &edges[&at] {
                if seen.insert(next.clone()) {
                    came.insert(next.clone(), at.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        None
    };
    let mut found = Vec::new();
    for (a, tos) in &edges {
        for b in tos {
            if let Some(way) = path_back(b, a) {
                let mut names = vec![name(a)];
                names.extend(way.iter().map(name));
                found.push(names.join(" -> "));
            }
        }
    }
    found
}

#[test]
fn the_hosts_modules_form_no_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = circles(&root);
    assert!(
        found.is_empty(),
        "import circles in host/src (move what both sides need below them):\n{}",
        found.join("\n")
    );
}

/// The same of the plugin and the model crate.
#[test]
fn the_plugins_and_the_models_modules_form_no_import_circle() {
    for crate_dir in ["plugin", "model"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(crate_dir)
            .join("src");
        let found = circles(&root);
        assert!(
            found.is_empty(),
            "import circles in {crate_dir}/src:\n{}",
            found.join("\n")
        );
    }
}

/// The scan finds a circle through a parent and its child, and one
/// through a re-export, so that the test above can fail.
#[test]
fn the_scan_finds_a_circle_through_a_child_and_through_a_re_export() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a;\nmod b;\nmod c;\n");
    // a/mod.rs calls its child, which uses what a defines.
    write(
        "a/mod.rs",
        "mod child;\npub struct Shared;\npub fn run() { child::go() }\n",
    );
    write("a/child.rs", "use super::Shared;\npub fn go() {}\n");
    // b uses c through c's re-export of b's own item.
    write("b.rs", "use crate::c::Thing;\npub struct Other;\n");
    write(
        "c.rs",
        "pub use crate::b::Other as Thing;\npub fn f() -> crate::b::Other { todo!() }\n",
    );
    let found = circles(dir.path());
    assert!(
        found.iter().any(|c| c.contains("a -> a/child -> a")),
        "{found:?}"
    );
    // b -> c is a re-export of b itself: not a circle; c -> b is a use.
    assert!(!found.iter().any(|c| c.starts_with("b ")), "{found:?}");
    // Without the parent's call the child's use is fine.
    write("a/mod.rs", "mod child;\npub struct Shared;\n");
    let found = circles(dir.path());
    assert!(!found.iter().any(|c| c.contains("a/child")), "{found:?}");
}

/// The generated WIT types stay at the edge (#25): only the bindings, the
/// one conversion module, the export calls and the import glue name them;
/// everything else speaks the model.
#[test]
fn only_the_edge_names_the_wit_bindings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut code = BTreeMap::new();
    read_modules(&root, &root, &mut code);
    let naming: BTreeSet<String> = code
        .iter()
        .filter(|(_, text)| text.contains("bindings::"))
        .map(|(m, _)| name(m))
        .collect();
    let edge: BTreeSet<String> = [
        "convert",
        "exports",
        "imports/directory",
        "imports/logging",
        "imports/lowered",
        "imports/notifications",
        "imports/records",
    ]
    .map(String::from)
    .into();
    assert_eq!(naming, edge, "files naming the WIT bindings");
    assert!(naming.len() + 1 <= 8, "bindings.rs and at most 7 others");
}
