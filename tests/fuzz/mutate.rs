//! The structure-aware mutator: several mutations of the parsed template (real
//! expressions and calls spliced in, function names swapped, hostile copy counts,
//! nulls and huge values, duplicated subtrees, deployments nested in themselves,
//! deleted keys), then sometimes byte-level damage to the serialised text.
//! Everything is drawn from one [`Rng`], so (seed, iteration) reproduces an input.

use crate::rng::Rng;
use crate::seeds::{call_spans, is_expression, name_spans, Corpus};
use serde_json::{json, Map, Value as Json};

/// Mutated inputs larger than this are generated again: the engine's own file
/// cap is tested elsewhere, and megabytes of copies only slow the run down.
const MAX_INPUT_BYTES: usize = 6 << 20;

/// One fuzz input, ready to be written to disk.
pub struct Input {
    /// The seed it was made from.
    pub seed_name: String,
    /// Template bytes (not necessarily JSON, not necessarily UTF-8).
    pub template: Vec<u8>,
    /// Parameters file bytes, when the seed has parameters files.
    pub parameters: Option<Vec<u8>>,
    /// What was done, in order (mutation and JSON pointer), for the crash report.
    pub log: Vec<String>,
    /// Validate with a full rule context (`--sp-object-id`, `--region`, ...,
    /// every deployment value known) instead of the CLI defaults.
    pub rich: bool,
}

/// Makes input number `iteration` of the run with `seed`.
pub fn generate(corpus: &Corpus, seed: u64, iteration: u64) -> Input {
    let mut rng = Rng::for_input(seed, iteration);
    for _ in 0..3 {
        let input = attempt(corpus, &mut rng);
        if input.template.len() <= MAX_INPUT_BYTES {
            return input;
        }
    }
    // Three oversized attempts in a row: fall back to a plain seed.
    let s = rng.pick(&corpus.seeds).expect("at least one seed");
    Input {
        seed_name: s.name.clone(),
        template: serde_json::to_vec(&s.value).unwrap_or_default(),
        parameters: None,
        log: vec!["unmutated (mutations exceeded the size cap)".into()],
        rich: false,
    }
}

fn attempt(corpus: &Corpus, rng: &mut Rng) -> Input {
    let seed = rng.pick(&corpus.seeds).expect("at least one seed");
    let mut doc = seed.value.clone();
    let mut log = Vec::new();
    // Mostly few mutations (the input stays close to a real template and gets
    // deep into the engine), sometimes many.
    let n = rng.skewed(8);
    for _ in 0..n {
        mutate(&mut doc, corpus, rng, &mut log);
    }
    let mut template = if rng.chance(1, 2) {
        serde_json::to_vec_pretty(&doc)
    } else {
        serde_json::to_vec(&doc)
    }
    .unwrap_or_default();
    if rng.chance(1, 5) {
        damage_bytes(&mut template, rng, &mut log);
    }
    let parameters = match rng.pick(&seed.parameters) {
        Some(p) if rng.chance(2, 3) => {
            if rng.chance(1, 4) {
                Some(mutate_parameters(p, corpus, rng, &mut log))
            } else {
                Some(p.clone())
            }
        }
        _ => None,
    };
    Input {
        seed_name: seed.name.clone(),
        template,
        parameters,
        log,
        rich: rng.chance(1, 2),
    }
}

fn mutate_parameters(
    bytes: &[u8],
    corpus: &Corpus,
    rng: &mut Rng,
    log: &mut Vec<String>,
) -> Vec<u8> {
    let Ok(doc) = cmek_arm::arm::json::parse("p.json", bytes) else {
        return bytes.to_vec();
    };
    let mut v = doc.value;
    let mut plog = Vec::new();
    for _ in 0..rng.range(1, 2) {
        mutate(&mut v, corpus, rng, &mut plog);
    }
    log.extend(plog.into_iter().map(|l| format!("parameters: {l}")));
    serde_json::to_vec_pretty(&v).unwrap_or_default()
}

type Pred<'p> = &'p dyn Fn(&Json) -> bool;

fn count(v: &Json, p: Pred<'_>) -> usize {
    let here = usize::from(p(v));
    here + match v {
        Json::Array(a) => a.iter().map(|x| count(x, p)).sum(),
        Json::Object(o) => o.values().map(|x| count(x, p)).sum(),
        _ => 0,
    }
}

