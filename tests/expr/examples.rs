//! Microsoft's published examples for template functions
//! (../shared/corpus/arm-function-examples): expand each template with its default
//! parameter values and compare every output with the published value.

use crate::common::{corpus, expand_text};
use cmek_arm::arm::expand::Context;
use serde_json::Value as Json;

/// Numbers compare by value (the docs print `1` where ARM may keep `1.0`).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn published_function_examples() {
    let Some(dir) = corpus("arm-function-examples") else {
        return;
    };
    let index: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let mut total = 0;
    let mut failures = Vec::new();
    for case in index.as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let expansion = expand_text(&text, None, &Context::default());
        for (name, want) in case["outputs"].as_object().unwrap() {
            total += 1;
            let got = expansion.outputs.get(name).map(|o| o.value.to_json());
            if !got.as_ref().is_some_and(|g| same(g, want)) {
                failures.push(format!("{file} {name}: want {want}, got {got:?}"));
            }
        }
    }
    println!(
        "function examples: {} of {total} outputs match",
        total - failures.len()
    );
    for f in &failures {
        println!("MISMATCH {f}");
    }
    assert_eq!(total, 164, "index.json lists 164 published outputs");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn published_example_with_parameters() {
    let Some(dir) = corpus("arm-function-examples/with-parameters") else {
        return;
    };
    let index: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let mut checked = 0;
    for case in index.as_array().unwrap() {
        let text = std::fs::read_to_string(dir.join(case["file"].as_str().unwrap())).unwrap();
        let mut params = serde_json::Map::new();
        for (k, v) in case["parameters"].as_object().unwrap() {
            params.insert(k.clone(), serde_json::json!({ "value": v }));
        }
        let params = serde_json::json!({ "parameters": params }).to_string();
        let expansion = expand_text(&text, Some(&params), &Context::default());
        for (name, want) in case["outputs"].as_object().unwrap() {
            let got = expansion.outputs[name].value.to_json();
            assert!(same(&got, want), "{name}: want {want}, got {got}");
            checked += 1;
        }
        // Without the parameter the default is utcNow()-based: unknown, never invented.
        let unset = expand_text(&text, None, &Context::default());
        assert!(unset.outputs["epochValue"].value.is_unknown());
    }
    assert_eq!(checked, 2);
}
