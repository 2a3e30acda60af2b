//! Property test: any valid input renders JSON that parses and carries the inputs
//! unchanged (parameters file values, tags, firewall, rotation).

use cmek_arm::params::{RawParams, RawTags, Tags, KNOWN_REGIONS};
use cmek_arm::render::render;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn vault_name() -> impl Strategy<Value = String> {
    "[A-Za-z]([A-Za-z0-9]|-[A-Za-z0-9]){1,11}"
        .prop_filter("3-24 chars", |s| (3..=24).contains(&s.len()))
}

fn guid() -> impl Strategy<Value = String> {
    any::<u128>()
        .prop_filter("not nil", |n| *n != 0)
        .prop_map(|n| uuid::Uuid::from_u128(n).hyphenated().to_string())
}

fn cidr() -> impl Strategy<Value = String> {
    (any::<u32>(), prop::option::of(0u32..=32)).prop_map(|(ip, bits)| match bits {
        None => std::net::Ipv4Addr::from(ip).to_string(),
        Some(b) => {
            let mask = u32::MAX.checked_shl(32 - b).unwrap_or(0);
            format!("{}/{b}", std::net::Ipv4Addr::from(ip & mask))
        }
    })
}

fn tags() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[^<>%&\\\\?/\\p{Cc}]{1,20}", any::<String>(), 0..6)
        .prop_filter("valid, case-distinct tags", |m| {
            Tags::from_map("--tag", m.clone()).is_ok()
        })
}

fn inputs() -> impl Strategy<Value = RawParams> {
    (
        prop::sample::select(KNOWN_REGIONS),
        vault_name(),
        "[A-Za-z0-9-]{1,127}",
        guid(),
        prop::option::of(guid()),
        (
            prop::sample::select(vec!["RSA", "RSA-HSM"]),
            prop::sample::select(vec![2048i64, 3072, 4096]),
        ),
        prop::option::of(prop::sample::select(vec![
            "P1Y", "P90D", "P18M", "P2Y6M15D", "P4W",
        ])),
        7i64..=90,
        prop::collection::btree_set(cidr(), 0..4),
        tags(),
    )
        .prop_map(
            |(region, vault, key, sp, officer, (kty, size), rotate, retention, ips, tags)| {
                RawParams {
                    region: Some(region.to_string()),
                    vault_name: Some(vault),
                    key_name: Some(key),
                    sp_object_id: Some(sp),
                    officer_object_id: officer,
                    key_type: Some(kty.into()),
                    key_size: Some(size),
                    no_rotation: Some(rotate.is_none()),
                    rotate_every: rotate.map(str::to_string),
                    retention_days: Some(retention),
                    allow_ip: Some(ips.into_iter().collect()),
                    tag: Some(RawTags::Map(tags)),
                    ..RawParams::default()
                }
            },
        )
}

/// Undoes the `[[` escape of a template literal.
fn arm_unescape(s: &str) -> &str {
    if s.starts_with("[[") && s.ends_with(']') {
        &s[1..]
    } else {
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn valid_inputs_render_parseable_json_carrying_the_inputs(raw in inputs()) {
        let request = raw.clone().validate().unwrap();
        let rendered = render(&request).unwrap();
        let template: Value = serde_json::from_str(&rendered.template).unwrap();
        let parameters: Value = serde_json::from_str(&rendered.parameters).unwrap();
        let _ui: Value = serde_json::from_str(&rendered.ui_definition).unwrap();

        let p = &parameters["parameters"];
        prop_assert_eq!(p["location"]["value"].as_str(), raw.region.as_deref());
        prop_assert_eq!(p["vaultName"]["value"].as_str(), raw.vault_name.as_deref());
        prop_assert_eq!(p["keyName"]["value"].as_str(), raw.key_name.as_deref());
        prop_assert_eq!(p["servicePrincipalObjectId"]["value"].as_str(), raw.sp_object_id.as_deref());
        prop_assert_eq!(p["officerObjectId"]["value"].as_str(), raw.officer_object_id.as_deref());
        prop_assert_eq!(p["keyType"]["value"].as_str(), raw.key_type.as_deref());
        prop_assert_eq!(p["keySize"]["value"].as_i64(), raw.key_size);
        prop_assert_eq!(p["softDeleteRetentionInDays"]["value"].as_i64(), raw.retention_days);

        let vault = &template["resources"][0];
        let key = &template["resources"][1];
        let Some(RawTags::Map(tags)) = &raw.tag else { unreachable!() };
        for resource in [vault, key] {
            let got: BTreeMap<String, String> = resource["tags"].as_object().unwrap().iter()
                .map(|(k, v)| (k.clone(), arm_unescape(v.as_str().unwrap()).to_string()))
                .collect();
            prop_assert_eq!(&got, tags);
        }
        let ips: Vec<&str> = vault["properties"]["networkAcls"]["ipRules"].as_array()
            .map(|a| a.iter().map(|r| r["value"].as_str().unwrap()).collect())
            .unwrap_or_default();
        let want: Vec<&str> = raw.allow_ip.iter().flatten().map(String::as_str).collect();
        prop_assert_eq!(ips, want.clone());
        let default_action = vault["properties"]["networkAcls"]["defaultAction"].as_str();
        prop_assert_eq!(default_action, Some(if want.is_empty() { "Allow" } else { "Deny" }));

        let policy = &key["properties"]["rotationPolicy"];
        match &raw.rotate_every {
            None => prop_assert!(policy.is_null()),
            Some(every) => {
                let expected = cmek_arm::params::Iso8601Duration::parse("--rotate-every", every)
                    .unwrap()
                    .to_string();
                prop_assert_eq!(
                    policy["lifetimeActions"][0]["trigger"]["timeAfterCreate"].as_str(),
                    Some(expected.as_str())
                );
            }
        }
    }
}