/// The `k`th node (pre-order) matching `p`; `path` gets its pointer tokens in reverse.
fn nth_mut<'a>(
    v: &'a mut Json,
    p: Pred<'_>,
    k: &mut usize,
    path: &mut Vec<String>,
) -> Option<&'a mut Json> {
    if p(v) {
        if *k == 0 {
            return Some(v);
        }
        *k -= 1;
    }
    match v {
        Json::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                if let Some(r) = nth_mut(x, p, k, path) {
                    path.push(i.to_string());
                    return Some(r);
                }
            }
            None
        }
        Json::Object(o) => {
            for (key, x) in o.iter_mut() {
                if let Some(r) = nth_mut(x, p, k, path) {
                    path.push(key.replace('~', "~0").replace('/', "~1"));
                    return Some(r);
                }
            }
            None
        }
        _ => None,
    }
}

/// A uniformly chosen node matching `p`, with its JSON pointer.
fn pick_mut<'a>(v: &'a mut Json, p: Pred<'_>, rng: &mut Rng) -> Option<(&'a mut Json, String)> {
    let n = count(v, p);
    if n == 0 {
        return None;
    }
    let mut k = rng.below(n);
    let mut path = Vec::new();
    let node = nth_mut(v, p, &mut k, &mut path)?;
    let pointer: String = path.iter().rev().map(|t| format!("/{t}")).collect();
    Some((node, pointer))
}

fn pick_ref<'a>(v: &'a Json, p: Pred<'_>, rng: &mut Rng) -> Option<&'a Json> {
    fn nth<'a>(v: &'a Json, p: Pred<'_>, k: &mut usize) -> Option<&'a Json> {
        if p(v) {
            if *k == 0 {
                return Some(v);
            }
            *k -= 1;
        }
        match v {
            Json::Array(a) => a.iter().find_map(|x| nth(x, p, k)),
            Json::Object(o) => o.values().find_map(|x| nth(x, p, k)),
            _ => None,
        }
    }
    let n = count(v, p);
    if n == 0 {
        return None;
    }
    nth(v, p, &mut rng.below(n))
}

fn any(_: &Json) -> bool {
    true
}

fn expression(v: &Json) -> bool {
    v.as_str().is_some_and(is_expression)
}

