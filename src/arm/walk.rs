//! Finding the resource declarations in a template without expanding it: the
//! top-level `resources` (array in 1.0, symbolic-name object in 2.0), 1.0 child
//! resources, and inline templates of nested deployments. Rules that look at
//! literal text (apiVersion, location) use this; rules on evaluated values use
//! `arm::expand`.

use crate::arm::json::pointer_push;
use serde_json::Value as Json;

/// One resource declaration as written.
#[derive(Debug, Clone)]
pub struct Declared<'a> {
    /// JSON pointer of the resource object.
    pub pointer: String,
    /// Full type: child types (`keys`) are joined to their parent's.
    pub full_type: String,
    /// The resource object.
    pub value: &'a Json,
}

impl Declared<'_> {
    /// How findings name it without expanding (see [`label`]).
    pub fn label(&self) -> String {
        label(&self.full_type, self.value, &self.pointer)
    }
}

/// How findings name a resource declared at `pointer` without expanding it:
/// `Type/name` when the name is written as a literal, else its symbolic name
/// (languageVersion 2.0), else `Type at <pointer>`; never the text of an expression.
pub fn label(full_type: &str, resource: &Json, pointer: &str) -> String {
    match resource.get("name").and_then(Json::as_str) {
        Some(n) if !is_expression(n) => format!("{full_type}/{n}"),
        _ => {
            let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", ""));
            if parent.ends_with("/resources") && last.parse::<usize>().is_err() {
                last.replace("~1", "/").replace("~0", "~")
            } else {
                format!("{full_type} at {pointer}")
            }
        }
    }
}

/// Every resource declaration in `template`, in document order.
pub fn resources(template: &Json) -> Vec<Declared<'_>> {
    let mut out = Vec::new();
    template_resources(template, "", &mut out);
    out
}

fn template_resources<'a>(template: &'a Json, base: &str, out: &mut Vec<Declared<'a>>) {
    let list = pointer_push(base, "resources");
    match template.get("resources") {
        Some(Json::Array(items)) => {
            for (i, r) in items.iter().enumerate() {
                resource(r, &pointer_push(&list, &i.to_string()), None, out);
            }
        }
        Some(Json::Object(map)) => {
            for (name, r) in map {
                resource(r, &pointer_push(&list, name), None, out);
            }
        }
        _ => {}
    }
}

fn resource<'a>(r: &'a Json, pointer: &str, parent: Option<&str>, out: &mut Vec<Declared<'a>>) {
    let Some(rtype) = r.get("type").and_then(Json::as_str) else {
        return;
    };
    let full_type = match parent {
        Some(parent) if !rtype.contains('/') => format!("{parent}/{rtype}"),
        _ => rtype.to_string(),
    };
    out.push(Declared {
        pointer: pointer.to_string(),
        full_type: full_type.clone(),
        value: r,
    });
    if let Some(Json::Array(children)) = r.get("resources") {
        let list = pointer_push(pointer, "resources");
        for (i, c) in children.iter().enumerate() {
            resource(
                c,
                &pointer_push(&list, &i.to_string()),
                Some(&full_type),
                out,
            );
        }
    }
    if full_type.eq_ignore_ascii_case("Microsoft.Resources/deployments") {
        if let Some(inner) = r.get("properties").and_then(|p| p.get("template")) {
            if inner.is_object() {
                let base = pointer_push(&pointer_push(pointer, "properties"), "template");
                template_resources(inner, &base, out);
            }
        }
    }
}

/// Whether `s` is a template expression (`[...]`, not the `[[` literal escape).
pub fn is_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with('[') && !t.starts_with("[[") && t.ends_with(']')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_children_symbolic_names_and_nested_templates() {
        let t = json!({"resources": [
            {"type": "Microsoft.KeyVault/vaults", "name": "v", "resources": [{"type": "keys", "name": "k"}]},
            {"type": "Microsoft.Resources/deployments", "name": "d", "properties": {"template": {
                "resources": {"ra": {"type": "Microsoft.Authorization/roleAssignments", "name": "x"}}}}}
        ]});
        let got: Vec<(String, String)> = resources(&t)
            .into_iter()
            .map(|d| (d.pointer, d.full_type))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/resources/0".into(), "Microsoft.KeyVault/vaults".into()),
                (
                    "/resources/0/resources/0".into(),
                    "Microsoft.KeyVault/vaults/keys".into()
                ),
                (
                    "/resources/1".into(),
                    "Microsoft.Resources/deployments".into()
                ),
                (
                    "/resources/1/properties/template/resources/ra".into(),
                    "Microsoft.Authorization/roleAssignments".into()
                ),
            ]
        );
        assert!(is_expression("[parameters('a')]") && !is_expression("[[literal]"));
    }
}
