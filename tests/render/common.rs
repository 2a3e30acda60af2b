//! Shared helpers: render requests for the named cases, and the corpus location.

use cmek_arm::params::{RawParams, RawTags, RenderRequest};
use std::path::PathBuf;

/// The vendor's service principal in every case.
pub const SP: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

/// The inputs of the README example.
pub fn base() -> RawParams {
    RawParams {
        region: Some("eastus".into()),
        vault_name: Some("kv-cmek-01".into()),
        key_name: Some("tidb-cmek-a1b2c3".into()),
        sp_object_id: Some(SP.into()),
        ..Default::default()
    }
}

/// The named render cases of issue 2, each as validated inputs.
pub fn cases() -> Vec<(&'static str, RenderRequest)> {
    let hsm = RawParams {
        key_type: Some("RSA-HSM".into()),
        key_size: Some(4096),
        officer_object_id: Some("8d8e3f6a-2b1c-4d5e-9f60-718293a4b5c6".into()),
        ..base()
    };
    let no_rotation = RawParams {
        no_rotation: Some(true),
        retention_days: Some(7),
        ..base()
    };
    let allow_ip = RawParams {
        allow_ip: Some(vec!["203.0.113.0/24".into(), "198.51.100.7".into()]),
        rotate_every: Some("P90D".into()),
        key_name: None,
        key_prefix: Some("tidb-cmek".into()),
        key_suffix: Some("a1b2c3".into()),
        ..base()
    };
    let awkward_tags = RawParams {
        tag: Some(RawTags::List(vec![
            r#"quote"d=say "hi""#.into(),
            r"path=C:\path\to\x".into(),
            "環境=本番 🚀".into(),
            "expr=[concat('a', 'b')]".into(),
            "cost center=a=b=c".into(),
            "empty=".into(),
            "escaped=[[already]".into(),
            "handlebars={{region}}".into(),
            "newline=line1\nline2".into(),
        ])),
        ..base()
    };
    [
        ("defaults", base()),
        ("rsa_hsm", hsm),
        ("no_rotation", no_rotation),
        ("allow_ip", allow_ip),
        ("awkward_tags", awkward_tags),
    ]
    .into_iter()
    .map(|(name, raw)| (name, raw.validate().unwrap()))
    .collect()
}

/// The `--existing-vault` render cases: the vault in the deployment's resource
/// group with the defaults, and in another resource group with every option
/// that still applies (HSM key, officer, suffix, rotation, tags).
pub fn existing_vault_cases() -> Vec<(&'static str, RenderRequest)> {
    let same_group = RawParams {
        existing_vault: Some(true),
        ..base()
    };
    let other_group = RawParams {
        existing_vault: Some(true),
        vault_resource_group: Some("rg-shared-vaults".into()),
        key_type: Some("RSA-HSM".into()),
        key_size: Some(4096),
        officer_object_id: Some("8d8e3f6a-2b1c-4d5e-9f60-718293a4b5c6".into()),
        key_name: None,
        key_prefix: Some("tidb-cmek".into()),
        key_suffix: Some("a1b2c3".into()),
        rotate_every: Some("P90D".into()),
        tag: Some(RawTags::List(vec![
            "env=prod".into(),
            "expr=[concat('a')]".into(),
        ])),
        ..base()
    };
    [
        ("existing_vault", same_group),
        ("existing_vault_other_group", other_group),
    ]
    .into_iter()
    .map(|(name, raw)| (name, raw.validate().unwrap()))
    .collect()
}

/// `../shared/corpus/arm-schemas`, or `None` after printing why the caller skips.
pub fn arm_schemas_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/arm-schemas");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: {} is absent (a clone outside the shared workspace); official-schema checks not run",
            dir.display()
        );
        None
    }
}