fn is_deployment(v: &Json) -> bool {
    v.get("type")
        .and_then(Json::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Resources/deployments"))
        && v.pointer("/properties/template")
            .is_some_and(Json::is_object)
}

/// Values ARM's copy loops must refuse or evaluate with care.
fn hostile_count(rng: &mut Rng) -> Json {
    let choices = [
        json!(0),
        json!(1),
        json!(800),
        json!(801),
        json!(-1),
        json!(1_000_000_000),
        json!(1e9),
        json!(2.5),
        json!(u64::MAX),
        json!("[parameters('x')]"),
        json!("[variables('nope')]"),
        json!("[length(range(0, 800))]"),
        json!("[length(range(0, 801))]"),
        json!("[copyIndex()]"),
        json!("[int('12')]"),
        json!("5"),
        json!("abc"),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
    ];
    choices[rng.below(choices.len())].clone()
}

/// A value to put where something else was expected.
fn hostile_value(rng: &mut Rng) -> Json {
    match rng.below(18) {
        0 => Json::Null,
        1 => json!({}),
        2 => json!([]),
        3 => json!(1e308),
        4 => json!(i64::MAX),
        5 => json!(u64::MAX),
        6 => json!(-1),
        7 => Json::String("a".repeat(*rng.pick(&[1_000, 70_000, 200_000]).unwrap_or(&1))),
        8 => {
            let depth = *rng.pick(&[50, 300, 2_000]).unwrap_or(&1);
            Json::String(format!(
                "[{}'x'{}]",
                "concat(".repeat(depth),
                ")".repeat(depth)
            ))
        }
        9 => json!(""),
        10 => json!(true),
        11 => json!("[]"),
        12 => json!("[["),
        13 => Json::Array(vec![Json::Null; 1000]),
        14 => Json::Object((0..1000).map(|i| (format!("k{i}"), json!(i))).collect()),
        15 => json!("\u{0}\u{feff}\u{10ffff}é'\"\\[]()"),
        16 => json!(-0.0),
        _ => json!("[concat(]"),
    }
}

fn mutate(doc: &mut Json, corpus: &Corpus, rng: &mut Rng, log: &mut Vec<String>) {
    let pools = &corpus.pools;
    // Weighted choice of one mutation; a mutation that finds nothing to act on
    // falls through to replacing a random node, so every draw changes something.
    let weights: [(u8, usize); 14] = [
        (0, 4),  // whole expression swapped
        (1, 3),  // call spliced into an expression
        (2, 3),  // function renamed
        (3, 3),  // expression text edited
        (4, 3),  // copy count
        (5, 3),  // node replaced by a hostile value
        (6, 2),  // array item duplicated
        (7, 2),  // deployment nested in itself
        (8, 3),  // key deleted
        (9, 2),  // subtree grafted from another seed
        (10, 1), // resources array <-> symbolic object
        (11, 2), // scalar tweaked
        (12, 2), // parameter declaration changed
        (13, 1), // whole template wrapped in a nested deployment
    ];
    let total: usize = weights.iter().map(|w| w.1).sum();
    let mut r = rng.below(total);
    let mut kind = 5;
    for (k, w) in weights {
        if r < w {
            kind = k;
            break;
        }
        r -= w;
    }
    let done = match kind {
        0 => swap_expression(doc, pools, rng, log),
        1 => splice_call(doc, pools, rng, log),
        2 => rename_function(doc, pools, rng, log),
        3 => edit_expression(doc, rng, log),
        4 => copy_count(doc, rng, log),
        6 => duplicate(doc, rng, log),
        7 => nest_deployment(doc, rng, log),
        8 => delete_key(doc, rng, log),
        9 => graft(doc, corpus, rng, log),
        10 => toggle_symbolic(doc, log),
        11 => tweak_scalar(doc, rng, log),
        12 => parameter_declaration(doc, pools, rng, log),
        13 => wrap_in_deployment(doc, rng, log),
        _ => false,
    };
    if !done {
        if let Some((node, ptr)) = pick_mut(doc, &any, rng) {
            *node = hostile_value(rng);
            log.push(format!("hostile value at {ptr}"));
        }
    }
}

fn swap_expression(
    doc: &mut Json,
    pools: &crate::seeds::Pools,
    rng: &mut Rng,
    log: &mut Vec<String>,
) -> bool {
    let Some(e) = rng.pick(&pools.expressions).cloned() else {
        return false;
    };
    // Mostly where an expression already is; sometimes any string.
    let target: Pred<'_> = if rng.chance(3, 4) {
        &expression
    } else {
        &Json::is_string
    };
    let Some((node, ptr)) = pick_mut(doc, target, rng) else {
        return false;
    };
    log.push(format!("expression swapped at {ptr}: {}", short(&e)));
    *node = Json::String(e);
    true
}

fn splice_call(
    doc: &mut Json,
    pools: &crate::seeds::Pools,
    rng: &mut Rng,
    log: &mut Vec<String>,
) -> bool {
    let Some(call) = rng.pick(&pools.calls).cloned() else {
        return false;
    };
    let Some((node, ptr)) = pick_mut(doc, &expression, rng) else {
        return false;
    };
    let Some(s) = node.as_str() else { return false };
    let spans = call_spans(s);
    let Some(&(a, b)) = rng.pick(&spans) else {
        return false;
    };
    let new = format!("{}{}{}", &s[..a], call, &s[b..]);
    log.push(format!("call spliced at {ptr}: {}", short(&call)));
    *node = Json::String(new);
    true
}

