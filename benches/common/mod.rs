//! What the in-process corpus benchmarks share.

/// Every AVM template in ../shared/corpus/avm as (path, bytes), sorted by path;
/// `None` (after saying so) when the corpus is absent.
pub fn avm_templates() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/avm");
    let Ok(read) = std::fs::read_dir(&dir) else {
        println!("SKIP: {} is absent", dir.display());
        return None;
    };
    let mut files: Vec<(String, Vec<u8>)> = read
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    Some(files)
}
