//! What the mutator starts from and draws on: seed templates (the shared corpus
//! when present, always the repository's own rule fixtures), their parameters
//! files, and pools of real expressions, calls and function names.

use cmek_arm::arm::json;
use serde_json::Value as Json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One template to mutate, with the parameters files it can be validated with.
pub struct Seed {
    /// Path relative to the corpus or the repository, for reports.
    pub name: String,
    /// The template as parsed by the engine's own loader (comments allowed).
    pub value: Json,
    /// Parameters files (raw bytes) that belong to this template.
    pub parameters: Vec<Vec<u8>>,
}

/// Material that mutations splice in.
#[derive(Default)]
pub struct Pools {
    /// Whole expression strings (`[...]`) from every seed and the function examples.
    pub expressions: Vec<String>,
    /// Call sub-expressions (`name(...)`) cut out of those expressions.
    pub calls: Vec<String>,
    /// Every built-in function name the engine knows, plus a few it does not.
    pub functions: Vec<String>,
}

/// Seeds and pools.
pub struct Corpus {
    pub seeds: Vec<Seed>,
    pub pools: Pools,
    /// False when `../shared/corpus` is absent (only the built-in seeds are used).
    pub shared: bool,
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus`, or `None` after printing why the corpus part is skipped.
fn shared_corpus() -> Option<PathBuf> {
    let dir = manifest().join("../shared/corpus");
    // CMEK_FUZZ_NO_CORPUS=1 shows what a clean clone runs.
    if dir.is_dir() && std::env::var_os("CMEK_FUZZ_NO_CORPUS").is_none() {
        Some(dir)
    } else {
        println!(
            "SKIP (corpus part): {} is absent (the shared corpus is not checked out) or \
             CMEK_FUZZ_NO_CORPUS is set; \
             fuzzing the built-in seeds in tests/fixtures only",
            dir.display()
        );
        None
    }
}

fn sorted_json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|e| e == "json"));
    out.sort();
    out
}

fn is_parameters(p: &Path) -> bool {
    p.to_string_lossy().ends_with(".parameters.json")
}

fn parse(path: &Path) -> Option<Json> {
    let bytes = std::fs::read(path).ok()?;
    json::parse(&path.display().to_string(), &bytes)
        .ok()
        .map(|d| d.value)
}

/// Loads the seeds (templates of at most `max_bytes`, when given) and builds the pools.
pub fn load(max_bytes: Option<usize>) -> Corpus {
    let small = |p: &Path| {
        max_bytes.is_none_or(|max| std::fs::metadata(p).is_ok_and(|m| m.len() as usize <= max))
    };
    let mut seeds = Vec::new();
    let push = |seeds: &mut Vec<Seed>, path: &Path, name: String, parameters: Vec<PathBuf>| {
        if !small(path) {
            return;
        }
        if let Some(value) = parse(path) {
            let parameters = parameters
                .iter()
                .filter_map(|p| std::fs::read(p).ok())
                .collect();
            seeds.push(Seed {
                name,
                value,
                parameters,
            });
        }
    };

    // Built-in seeds: the rule fixtures hold vaults, keys and role assignments,
    // which is what the CMK rules read.
    let repo_dirs = ["tests/fixtures/rules", "tests/fixtures/expr"];
    for dir in repo_dirs {
        for path in sorted_json_files(&manifest().join(dir)) {
            if is_parameters(&path) {
                continue;
            }
            let params = path.with_extension("parameters.json");
            let params = if params.is_file() {
                vec![params]
            } else {
                Vec::new()
            };
            let name = format!("{dir}/{}", file_name(&path));
            push(&mut seeds, &path, name, params);
        }
    }

    let mut examples = Vec::new();
    let shared = shared_corpus();
    if let Some(root) = &shared {
        let avm_params = sorted_json_files(&manifest().join("tests/fixtures/rules/avm"));
        for path in sorted_json_files(&root.join("avm")) {
            // Our parameters files for the key-vault module (tests/rules/real.rs).
            let params = if file_name(&path) == "key-vault__vault.json" {
                avm_params.clone()
            } else {
                Vec::new()
            };
            push(
                &mut seeds,
                &path,
                format!("avm/{}", file_name(&path)),
                params,
            );
        }
        let mut dirs = vec![root.join("quickstarts")];
        let mut quickstarts = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.file_name().is_some_and(|n| n == "azuredeploy.json") {
                    quickstarts.push(p);
                }
            }
        }
        quickstarts.sort();
        for path in quickstarts {
            let params = path.with_file_name("azuredeploy.parameters.json");
            let params = if params.is_file() {
                vec![params]
            } else {
                Vec::new()
            };
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            push(&mut seeds, &path, name, params);
        }
        // Function examples are expression donors only: each is one function's
        // published usage, with values the engine evaluates to completion.
        let ex = root.join("arm-function-examples");
        for path in sorted_json_files(&ex)
            .into_iter()
            .chain(sorted_json_files(&ex.join("with-parameters")))
        {
            examples.extend(parse(&path));
        }
    }

    let mut pools = Pools::default();
    let mut seen = HashSet::new();
    for v in seeds.iter().map(|s| &s.value).chain(examples.iter()) {
        collect_expressions(v, &mut pools.expressions, &mut seen);
    }
    let mut seen_calls = HashSet::new();
    for e in &pools.expressions {
        for (start, end) in call_spans(e).into_iter().take(8) {
            if let Some(c) = e.get(start..end) {
                if c.len() <= 2000 && seen_calls.insert(c.to_string()) {
                    pools.calls.push(c.to_string());
                }
            }
        }
    }
    pools.functions = function_names();
    Corpus {
        seeds,
        pools,
        shared: shared.is_some(),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// True for an ARM expression string (`[...]`, not the `[[` escape).
pub fn is_expression(s: &str) -> bool {
    s.starts_with('[') && s.ends_with(']') && !s.starts_with("[[")
}

fn collect_expressions(v: &Json, out: &mut Vec<String>, seen: &mut HashSet<String>) {
    match v {
        Json::String(s) if is_expression(s) && s.len() <= 4000 && seen.insert(s.clone()) => {
            out.push(s.clone());
        }
        Json::Array(a) => a.iter().for_each(|x| collect_expressions(x, out, seen)),
        Json::Object(o) => o.values().for_each(|x| collect_expressions(x, out, seen)),
        _ => {}
    }
}

/// Byte ranges of every call `name(...)` in an expression, outermost first;
/// quoted strings ('...', '' escapes) are skipped. Unbalanced calls are left out.
pub fn call_spans(e: &str) -> Vec<(usize, usize)> {
    let b = e.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    let mut ident_start: Option<usize> = None;
    while i < b.len() {
        let c = b[i];
        if quoted {
            if c == b'\'' {
                if b.get(i + 1) == Some(&b'\'') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else if c == b'\'' {
            quoted = true;
            ident_start = None;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            if ident_start.is_none() && c.is_ascii_alphabetic() {
                ident_start = Some(i);
            }
        } else if c == b'(' {
            if let Some(s) = ident_start {
                if let Some(end) = matching_paren(b, i) {
                    out.push((s, end + 1));
                }
            }
            ident_start = None;
        } else {
            ident_start = None;
        }
        i += 1;
    }
    out
}

/// Function-name ranges (`name` of `name(`) in an expression, outside quotes.
pub fn name_spans(e: &str) -> Vec<(usize, usize)> {
    call_spans(e)
        .into_iter()
        .filter_map(|(s, _)| {
            let len = e.get(s..)?.find('(')?;
            Some((s, s + len))
        })
        .collect()
}

fn matching_paren(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quoted = false;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        if quoted {
            if c == b'\'' {
                if b.get(i + 1) == Some(&b'\'') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else {
            match c {
                b'\'' => quoted = true,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The engine's built-in function names, read from its signature tables in
/// `src/arm/expr/*.rs` (so new functions are fuzzed without editing this list)
/// and kept only where `signature()` agrees; plus names it must reject.
fn function_names() -> Vec<String> {
    let re = regex::Regex::new(r#"\("([a-z][a-z0-9.]*)",\s*\d+,\s*(?:\d+|usize::MAX)\)"#)
        .expect("static regex");
    let mut names = Vec::new();
    for path in std::fs::read_dir(manifest().join("src/arm/expr"))
        .map(|r| r.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for c in re.captures_iter(&text) {
            let n = c[1].to_string();
            if cmek_arm::arm::expr::signature(&n).is_some() && !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names.sort();
    // Fallback for a tree where the tables moved: names that surely exist.
    for n in [
        "concat",
        "parameters",
        "variables",
        "copyindex",
        "resourceid",
    ] {
        if !names.iter().any(|x| x == n) {
            names.push(n.into());
        }
    }
    for n in ["nosuchfunction", "ns.userfn", "__proto__", "constructor"] {
        names.push(n.into());
    }
    names
}

#[test]
fn call_spans_skip_quotes_and_nest() {
    let e = "[concat(parameters('a(b'), 'x''y', toLower(variables('v')))]";
    let calls: Vec<&str> = call_spans(e).iter().map(|&(s, t)| &e[s..t]).collect();
    assert_eq!(
        calls,
        [
            "concat(parameters('a(b'), 'x''y', toLower(variables('v')))",
            "parameters('a(b')",
            "toLower(variables('v'))",
            "variables('v')"
        ]
    );
    let names: Vec<&str> = name_spans(e).iter().map(|&(s, t)| &e[s..t]).collect();
    assert_eq!(names, ["concat", "parameters", "toLower", "variables"]);
}