fn rename_function(
    doc: &mut Json,
    pools: &crate::seeds::Pools,
    rng: &mut Rng,
    log: &mut Vec<String>,
) -> bool {
    let Some(name) = rng.pick(&pools.functions).cloned() else {
        return false;
    };
    let Some((node, ptr)) = pick_mut(doc, &expression, rng) else {
        return false;
    };
    let Some(s) = node.as_str() else { return false };
    let spans = name_spans(s);
    let Some(&(a, b)) = rng.pick(&spans) else {
        return false;
    };
    // ARM's names are case-insensitive: sometimes use ARM's own spelling style.
    let name = if rng.chance(1, 2) {
        let mut c = name.chars();
        c.next()
            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
            .unwrap_or_default()
    } else {
        name
    };
    log.push(format!("function {} renamed to {name} at {ptr}", &s[a..b]));
    let new = format!("{}{}{}", &s[..a], name, &s[b..]);
    *node = Json::String(new);
    true
}

fn edit_expression(doc: &mut Json, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    const TOKENS: [&str; 16] = [
        "(",
        ")",
        "'",
        "''",
        ",",
        ".",
        "[",
        "]",
        "0",
        "-1",
        "99999999999999999999",
        " ",
        "?",
        "::",
        "=>",
        "\u{0}",
    ];
    let Some((node, ptr)) = pick_mut(doc, &expression, rng) else {
        return false;
    };
    let Some(s) = node.as_str() else { return false };
    let bounds: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
    let (Some(&a), Some(&b)) = (rng.pick(&bounds), rng.pick(&bounds)) else {
        return false;
    };
    let (a, b) = (a.min(b), a.max(b));
    let new = match rng.below(3) {
        0 => {
            let t = TOKENS[rng.below(TOKENS.len())];
            log.push(format!("{t:?} inserted in the expression at {ptr}"));
            format!("{}{t}{}", &s[..a], &s[a..])
        }
        1 => {
            log.push(format!("bytes {a}..{b} cut from the expression at {ptr}"));
            format!("{}{}", &s[..a], &s[b..])
        }
        _ => {
            log.push(format!(
                "bytes {a}..{b} repeated in the expression at {ptr}"
            ));
            format!("{}{}{}", &s[..b], &s[a..b], &s[b..])
        }
    };
    *node = Json::String(new);
    true
}

fn copy_count(doc: &mut Json, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    let has_copy = |v: &Json| v.get("copy").is_some_and(|c| c.is_object() || c.is_array());
    if let Some((node, ptr)) = pick_mut(doc, &has_copy, rng) {
        let Some(copy) = node.get_mut("copy") else {
            return false;
        };
        // A resource's copy is an object; property and variable copies are arrays.
        let (target, where_) = match copy {
            Json::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                (&mut items[i], format!("{ptr}/copy/{i}"))
            }
            other => (other, format!("{ptr}/copy")),
        };
        let Json::Object(map) = target else {
            return false;
        };
        let (field, value) = match rng.below(6) {
            0 => ("batchSize", hostile_count(rng)),
            1 => {
                let modes = [
                    json!("serial"),
                    json!("parallel"),
                    json!("Serial"),
                    json!(""),
                    json!(1),
                ];
                ("mode", modes[rng.below(modes.len())].clone())
            }
            2 => (
                "name",
                Json::from(["", "loop", "[concat('a')]", "copy"][rng.below(4)]),
            ),
            _ => ("count", hostile_count(rng)),
        };
        log.push(format!("{where_}/{field} set to {value}"));
        map.insert(field.into(), value);
        return true;
    }
    // No copy loop in this template: give a resource one.
    let resource = |v: &Json| v.get("type").is_some_and(Json::is_string) && v.get("name").is_some();
    let Some((node, ptr)) = pick_mut(doc, &resource, rng) else {
        return false;
    };
    let count = hostile_count(rng);
    log.push(format!("copy loop with count {count} added at {ptr}"));
    if let Json::Object(map) = node {
        map.insert("copy".into(), json!({"name": "fuzzLoop", "count": count}));
    }
    true
}

fn duplicate(doc: &mut Json, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    let nonempty = |v: &Json| v.as_array().is_some_and(|a| !a.is_empty());
    let Some((node, ptr)) = pick_mut(doc, &nonempty, rng) else {
        return false;
    };
    let Json::Array(items) = node else {
        return false;
    };
    let i = rng.below(items.len());
    let times = *rng.pick(&[1, 2, 4, 16]).unwrap_or(&1);
    let item = items[i].clone();
    for _ in 0..times {
        items.insert(i, item.clone());
    }
    log.push(format!("{ptr}/{i} repeated {times} more times"));
    true
}

