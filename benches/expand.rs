//! Expansion throughput over every AVM template in ../shared/corpus/avm
//! (`cargo bench --bench expand`). Prints wall time for parsing and expanding,
//! best of several rounds, in-process.

use cmek_arm::arm::expand::{expand, Context};
use cmek_arm::arm::json;
use std::time::{Duration, Instant};

mod common;

fn main() {
    let Some(files) = common::avm_templates() else {
        return;
    };
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let ctx = Context {
        subscription_id: Some("00000000-0000-0000-0000-000000000001".into()),
        resource_group: Some("rg".into()),
        resource_group_location: Some("eastus".into()),
        tenant_id: Some("11111111-1111-1111-1111-111111111111".into()),
        ..Context::default()
    };
    let (mut best_parse, mut best_expand, mut best_total) =
        (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut resources = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let docs: Vec<json::Document> = files
            .iter()
            .filter_map(|(name, b)| json::parse(name, b).ok())
            .collect();
        let parsed = start.elapsed();
        let t = Instant::now();
        resources = docs
            .iter()
            .map(|d| expand(d, None, &ctx).resources.len())
            .sum::<usize>();
        let expanded = t.elapsed();
        best_parse = best_parse.min(parsed);
        best_expand = best_expand.min(expanded);
        best_total = best_total.min(start.elapsed());
    }
    println!(
        "{} templates, {:.1} MB: parse {:.3} s, expand {:.3} s, total {:.3} s ({} resources)",
        files.len(),
        bytes as f64 / 1e6,
        best_parse.as_secs_f64(),
        best_expand.as_secs_f64(),
        best_total.as_secs_f64(),
        resources
    );
}
