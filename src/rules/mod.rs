//! The rule registry: one table of ID, name, default level and where each rule
//! applies; one file per rule holding its documentation (`//!`) and its check.
//!
//! Template rules (`ARM*`) read a parsed and expanded template; CMEK rules
//! (`CMK*`) read only the normalised [`crate::model::Deployment`], so they never
//! know whether it came from a template or from Azure.

use crate::diag::{Diagnostic, Level};

include!(concat!(env!("OUT_DIR"), "/rule_docs.rs"));

pub mod arm003_expression_syntax;
pub mod arm004_undefined_reference;
pub mod arm005_unused_declaration;
pub mod arm008_nondeterministic_name;
pub mod arm010_secret_exposure;

/// Where a rule can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// `validate` only.
    Template,
    /// `check` only.
    Live,
    /// Both.
    Both,
}

impl Applies {
    /// As printed by `cmek-arm rules`.
    pub fn as_str(self) -> &'static str {
        match self {
            Applies::Template => "template",
            Applies::Live => "live",
            Applies::Both => "template, live",
        }
    }
}

/// How a rule's findings are produced.
#[derive(Clone, Copy)]
pub enum Check {
    /// Reported by the loading/expansion engine itself (syntax, schema, expressions).
    Engine,
    /// A pass over one parsed and expanded template.
    Template(fn(&TemplateInput<'_>, &mut Vec<Diagnostic>)),
}

/// What a template rule sees.
pub struct TemplateInput<'a> {
    /// The template, with spans.
    pub template: &'a crate::arm::json::Document,
    /// The parameters file, when one was given.
    pub parameters: Option<&'a crate::arm::json::Document>,
}

/// One rule of the catalogue.
#[derive(Clone, Copy)]
pub struct Rule {
    /// Stable ID, e.g. `CMK001` (a contract: never renumbered).
    pub id: &'static str,
    /// Stable kebab-case name.
    pub name: &'static str,
    /// Default level, before profile and overrides.
    pub level: Level,
    /// Where it applies.
    pub applies: Applies,
    /// How it runs.
    pub check: Check,
}

impl Rule {
    /// The rule's documentation (its file's `//!` comment).
    pub fn doc(&self) -> &'static str {
        RULE_DOCS
            .iter()
            .find(|(id, _)| *id == self.id)
            .map_or("", |(_, doc)| doc)
    }
}

/// Every rule, in ID order.
pub static RULES: &[Rule] = &[
    Rule {
        id: "ARM003",
        name: "expression-syntax",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Engine,
    },
    Rule {
        id: "ARM004",
        name: "undefined-reference",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Engine,
    },
    Rule {
        id: "ARM005",
        name: "unused-declaration",
        level: Level::Warning,
        applies: Applies::Template,
        check: Check::Template(arm005_unused_declaration::check),
    },
    Rule {
        id: "ARM008",
        name: "nondeterministic-name",
        level: Level::Error,
        applies: Applies::Template,
        check: Check::Template(arm008_nondeterministic_name::check),
    },
    Rule {
        id: "ARM010",
        name: "secret-exposure",
        level: Level::Warning,
        applies: Applies::Template,
        check: Check::Template(arm010_secret_exposure::check),
    },
];

/// Looks a rule up by ID or name, case-insensitively.
pub fn find(id_or_name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id_or_name) || r.name.eq_ignore_ascii_case(id_or_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_and_names_are_unique_and_documented() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for rule in RULES {
            assert!(ids.insert(rule.id), "duplicate rule ID {}", rule.id);
            assert!(names.insert(rule.name), "duplicate rule name {}", rule.name);
            assert!(!rule.doc().is_empty(), "{} has no documentation", rule.id);
        }
    }
}
