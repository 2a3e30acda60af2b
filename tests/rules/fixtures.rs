//! Ruff-style rule fixtures: each `tests/fixtures/rules/cmkNNN*.json` template holds
//! compliant and non-compliant resources for one rule, marked in their metadata
//! (`"metadata": {"fixture": "ok" | "bad" | "note"}`). The template is expanded by the
//! real engine, turned into the model, checked by every rule, and the findings of
//! the fixture's rule are (1) asserted against the markers and (2) snapshotted.

use cmek_arm::arm::expand::{self, Context};
use cmek_arm::arm::json::{self, Document};
use cmek_arm::diag::{line_col, Diagnostic, Level, Location};
use cmek_arm::model::{self, Deployment};
use cmek_arm::rules::{self, Settings};
use std::path::{Path, PathBuf};
use time::macros::datetime;

pub const SP: &str = "11111111-1111-1111-1111-111111111111";
pub const OFFICER: &str = "33333333-3333-3333-3333-333333333333";
pub const TENANT: &str = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";

/// The deployment every fixture is expanded in.
pub fn context() -> Context {
    Context {
        subscription_id: Some("00000000-0000-0000-0000-000000000000".into()),
        resource_group: Some("rg-cmek".into()),
        resource_group_location: Some("eastus".into()),
        tenant_id: Some(TENANT.into()),
        deployer_object_id: Some(OFFICER.into()),
        deployment_name: Some("fixture".into()),
        not_the_deployer: Vec::new(),
    }
}

/// What the vendor expects, with a fixed clock.
pub fn settings() -> Settings {
    Settings {
        sp_object_id: Some(SP.into()),
        officer_object_id: Some(OFFICER.into()),
        key_suffix: Some("tidb".into()),
        tenant_id: Some(TENANT.into()),
        now: datetime!(2026-01-01 0:00 UTC),
        ..Settings::default()
    }
    .with_region(Some("eastus"))
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn load(path: &Path) -> Document {
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let bytes = std::fs::read(path).unwrap();
    json::parse(&name, &bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Renders findings as `RULE level file:line:col pointer: message` plus labels.
pub fn render(diags: &[&Diagnostic], docs: &[&Document]) -> String {
    let place = |loc: &Location| match loc {
        Location::File {
            file,
            pointer,
            span,
        } => {
            let (line, col) = docs
                .iter()
                .find(|d| &d.file == file)
                .map_or((0, 0), |d| line_col(&d.text, span.map_or(0, |s| s.start)));
            format!("{file}:{line}:{col} {pointer}")
        }
        Location::Azure { id } => id.clone(),
        Location::None => "-".into(),
    };
    let mut out = String::new();
    for d in diags {
        out.push_str(&format!(
            "{} {} {}: {}\n",
            d.rule,
            d.level,
            place(&d.location),
            d.message
        ));
        for l in &d.labels {
            out.push_str(&format!("    = {}: {}\n", place(&l.location), l.message));
        }
    }
    out
}

/// Whether a finding is about `res` (its resource, or its name quoted in the message).
fn about(d: &Diagnostic, res: &model::Resource) -> bool {
    if d.resource.as_deref() == Some(res.display().as_str()) {
        return true;
    }
    res.name
        .as_str()
        .is_some_and(|n| d.message.contains(&format!("'{n}'")))
}

fn check_markers(stem: &str, dep: &Deployment, mine: &[&Diagnostic]) {
    let mut marked = 0;
    for res in &dep.resources {
        let Some(marker) = res
            .body
            .path(&["metadata", "fixture"])
            .and_then(|m| m.as_str())
        else {
            continue;
        };
        marked += 1;
        let found: Vec<_> = mine.iter().filter(|d| about(d, res)).collect();
        match marker {
            "ok" => assert!(
                found.is_empty(),
                "{stem}: {} is marked ok but has {found:?}",
                res.display()
            ),
            "bad" => assert!(
                found.iter().any(|d| d.level != Level::Note),
                "{stem}: {} is marked bad but has no error/warning",
                res.display()
            ),
            "note" => assert!(
                found.iter().any(|d| d.level == Level::Note),
                "{stem}: {} is marked note but has no note: {found:?}",
                res.display()
            ),
            other => panic!("{stem}: unknown marker {other}"),
        }
    }
    assert!(marked > 0, "{stem}: no resource carries a fixture marker");
}

#[test]
fn rule_fixtures() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // The ARM rules' fixtures share this folder; they have their own test.
            n.starts_with("cmk") && n.ends_with(".json") && !n.ends_with(".parameters.json")
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 15, "fixtures missing");
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap()
            .to_string();
        let id = stem.get(..6).unwrap().to_ascii_uppercase();
        let template = load(&path);
        let params_path = path.with_file_name(format!("{stem}.parameters.json"));
        let params = params_path.exists().then(|| load(&params_path));
        let exp = expand::expand(&template, params.as_ref(), &context());
        let broken: Vec<_> = exp
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .collect();
        assert!(
            broken.is_empty(),
            "{stem}: the fixture itself is broken: {broken:?}"
        );
        let dep = model::from_expansion_with(&exp, &template, params.as_ref());
        let s = settings();
        let mut diags = rules::check_model(&dep, &s);
        s.apply(&mut diags, Some(&dep));
        let mine: Vec<&Diagnostic> = diags.iter().filter(|d| d.rule == id).collect();
        check_markers(&stem, &dep, &mine);
        let mut docs = vec![&template];
        docs.extend(params.as_ref());
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("rules_{stem}"), render(&mine, &docs));
        });
    }
}
