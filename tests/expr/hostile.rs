//! Hostile input: the parser never panics, and limits turn hangs and memory
//! blow-ups into findings.

use crate::common::expand_text;
use cmek_arm::arm::expand::Context;
use cmek_arm::arm::expr::parser::parse_string;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_arbitrary_strings(s in "\\PC*") {
        let _ = parse_string(&s);
        let _ = parse_string(&format!("[{s}]"));
    }

    #[test]
    fn parser_never_panics_on_expression_like_strings(s in "[\\[\\]()',.a-zA-Z0-9 ?-]{0,64}") {
        let _ = parse_string(&format!("[{s}]"));
    }
}

fn template(resources: &str, variables: &str, outputs: &str) -> String {
    format!(
        r#"{{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0", "variables": {variables}, "resources": {resources}, "outputs": {outputs}}}"#
    )
}

fn messages(x: &cmek_arm::arm::expand::Expansion) -> Vec<String> {
    x.diagnostics
        .iter()
        .map(|d| format!("{} {}", d.rule, d.message))
        .collect()
}

#[test]
fn deep_nesting_is_a_syntax_finding_and_long_expressions_a_limit() {
    // 3,000 levels in 24,005 characters: within ARM's length, over the parser's depth.
    let deep = format!("[{}'x'{}]", "concat(".repeat(3_000), ")".repeat(3_000));
    assert!(deep.len() <= cmek_arm::arm::limits::ARM_MAX_EXPRESSION_CHARS);
    let out = serde_json::json!({"o": {"type": "string", "value": deep}}).to_string();
    let x = expand_text(&template("[]", "{}", &out), None, &Context::default());
    let m = messages(&x);
    assert!(
        m.iter()
            .any(|m| m.starts_with("ARM003") && m.contains("nested deeper")),
        "{m:?}"
    );
    // 100,000 levels: ARM refuses the expression for its length; it is not parsed.
    let deeper = format!("[{}'x'{}]", "concat(".repeat(100_000), ")".repeat(100_000));
    let out = serde_json::json!({"o": {"type": "string", "value": deeper}}).to_string();
    let x = expand_text(&template("[]", "{}", &out), None, &Context::default());
    assert_eq!(
        messages(&x),
        ["ARM004 limit exceeded: the expression is 800005 characters long; ARM's limit is 24576"]
    );
    assert!(x.outputs["o"].value.is_unknown());
    let parens = format!("[{}1{}]", "(".repeat(100_000), ")".repeat(100_000));
    assert!(parse_string(&parens).is_err());
}

#[test]
fn copy_count_of_a_billion_is_a_finding_not_an_allocation() {
    let res = r#"[{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "[concat('kv', copyIndex())]",
                  "location": "eastus", "copy": {"name": "loop", "count": 1000000000}, "properties": {}}]"#;
    let x = expand_text(&template(res, "{}", "{}"), None, &Context::default());
    assert!(x.resources.is_empty());
    assert!(
        messages(&x)
            .iter()
            .any(|m| m.contains("copy count 1000000000 is outside 0..800")),
        "{:?}",
        messages(&x)
    );
    let vars = r#"{"copy": [{"name": "v", "count": 1000000000, "input": "x"}]}"#;
    let out = r#"{"o": {"type": "array", "value": "[variables('v')]"}}"#;
    let x = expand_text(&template("[]", vars, out), None, &Context::default());
    assert!(x.outputs["o"].value.is_unknown());
    let out = r#"{"o": {"type": "array", "value": "[range(0, 1000000000)]"}}"#;
    let x = expand_text(&template("[]", "{}", out), None, &Context::default());
    assert!(
        messages(&x)
            .iter()
            .any(|m| m.contains("range() count 1000000000")),
        "{:?}",
        messages(&x)
    );
}

#[test]
fn self_referencing_variables_are_arm004_not_a_hang() {
    let vars = r#"{"a": "[variables('b')]", "b": "[concat(variables('a'), 'x')]", "self": "[variables('self')]"}"#;
    let out = r#"{"o": {"type": "string", "value": "[variables('a')]"}, "s": {"type": "string", "value": "[variables('self')]"}}"#;
    let x = expand_text(&template("[]", vars, out), None, &Context::default());
    assert!(x.outputs["o"].value.is_unknown() && x.outputs["s"].value.is_unknown());
    let m = messages(&x);
    assert!(
        m.iter()
            .any(|m| m.starts_with("ARM004") && m.contains("variable 'a' refers to itself")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|m| m.contains("variable 'self' refers to itself")),
        "{m:?}"
    );
}

