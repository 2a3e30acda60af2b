//! Golden table: expression -> value, evaluated through a one-output template so
//! parameters, variables and user functions are in scope.

use crate::common::{expand_text, full_context};
use cmek_arm::arm::expand::Context;
use serde_json::{json, Value as Json};

const TEMPLATE: &str = r##"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "name": {"type": "string", "defaultValue": "kv1"},
    "Count": {"type": "int", "defaultValue": 3},
    "obj": {"type": "object", "defaultValue": {"Alpha": {"beta": [10, 20]}}},
    "missing": {"type": "string"},
    "opt": {"$ref": "#/definitions/optional"}
  },
  "definitions": {"optional": {"type": "string", "nullable": true}},
  "variables": {
    "greeting": "[concat('hello ', parameters('NAME'))]",
    "copy": [{"name": "squares", "count": 3, "input": "[mul(copyIndex('squares'), copyIndex('squares'))]"}]
  },
  "functions": [{"namespace": "my", "members": {"prefixed": {
    "parameters": [{"name": "n", "type": "string"}],
    "output": {"type": "string", "value": "[format('cmek-{0}', parameters('n'))]"}}}}],
  "resources": [],
  "outputs": {"o": {"type": "object", "value": "__EXPR__"}}
}"##;

fn eval_in(expr: &str, ctx: &Context) -> Json {
    let template = TEMPLATE.replace("\"__EXPR__\"", &serde_json::to_string(expr).unwrap());
    let x = expand_text(&template, None, ctx);
    x.outputs["o"].value.to_json()
}

fn eval(expr: &str) -> Json {
    eval_in(expr, &Context::default())
}

