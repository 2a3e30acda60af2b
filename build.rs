//! Collects each rule file's `//!` module documentation so `cmek-arm explain`
//! prints exactly the doc comment (ruff style: the doc comment *is* the docs).

use std::fmt::Write as _;
use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new("src/rules");
    println!("cargo:rerun-if-changed=src/rules");
    let mut entries: Vec<(String, String)> = Vec::new();
    if let Ok(read) = fs::read_dir(dir) {
        for entry in read.flatten() {
            let path = entry.path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let Some((id, _)) = stem.split_once('_') else {
                continue;
            };
            let is_rule = id.len() == 6
                && (id.starts_with("arm") || id.starts_with("cmk") || id.starts_with("pre"))
                && id[3..].bytes().all(|b| b.is_ascii_digit());
            if !is_rule {
                continue;
            }
            println!("cargo:rerun-if-changed={}", path.display());
            let text = fs::read_to_string(&path).unwrap_or_default();
            let doc: Vec<&str> = text
                .lines()
                .take_while(|l| l.starts_with("//!"))
                .map(|l| {
                    l.strip_prefix("//! ")
                        .unwrap_or(l.trim_start_matches("//!"))
                })
                .collect();
            entries.push((id.to_ascii_uppercase(), doc.join("\n").trim().to_string()));
        }
    }
    entries.sort();
    let mut out = String::from("/// Rule ID and its documentation, from each rule file's `//!` comment.\npub static RULE_DOCS: &[(&str, &str)] = &[\n");
    for (id, doc) in entries {
        let _ = writeln!(out, "    ({id:?}, {doc:?}),");
    }
    out.push_str("];\n");
    let dest =
        Path::new(&env::var("OUT_DIR").expect("OUT_DIR is set by cargo")).join("rule_docs.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
