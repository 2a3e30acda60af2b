//! Where `validate`'s time goes (`cargo bench --bench stages`): each stage of
//! `validate::analyse` timed separately over every AVM template in
//! ../shared/corpus/avm, single-threaded, mean of 3 rounds. The whole-process
//! figure against Python is benches/validate_avm.sh.

use cmek_arm::arm::expand::{expand, Context};
use cmek_arm::arm::{json, schema};
use cmek_arm::rules::{self, Check, Flags, Settings, TemplateInput};
use std::time::{Duration, Instant};

mod common;

fn main() {
    let Some(files) = common::avm_templates() else {
        return;
    };
    let settings = Settings::from_flags(&Flags::default()).unwrap();
    let ctx = Context::default();
    let mut t: std::collections::BTreeMap<String, Duration> = Default::default();
    let mut add = |k: &str, d: Duration| *t.entry(k.to_string()).or_default() += d;
    // Compile the schema before timing: it happens once per process.
    let d0 = json::parse("x", b"{}").unwrap();
    let _ = schema::check(&d0);
    for _ in 0..3 {
        for (name, b) in &files {
            let s = Instant::now();
            let doc = json::parse(name, b).unwrap();
            add("1 parse", s.elapsed());
            let s = Instant::now();
            let _ = schema::check(&doc).unwrap();
            add("2 schema", s.elapsed());
            let s = Instant::now();
            let ex = expand(&doc, None, &ctx);
            add("3 expand", s.elapsed());
            let input = TemplateInput {
                template: &doc,
                parameters: None,
            };
            for rule in rules::RULES {
                if let Check::Template(check) = rule.check {
                    let s = Instant::now();
                    let mut out = Vec::new();
                    check(&input, &mut out);
                    add(&format!("4 {}", rule.id), s.elapsed());
                }
            }
            let s = Instant::now();
            let dep = cmek_arm::model::from_expansion_with(&ex, &doc, None);
            add("5 model", s.elapsed());
            let s = Instant::now();
            let _ = rules::check_model(&dep, &settings);
            add("6 cmk", s.elapsed());
            let s = Instant::now();
            drop(dep);
            drop(ex);
            drop(doc);
            add("7 drop", s.elapsed());
        }
    }
    let total: Duration = t.values().sum();
    for (k, v) in &t {
        println!("{k:10} {:8.1} ms", v.as_secs_f64() * 1000.0 / 3.0);
    }
    println!("total      {:8.1} ms", total.as_secs_f64() * 1000.0 / 3.0);
}
