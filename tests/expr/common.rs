//! Helpers shared by the expression tests.

use cmek_arm::arm::expand::{expand, Context, Expansion};
use cmek_arm::arm::json;
use std::path::PathBuf;

/// `../shared/corpus/<sub>` if present, else `None` after printing why the test skips.
pub fn corpus(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIP: {} is absent (the shared corpus is not checked out)",
            dir.display()
        );
        None
    }
}

/// Expands template text with an optional parameters text.
pub fn expand_text(template: &str, parameters: Option<&str>, ctx: &Context) -> Expansion {
    let t = json::parse_str("t.json", template).unwrap();
    let p = parameters.map(|p| json::parse_str("p.json", p).unwrap());
    expand(&t, p.as_ref(), ctx)
}

/// A context with every value known.
pub fn full_context() -> Context {
    Context {
        subscription_id: Some("00000000-0000-0000-0000-000000000001".into()),
        resource_group: Some("rg-cmek".into()),
        resource_group_location: Some("eastus".into()),
        tenant_id: Some("11111111-1111-1111-1111-111111111111".into()),
        deployer_object_id: Some("22222222-2222-2222-2222-222222222222".into()),
        deployment_name: Some("deploy1".into()),
        not_the_deployer: Vec::new(),
    }
}