#[test]
fn exponential_strings_hit_the_size_limit() {
    // Each variable doubles the previous one: 2^40 bytes if unchecked.
    let mut vars = serde_json::Map::new();
    vars.insert("v0".into(), "0123456789abcdef".into());
    for i in 1..=40 {
        vars.insert(
            format!("v{i}"),
            format!("[concat(variables('v{}'), variables('v{}'))]", i - 1, i - 1).into(),
        );
    }
    let out = r#"{"o": {"type": "string", "value": "[variables('v40')]"}}"#;
    let x = expand_text(
        &template("[]", &serde_json::Value::Object(vars).to_string(), out),
        None,
        &Context::default(),
    );
    assert!(x.outputs["o"].value.is_unknown());
    assert!(
        messages(&x).iter().any(|m| m.contains("too long a string")),
        "{:?}",
        messages(&x)
    );
}

#[test]
fn deep_variable_chains_hit_the_nesting_limit() {
    let mut vars = serde_json::Map::new();
    vars.insert("v0".into(), "x".into());
    for i in 1..=5000 {
        vars.insert(format!("v{i}"), format!("[variables('v{}')]", i - 1).into());
    }
    let out = r#"{"o": {"type": "string", "value": "[variables('v5000')]"}}"#;
    let x = expand_text(
        &template("[]", &serde_json::Value::Object(vars).to_string(), out),
        None,
        &Context::default(),
    );
    assert!(x.outputs["o"].value.is_unknown());
    assert!(
        messages(&x).iter().any(|m| m.contains("nest deeper")),
        "{:?}",
        messages(&x)
    );
}

#[test]
fn runaway_evaluation_stops_at_the_step_budget() {
    use cmek_arm::arm::expr::Limits;
    // 10,000^3 lambda calls if nothing stopped it.
    let expr = "[map(range(0, 10000), lambda('a', map(range(0, 10000), lambda('b', length(range(0, 10000))))))]";
    let out = serde_json::json!({"o": {"type": "array", "value": expr}, "p": {"type": "int", "value": "[add(1, 2)]"}}).to_string();
    let doc = cmek_arm::arm::json::parse_str("t.json", &template("[]", "{}", &out)).unwrap();
    let limits = Limits {
        max_steps: 200_000,
        ..Limits::default()
    };
    let x = cmek_arm::arm::expand::expand_with(&doc, None, &Context::default(), limits);
    assert!(x.outputs["o"].value.is_unknown());
    let m = messages(&x);
    assert!(
        m.iter()
            .any(|m| m.contains("evaluation budget of 200000 units")),
        "{m:?}"
    );
    // Everything after the budget ran out is unknown, never guessed.
    assert!(x.outputs["p"].value.is_unknown());
}

#[test]
fn budget_running_out_where_findings_are_muted_is_still_reported() {
    // An `existing` resource is only read (its faults are not the template's),
    // but the budget it used up stops the expansion all the same: said once.
    let res = r#"[{"type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01", "name": "kv", "existing": true,
                  "properties": {"x": "[length(map(range(0, 10000), lambda('i', range(0, 10000))))]"}},
                 {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2024-11-01", "name": "kv2", "location": "eastus", "properties": {}}]"#;
    let x = expand_text(&template(res, "{}", "{}"), None, &Context::default());
    let budget: Vec<String> = messages(&x)
        .into_iter()
        .filter(|m| m.contains("evaluation budget"))
        .collect();
    assert_eq!(budget.len(), 1, "{:?}", messages(&x));
    assert!(budget[0].starts_with("ARM004 limit exceeded"), "{budget:?}");
}

#[test]
fn each_variable_copy_loop_counts_as_one_of_arms_512_variables() {
    let mut vars = serde_json::Map::new();
    for i in 0..500 {
        vars.insert(format!("v{i}"), i.into());
    }
    let loops: Vec<_> = (0..12)
        .map(|i| serde_json::json!({"name": format!("l{i}"), "count": 1, "input": "x"}))
        .collect();
    vars.insert("copy".into(), loops.clone().into());
    let at_limit = serde_json::Value::Object(vars.clone()).to_string();
    let x = expand_text(&template("[]", &at_limit, "{}"), None, &Context::default());
    assert!(messages(&x).is_empty(), "{:?}", messages(&x));
    let mut more = loops;
    more.push(serde_json::json!({"name": "l12", "count": 1, "input": "x"}));
    vars.insert("copy".into(), more.into());
    let over = serde_json::Value::Object(vars).to_string();
    let x = expand_text(&template("[]", &over, "{}"), None, &Context::default());
    let pointers: Vec<String> = x
        .diagnostics
        .iter()
        .map(|d| match &d.location {
            cmek_arm::diag::Location::File { pointer, .. } => format!("{} {pointer}", d.message),
            _ => String::new(),
        })
        .collect();
    assert_eq!(
        pointers,
        ["limit exceeded: the template declares 513 variables; ARM's limit is 512 per template /variables/copy/12"]
    );
}