fn nest_deployment(doc: &mut Json, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    let Some((node, ptr)) = pick_mut(doc, &is_deployment, rng) else {
        return false;
    };
    let levels = rng.skewed(3);
    for level in 0..levels {
        let copy = node.clone();
        let Some(resources) = node.pointer_mut("/properties/template/resources") else {
            return level > 0;
        };
        match resources {
            Json::Array(a) => a.push(copy),
            Json::Object(o) => {
                o.insert(format!("fuzzNested{level}"), copy);
            }
            _ => return level > 0,
        }
    }
    log.push(format!(
        "deployment at {ptr} nested in itself {levels} levels"
    ));
    true
}

fn delete_key(doc: &mut Json, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    const NOTABLE: [&str; 22] = [
        "type",
        "name",
        "apiVersion",
        "properties",
        "template",
        "resources",
        "parameters",
        "variables",
        "outputs",
        "copy",
        "condition",
        "value",
        "count",
        "input",
        "dependsOn",
        "languageVersion",
        "$schema",
        "scope",
        "existing",
        "definitions",
        "functions",
        "expressionEvaluationOptions",
    ];
    let notable = |v: &Json| {
        v.as_object()
            .is_some_and(|o| o.keys().any(|k| NOTABLE.contains(&k.as_str())))
    };
    let nonempty = |v: &Json| v.as_object().is_some_and(|o| !o.is_empty());
    let target: Pred<'_> = if rng.chance(3, 4) {
        &notable
    } else {
        &nonempty
    };
    let Some((node, ptr)) = pick_mut(doc, target, rng) else {
        return false;
    };
    let Json::Object(map) = node else {
        return false;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    let preferred: Vec<&String> = keys
        .iter()
        .filter(|k| NOTABLE.contains(&k.as_str()))
        .collect();
    let key = match rng.pick(&preferred) {
        Some(k) if rng.chance(3, 4) => (*k).clone(),
        _ => rng.pick(&keys).cloned().unwrap_or_default(),
    };
    map.shift_remove(&key);
    log.push(format!("{ptr}/{key} deleted"));
    true
}

fn graft(doc: &mut Json, corpus: &Corpus, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    let Some(donor) = rng.pick(&corpus.seeds) else {
        return false;
    };
    let Some(part) = pick_ref(&donor.value, &any, rng).cloned() else {
        return false;
    };
    let Some((node, ptr)) = pick_mut(doc, &any, rng) else {
        return false;
    };
    log.push(format!("{ptr} replaced by a subtree of {}", donor.name));
    *node = part;
    true
}

fn toggle_symbolic(doc: &mut Json, log: &mut Vec<String>) -> bool {
    let Some(root) = doc.as_object_mut() else {
        return false;
    };
    match root.get_mut("resources") {
        Some(Json::Array(a)) => {
            let map: Map<String, Json> = std::mem::take(a)
                .into_iter()
                .enumerate()
                .map(|(i, r)| (format!("r{i}"), r))
                .collect();
            root.insert("resources".into(), Json::Object(map));
            root.insert("languageVersion".into(), json!("2.0"));
            log.push("resources made symbolic (languageVersion 2.0)".into());
        }
        Some(Json::Object(o)) => {
            let list: Vec<Json> = std::mem::take(o).into_iter().map(|(_, r)| r).collect();
            root.insert("resources".into(), Json::Array(list));
            log.push("symbolic resources made an array".into());
        }
        _ => return false,
    }
    true
}

fn tweak_scalar(doc: &mut Json, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    let scalar = |v: &Json| !v.is_object() && !v.is_array();
    let Some((node, ptr)) = pick_mut(doc, &scalar, rng) else {
        return false;
    };
    let new = match &*node {
        Json::Number(_) => [
            json!(0),
            json!(-1),
            json!(i32::MAX),
            json!(i64::from(i32::MAX) + 1),
            json!(i64::MIN),
            json!(0.5),
            json!("1"),
        ][rng.below(7)]
        .clone(),
        Json::Bool(b) => [json!(!b), json!("true"), json!("[true()]")][rng.below(3)].clone(),
        Json::String(s) => match rng.below(4) {
            0 => json!(format!("[{s}]")),
            1 => json!(format!("[{s}")),
            2 => json!(s.trim_start_matches('[')),
            _ => json!(format!("[[{s}")),
        },
        Json::Null => json!("null"),
        _ => return false,
    };
    log.push(format!("{ptr} tweaked to {}", short(&new.to_string())));
    *node = new;
    true
}