#[test]
fn golden_values() {
    let cases: Vec<(&str, Json)> = vec![
        // Literals and escapes.
        ("[[notAnExpression]", json!("[notAnExpression]")),
        ("plain", json!("plain")),
        ("['it''s']", json!("it's")),
        ("[-5]", json!(-5)),
        ("[  concat( 'a' , 'b' )  ]", json!("ab")),
        // Case-insensitive names and property access.
        ("[CONCAT(Parameters('name'), '-x')]", json!("kv1-x")),
        ("[parameters('obj').alpha.BETA[1]]", json!(20)),
        ("[parameters('obj')['Alpha'].beta[0]]", json!(10)),
        ("[variables('Greeting')]", json!("hello kv1")),
        ("[variables('squares')]", json!([0, 1, 4])),
        ("[my.prefixed('key')]", json!("cmek-key")),
        ("[parameters('opt')]", json!(null)),
        // guid() and uniqueString(): uniqueString values are published by
        // github.com/eosfor/.. uniquestring.sh self-test "verified against Bicep".
        ("[uniqueString('test')]", json!("rbgf3xv4ufgzg")),
        ("[uniqueString('hello', 'world')]", json!("a7wkljktk6wne")),
        ("[uniqueString('abc')]", json!("cgtzqvhu4i23s")),
        (
            "[uniqueString('/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg')]",
            json!("bmg7c6xu4tw46"),
        ),
        ("[uniqueString('foo', 'bar', 'baz')]", json!("xzi4ioaxtmth4")),
        ("[length(guid('a'))]", json!(36)),
        ("[equals(guid('a', 'b'), guid('a-b'))]", json!(true)),
        // Strings.
        ("[format('{0}-{1:N0}-{2:D3}', 'x', 8175133, 7)]", json!("x-8,175,133-007")),
        ("[substring('abcdef', 1, 3)]", json!("bcd")),
        ("[split('a,b;c', createArray(',', ';'))]", json!(["a", "b", "c"])),
        ("[startsWith('Microsoft.KeyVault', 'microsoft.')]", json!(true)),
        ("[indexOf('abcABC', 'C')]", json!(2)),
        ("[padLeft('7', 3, '0')]", json!("007")),
        ("[toLower('AbC')]", json!("abc")),
        ("[replace('a-b-c', '-', '')]", json!("abc")),
        ("[string(createObject('a', 1))]", json!("{\"a\":1}")),
        ("[json('{''a'': [1, true]}')]", json!({"a": [1, true]})),
        ("[uriComponent('a b/c')]", json!("a%20b%2Fc")),
        ("[uri('https://x.test/a/b', 'c')]", json!("https://x.test/a/c")),
        ("[last(split('/subscriptions/s/resourceGroups/rg', '/'))]", json!("rg")),
        // Arrays and objects.
        ("[range(1, 3)]", json!([1, 2, 3])),
        ("[union(createObject('a', createObject('x', 1)), createObject('a', createObject('y', 2)))]", json!({"a": {"x": 1, "y": 2}})),
        ("[union(createArray(1, 2), createArray(2, 3))]", json!([1, 2, 3])),
        ("[intersection(createArray(1, 2, 3), createArray(3, 2))]", json!([2, 3])),
        ("[contains(createObject('Key', 1), 'key')]", json!(true)),
        ("[tryGet(parameters('obj'), 'nope', 'deeper')]", json!(null)),
        ("[shallowMerge(createArray(createObject('a', 1), createObject('a', 2, 'b', 3)))]", json!({"a": 2, "b": 3})),
        ("[items(createObject('b', 2, 'a', 1))]", json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}])),
        ("[coalesce(null(), null(), 'x')]", json!("x")),
        ("[empty(createArray())]", json!(true)),
        ("[take(skip(createArray(1, 2, 3, 4), 1), 2)]", json!([2, 3])),
        ("[flatten(createArray(createArray(1), createArray(2, 3)))]", json!([1, 2, 3])),
        // Logic and comparison.
        ("[if(equals(1, 1), 'yes', fail('never evaluated'))]", json!("yes")),
        ("[and(true(), false(), fail('short-circuit'))]", json!(false)),
        ("[or(false(), true())]", json!(true)),
        ("[greater('A', 'a')]", json!(true)),
        ("[less(2, 3)]", json!(true)),
        ("[equals(createArray(1, 'a'), createArray(1, 'a'))]", json!(true)),
        ("[equals('a', 'A')]", json!(false)),
        // Numbers.
        ("[add(mul(3, 4), div(7, 2))]", json!(15)),
        ("[mod(-7, 3)]", json!(-1)),
        ("[max(createArray(3, 9, 1))]", json!(9)),
        ("[int('42')]", json!(42)),
        // Lambdas.
        ("[map(range(0, 3), lambda('i', add(lambdaVariables('i'), 10)))]", json!([10, 11, 12])),
        ("[filter(createArray(1, 2, 3, 4), lambda('x', equals(mod(lambdaVariables('x'), 2), 0)))]", json!([2, 4])),
        ("[reduce(createArray(1, 2, 3), 0, lambda('acc', 'x', add(lambdaVariables('acc'), lambdaVariables('x'))))]", json!(6)),
        ("[sort(createArray(3, 1, 2), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))]", json!([1, 2, 3])),
        ("[toObject(createArray('a', 'b'), lambda('k', lambdaVariables('k')), lambda('k', length(lambdaVariables('k'))))]", json!({"a": 1, "b": 1})),
        ("[mapValues(createObject('a', 1), lambda('v', mul(lambdaVariables('v'), 2)))]", json!({"a": 2})),
        ("[groupBy(createArray('ab', 'ac', 'b'), lambda('s', first(lambdaVariables('s'))))]", json!({"a": ["ab", "ac"], "b": ["b"]})),
        // Dates and CIDR.
        ("[dateTimeAdd('2020-04-07T14:53:14Z', 'P3Y')]", json!("2023-04-07T14:53:14Z")),
        ("[dateTimeToEpoch('2023-05-02T15:16:13Z')]", json!(1683040573)),
        ("[cidrSubnet('10.144.0.0/20', 24, 3)]", json!("10.144.3.0/24")),
        // Resource IDs.
        (
            "[resourceId('sub-1', 'rg-2', 'Microsoft.KeyVault/vaults/keys', 'kv', 'k')]",
            json!("/subscriptions/sub-1/resourceGroups/rg-2/providers/Microsoft.KeyVault/vaults/kv/keys/k"),
        ),
        ("[tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p')]", json!("/providers/Microsoft.Authorization/policyDefinitions/p")),
        (
            "[extensionResourceId('/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv', 'Microsoft.Authorization/roleAssignments', 'ra')]",
            json!("/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv/providers/Microsoft.Authorization/roleAssignments/ra"),
        ),
        ("[environment().suffixes.keyvaultDns]", json!(".vault.azure.net")),
    ];
    let mut failures = Vec::new();
    for (expr, want) in &cases {
        let got = eval(expr);
        if &got != want {
            failures.push(format!("{expr}\n   want {want}\n    got {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// What the context lacks is a symbol of the deployment (unknown, but equal to
/// itself); what cannot be known at all is Unknown with a reason. Nothing is guessed.
#[test]
fn unknowns_are_explicit_and_propagate() {
    let unknown = |expr: &str| {
        let v = eval(expr);
        v.get("$unknown")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{expr} gave {v}"))
    };
    let symbolic = |expr: &str| {
        let v = eval(expr);
        v.get("$symbolic")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{expr} gave {v}"))
    };
    assert_eq!(
        symbolic("[subscription().subscriptionId]"),
        "{subscription().subscriptionId}"
    );
    assert_eq!(
        symbolic("[resourceGroup().location]"),
        "{resourceGroup().location}"
    );
    assert_eq!(symbolic("[deployer().objectId]"), "{deployer().objectId}");
    assert_eq!(
        symbolic("[resourceId('Microsoft.KeyVault/vaults', 'kv')]"),
        "/subscriptions/{subscription().subscriptionId}/resourceGroups/{resourceGroup().name}/providers/Microsoft.KeyVault/vaults/kv"
    );
    assert_eq!(
        symbolic("[parameters('missing')]"),
        "{parameters('missing')}"
    );
    // A symbol's reason names the flag that would give its value.
    assert!(
        unknown("[substring(subscription().subscriptionId, 0, 3)]").contains("--subscription-id")
    );
    assert!(unknown("[reference('kv').vaultUri]").contains("reference()"));
    assert!(unknown("[listKeys('sa', '2023-01-01').keys[0].value]").contains("listKeys"));
    assert!(unknown("[toUpper(concat(utcNow(), 'x'))]").contains("utcNow"));
    assert!(unknown("[newGuid()]").contains("newGuid"));
    // ... but only where the unknown matters.
    assert_eq!(
        eval("[if(true(), 'x', reference('kv').vaultUri)]"),
        json!("x")
    );
    assert_eq!(
        eval("[and(false(), reference('kv').enabled)]"),
        json!(false)
    );
    assert_eq!(eval("[length(createArray(reference('a'), 2))]"), json!(2));
    assert_eq!(eval("[coalesce('set', reference('kv'))]"), json!("set"));
    assert!(eval("[coalesce(reference('kv'), 'fallback')]")
        .get("$unknown")
        .is_some());
    // With the context given, the same expressions are known.
    let ctx = full_context();
    assert_eq!(
        eval_in("[resourceId('Microsoft.KeyVault/vaults', 'kv')]", &ctx),
        json!("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-cmek/providers/Microsoft.KeyVault/vaults/kv")
    );
    assert_eq!(
        eval_in("[subscription().tenantId]", &ctx),
        json!("11111111-1111-1111-1111-111111111111")
    );
    assert_eq!(eval_in("[resourceGroup().location]", &ctx), json!("eastus"));
}

/// Comparisons of symbolic values decide whenever the answer holds for every value
/// the symbols could take, and are unknown where it does not.
#[test]
fn symbols_compare_exactly_where_the_answer_does_not_depend_on_them() {
    let role = "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'e147488a-f6f5-4113-8e2d-b22465e65bf6')";
    let cases: &[(&str, Json)] = &[
        // Equal to itself, also through case mapping and ignoring case.
        ("[equals(subscription().subscriptionId, subscription().subscriptionId)]", json!(true)),
        (&format!("[equals({role}, {role})]"), json!(true)),
        (&format!("[equals(toLower({role}), toLower({role}))]"), json!(true)),
        ("[equals(parameters('missing'), parameters('MISSING'))]", json!(true)),
        ("[equals(tenant().tenantId, subscription().tenantId)]", json!(true)),
        // Different known text: different, whatever the symbols are.
        ("[equals(resourceId('Microsoft.KeyVault/vaults', 'a'), resourceId('Microsoft.KeyVault/vaults', 'b'))]", json!(false)),
        ("[equals(subscription().subscriptionId, 'not-a-guid')]", json!(false)),
        // The trailing GUID is known: split/last and endsWith find it.
        (&format!("[last(split({role}, '/'))]"), json!("e147488a-f6f5-4113-8e2d-b22465e65bf6")),
        (&format!("[endsWith({role}, 'E147488A-F6F5-4113-8E2D-B22465E65BF6')]"), json!(true)),
        (&format!("[startsWith({role}, '/subscriptions/')]"), json!(true)),
        (&format!("[contains({role}, 'roleDefinitions')]"), json!(true)),
        (&format!("[length({role})]"), json!(138)),
        ("[empty(resourceGroup().name)]", json!(false)),
        // guid() of the same symbols is the same symbol.
        ("[equals(guid(resourceGroup().id, 'x'), guid(resourceGroup().id, 'x'))]", json!(true)),
        ("[equals(guid(resourceGroup().id, 'x'), 'kv')]", json!(false)),
        // format() and concat() keep the structure.
        ("[equals(format('{0}/{1}', parameters('missing'), 'k'), concat(parameters('missing'), '/k'))]", json!(true)),
        ("[if(equals(subscription().id, concat('/subscriptions/', subscription().subscriptionId)), 'same', 'other')]", json!("same")),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = eval(expr);
        if &got != want {
            failures.push(format!("{expr}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Where the answer depends on what a symbol stands for: unknown, with why.
    for expr in [
        "[equals(subscription().subscriptionId, '00000000-0000-0000-0000-000000000000')]",
        "[equals(substring(uniqueString(resourceGroup().id), 0, 3), 'abc')]",
        "[equals(parameters('missing'), 'kv1')]",
        "[equals(toLower(parameters('missing')), parameters('missing'))]",
        "[split(parameters('missing'), '/')]",
        "[empty(parameters('missing'))]",
    ] {
        let got = eval(expr);
        assert!(got.get("$unknown").is_some(), "{expr} gave {got}");
    }
}

/// A nested deployment into another resource group has symbols of its own: its
/// resource group's location is never taken for the outer one's.
#[test]
fn nested_scopes_have_their_own_symbols() {
    let t = r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
      "contentVersion": "1.0.0.0", "parameters": {"otherSub": {"type": "string"}},
      "resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner",
        "subscriptionId": "[parameters('otherSub')]", "resourceGroup": "rg2",
        "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
          "parameters": {"outerSub": {"value": "[subscription().subscriptionId]"},
                         "outerLoc": {"value": "[resourceGroup().location]"}},
          "template": {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {"outerSub": {"type": "string"}, "outerLoc": {"type": "string"}, "unset": {"type": "string"}},
            "resources": [],
            "outputs": {
              "sameSub": {"type": "bool", "value": "[equals(subscription().subscriptionId, parameters('outerSub'))]"},
              "sameLoc": {"type": "bool", "value": "[equals(resourceGroup().location, parameters('outerLoc'))]"},
              "sameTenant": {"type": "bool", "value": "[equals(subscription().tenantId, tenant().tenantId)]"},
              "loc": {"type": "string", "value": "[resourceGroup().location]"},
              "unset": {"type": "string", "value": "[parameters('unset')]"}}}}}],
      "outputs": {"o": {"type": "object", "value": "[reference('inner').outputs]"}}}"#;
    let x = expand_text(t, None, &Context::default());
    assert!(x.diagnostics.is_empty(), "{:?}", x.diagnostics);
    let o = x.outputs["o"].value.to_json();
    // Another subscription (from a parameter without value) may or may not be the outer one.
    assert!(o["sameSub"]["value"].get("$unknown").is_some(), "{o}");
    assert!(o["sameLoc"]["value"].get("$unknown").is_some(), "{o}");
    assert_eq!(o["sameTenant"]["value"], json!(true));
    assert_eq!(
        o["loc"]["value"],
        json!({"$symbolic": "{resourceGroup().location@inner}"})
    );
    assert_eq!(
        o["unset"]["value"],
        json!({"$symbolic": "{parameters('unset')@inner}"})
    );
}

/// Broken expressions are findings with rule, pointer and the offending span.
#[test]
fn broken_expressions_are_findings() {
    let cases = [
        ("[concat('a', ]", "ARM003"),
        ("[concat('a'", "none"),
        ("['unterminated]", "ARM003"),
        ("[noSuchFunction(1)]", "ARM004"),
        ("[parameters('nope')]", "ARM004"),
        ("[variables('nope')]", "ARM004"),
        ("[concat]", "ARM003"),
        ("[if(true())]", "ARM004"),
        ("[my.unknown()]", "ARM004"),
        ("[lambdaVariables('x')]", "ARM004"),
        // Overflow-prone inputs are findings, never a panic.
        (
            "[dateTimeAdd('2020-01-01T00:00:00Z', 'P9999999999999999Y')]",
            "ARM004",
        ),
        (
            "[cidrHost('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128', 0)]",
            "ARM004",
        ),
        ("[add(9223372036854775807, 1)]", "ARM004"),
        ("[padLeft('x', 1000000000000, '0')]", "ARM004"),
    ];
    for (expr, rule) in cases {
        let template = TEMPLATE.replace("\"__EXPR__\"", &serde_json::to_string(expr).unwrap());
        let x = expand_text(&template, None, &Context::default());
        let rules: Vec<&str> = x.diagnostics.iter().map(|d| d.rule).collect();
        if rule == "none" {
            assert!(rules.is_empty(), "{expr}: {rules:?}");
            assert_eq!(
                x.outputs["o"].value.to_json(),
                json!(expr),
                "not an expression: a literal"
            );
            continue;
        }
        assert!(
            rules.contains(&rule),
            "{expr}: expected {rule}, got {:?}",
            x.diagnostics
        );
        let d = x.diagnostics.iter().find(|d| d.rule == rule).unwrap();
        match &d.location {
            cmek_arm::diag::Location::File {
                pointer,
                span: Some(_),
                ..
            } => assert_eq!(pointer, "/outputs/o/value"),
            other => panic!("{expr}: {other:?}"),
        }
    }
}
