//! Snapshots of all three rendered files for each named case (reviewed like code).

use super::common::{cases, existing_vault_cases};
use cmek_arm::render::render;

#[test]
fn rendered_files_match_snapshots() {
    for (case, request) in cases().into_iter().chain(existing_vault_cases()) {
        let rendered = render(&request).unwrap();
        for (file, content) in rendered.files() {
            insta::with_settings!({
                snapshot_path => "../../snapshots",
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => format!("cmek-arm render, case {case}: {file}"),
            }, {
                insta::assert_snapshot!(format!("render__{case}__{file}"), content);
            });
        }
    }
}

#[test]
fn rendering_is_byte_identical() {
    for (case, request) in cases().into_iter().chain(existing_vault_cases()) {
        assert_eq!(
            render(&request).unwrap(),
            render(&request).unwrap(),
            "{case}"
        );
    }
}