fn parameter_declaration(
    doc: &mut Json,
    pools: &crate::seeds::Pools,
    rng: &mut Rng,
    log: &mut Vec<String>,
) -> bool {
    let Some(Json::Object(params)) = doc.get_mut("parameters") else {
        return false;
    };
    let names: Vec<String> = params.keys().cloned().collect();
    let Some(name) = rng.pick(&names).cloned() else {
        return false;
    };
    let Some(Json::Object(decl)) = params.get_mut(&name) else {
        return false;
    };
    match rng.below(5) {
        0 => {
            decl.shift_remove("defaultValue");
            log.push(format!("/parameters/{name}/defaultValue deleted"));
        }
        1 => {
            let t = [
                "string",
                "int",
                "bool",
                "object",
                "array",
                "securestring",
                "secureObject",
                "nonsense",
            ][rng.below(8)];
            decl.insert("type".into(), json!(t));
            log.push(format!("/parameters/{name}/type set to {t}"));
        }
        2 => {
            let e = rng.pick(&pools.expressions).cloned().unwrap_or_default();
            log.push(format!(
                "/parameters/{name}/defaultValue set to {}",
                short(&e)
            ));
            decl.insert("defaultValue".into(), json!(e));
        }
        3 => {
            let v =
                [json!([]), json!([null]), json!("x"), json!([1, "a", {}])][rng.below(4)].clone();
            log.push(format!("/parameters/{name}/allowedValues set to {v}"));
            decl.insert("allowedValues".into(), v);
        }
        _ => {
            let v = hostile_value(rng);
            log.push(format!(
                "/parameters/{name}/defaultValue set to a hostile value"
            ));
            decl.insert("defaultValue".into(), v);
        }
    }
    true
}

fn wrap_in_deployment(doc: &mut Json, rng: &mut Rng, log: &mut Vec<String>) -> bool {
    let inner = std::mem::take(doc);
    let scope = if rng.chance(1, 2) { "inner" } else { "outer" };
    *doc = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{
            "type": "Microsoft.Resources/deployments",
            "apiVersion": "2022-09-01",
            "name": "fuzzWrapper",
            "properties": {
                "mode": "Incremental",
                "expressionEvaluationOptions": {"scope": scope},
                "template": inner
            }
        }]
    });
    log.push(format!("wrapped in a nested deployment (scope {scope})"));
    true
}

/// Byte-level damage after serialising: flips, inserts, deletes, and sometimes a
/// truncation (last, since nothing after it matters).
fn damage_bytes(bytes: &mut Vec<u8>, rng: &mut Rng, log: &mut Vec<String>) {
    const INSERTS: [&[u8]; 12] = [
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b"\"",
        b"'",
        b"/*",
        b"//",
        b"\xef\xbb\xbf",
        b"\xff",
        b"\xc3",
    ];
    for _ in 0..rng.range(1, 4) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(4) {
            0 => {
                bytes[at] ^= 1 << rng.below(8);
                log.push(format!("bit flipped at byte {at}"));
            }
            1 => {
                let ins = INSERTS[rng.below(INSERTS.len())];
                bytes.splice(at..at, ins.iter().copied());
                log.push(format!(
                    "{:?} inserted at byte {at}",
                    String::from_utf8_lossy(ins)
                ));
            }
            2 => {
                let end = (at + rng.range(1, 16)).min(bytes.len());
                bytes.drain(at..end);
                log.push(format!("bytes {at}..{end} deleted"));
            }
            _ => {
                let r = bytes[at];
                bytes[at] = *rng.pick(&[b'0', b'"', b'}', b'\\', r]).unwrap_or(&r);
                log.push(format!("byte {at} replaced"));
            }
        }
    }
    if rng.chance(1, 3) && !bytes.is_empty() {
        let at = rng.below(bytes.len());
        bytes.truncate(at);
        log.push(format!("truncated at byte {at}"));
    }
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
