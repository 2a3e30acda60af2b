//! `cmek-arm render`: the CMEK deployment as ARM JSON from validated inputs.
//!
//! Templates (`templates/*.hbs`) are embedded, so an installed binary needs no
//! files beside it. Handlebars runs in strict mode (a typo in a template is an
//! error, not an empty string) with JSON string escaping as its escape function,
//! so no input can break out of a JSON string. The output is parsed back,
//! re-serialised in one canonical layout (byte-stable), and checked against
//! `schemas/cmek-template.schema.json` before anything is written.

use crate::error::{Error, Result};
use crate::params::RenderRequest;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason, Template,
};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// apiVersion of `Microsoft.KeyVault/vaults` (newest stable with a published ARM schema).
pub const VAULTS_API_VERSION: &str = "2026-02-01";
/// apiVersion of `Microsoft.KeyVault/vaults/keys`.
pub const KEYS_API_VERSION: &str = "2026-02-01";
/// apiVersion of `Microsoft.Authorization/roleAssignments`.
pub const ROLE_ASSIGNMENTS_API_VERSION: &str = "2022-04-01";
/// Days between the scheduled rotation and the expiry of a key version: the
/// `notify` action 30 days before expiry then fires only when rotation failed.
pub const EXPIRY_MARGIN_DAYS: u32 = 90;

/// File name of the template.
pub const TEMPLATE_FILE: &str = "azuredeploy.json";
/// File name of the parameters file.
pub const PARAMETERS_FILE: &str = "azuredeploy.parameters.json";
/// File name of the portal form.
pub const UI_DEFINITION_FILE: &str = "createUiDefinition.json";

/// apiVersion of `Microsoft.Resources/deployments` (the nested deployment of an
/// `--existing-vault` render; newest stable).
pub const DEPLOYMENTS_API_VERSION: &str = "2025-04-01";

/// The templates of a render that creates the vault.
const TEMPLATES: [(&str, &str); 3] = [
    (
        TEMPLATE_FILE,
        include_str!("../templates/azuredeploy.json.hbs"),
    ),
    (
        PARAMETERS_FILE,
        include_str!("../templates/azuredeploy.parameters.json.hbs"),
    ),
    (
        UI_DEFINITION_FILE,
        include_str!("../templates/createUiDefinition.json.hbs"),
    ),
];

/// The templates of an `--existing-vault` render (key and role assignments only).
const EXISTING_VAULT_TEMPLATES: [(&str, &str); 3] = [
    (
        TEMPLATE_FILE,
        include_str!("../templates/existing-vault/azuredeploy.json.hbs"),
    ),
    (
        PARAMETERS_FILE,
        include_str!("../templates/existing-vault/azuredeploy.parameters.json.hbs"),
    ),
    (
        UI_DEFINITION_FILE,
        include_str!("../templates/existing-vault/createUiDefinition.json.hbs"),
    ),
];

/// Which set of templates a render uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The vault is created (the default).
    NewVault,
    /// `--existing-vault`.
    ExistingVault,
}

impl Variant {
    fn of(req: &RenderRequest) -> Variant {
        if req.existing_vault.is_some() {
            Variant::ExistingVault
        } else {
            Variant::NewVault
        }
    }

    fn templates(self) -> [(&'static str, &'static str); 3] {
        match self {
            Variant::NewVault => TEMPLATES,
            Variant::ExistingVault => EXISTING_VAULT_TEMPLATES,
        }
    }
}

/// The three rendered files, each canonical pretty JSON ending in a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `azuredeploy.json`.
    pub template: String,
    /// `azuredeploy.parameters.json`.
    pub parameters: String,
    /// `createUiDefinition.json`.
    pub ui_definition: String,
}

impl Rendered {
    /// `(file name, content)` in writing order.
    pub fn files(&self) -> [(&'static str, &str); 3] {
        [
            (TEMPLATE_FILE, &self.template),
            (PARAMETERS_FILE, &self.parameters),
            (UI_DEFINITION_FILE, &self.ui_definition),
        ]
    }
}

/// The content of a JSON string literal for `s`, without the quotes.
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_string()
}

/// A literal string as ARM must see it in a template: a string that starts with
/// `[` and ends with `]` would be evaluated as an expression, so it gets the
/// documented `[[` escape.
pub fn arm_literal(s: &str) -> String {
    if s.starts_with('[') && s.ends_with(']') {
        format!("[{s}")
    } else {
        s.to_string()
    }
}

/// Applies [`arm_literal`] to every string inside `v` (object keys are never
/// evaluated, so they stay as they are).
fn arm_literals(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(arm_literal(s)),
        Value::Array(a) => Value::Array(a.iter().map(arm_literals).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), arm_literals(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `{{json x}}` writes `x` as a complete JSON value; `{{arm_json x}}` does the
/// same after [`arm_literals`]. Helper output bypasses the escape function, and
/// serde_json's own serialisation is what makes it safe.
fn json_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h
        .param(0)
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
    let value = if h.name() == "arm_json" {
        arm_literals(param.value())
    } else {
        param.value().clone()
    };
    let text = serde_json::to_string(&value)
        .map_err(|e| RenderErrorReason::Other(format!("json helper: {e}")))?;
    out.write(&text)?;
    Ok(())
}

/// The template source as handlebars needs it: without `{{!-- --}}` comments,
/// indentation and blank lines. Handlebars' parser looks up a line and column
/// for every token by scanning from the start of the source, so its cost grows
/// with size times tokens; the layout is free anyway, because the output is
/// parsed and re-serialised (JSON strings never span lines, so no string
/// content is touched).
fn compact(source: &str) -> String {
    let mut without_comments = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{{!--") {
        without_comments.push_str(&rest[..start]);
        match rest[start..].find("--}}") {
            Some(end) => rest = &rest[start + end + "--}}".len()..],
            // An unclosed comment stays, so handlebars reports it.
            None => {
                without_comments.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    without_comments.push_str(rest);
    let mut out = String::with_capacity(without_comments.len());
    for line in without_comments.lines() {
        let line = line.trim_start();
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A run of a compacted template: text outside every tag and block, which is
/// output as it is, or one tag or whole `{{#block}}`…`{{/block}}`, which
/// handlebars parses and renders.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<S> {
    Text(S),
    Template(S),
}

/// Cuts a compacted template into [`Piece`]s. Handlebars' parser spends
/// hundreds of instructions on every byte of plain text (and looks up a line
/// and column for every token by scanning from the start of its source), while
/// most of a template is plain JSON; handing it only the tags and blocks makes
/// parsing several times cheaper. Plain text outside tags is exactly what
/// handlebars would output for it: the templates use no whitespace control
/// (`~`) and no `\{{` escapes (a test keeps it so), and standalone-line
/// stripping only ever touches layout, which the re-serialised output drops.
/// An unclosed tag or block becomes one template piece running to the end, so
/// handlebars reports it.
fn pieces(source: &str) -> Vec<Piece<&str>> {
    let mut pieces = Vec::new();
    // Where the current text run starts, and (inside a block) where the block started.
    let (mut text_start, mut block_start, mut depth) = (0, 0, 0usize);
    let mut at = 0;
    while let Some(open) = source.get(at..).and_then(|rest| rest.find("{{")) {
        let start = at + open;
        if depth == 0 {
            if start > text_start {
                pieces.push(Piece::Text(&source[text_start..start]));
            }
            block_start = start;
        }
        let close = if source[start..].starts_with("{{{") {
            "}}}"
        } else {
            "}}"
        };
        let Some(end) = source[start..].find(close).map(|e| start + e + close.len()) else {
            // Unclosed tag: handlebars gets the rest and reports it.
            pieces.push(Piece::Template(&source[block_start..]));
            return pieces;
        };
        let tag = source[start + 2..].trim_start_matches(['{', '~']);
        if tag.starts_with('#') || tag.starts_with('^') {
            depth += 1;
        } else if tag.starts_with('/') {
            depth = depth.saturating_sub(1);
        }
        at = end;
        if depth == 0 {
            pieces.push(Piece::Template(&source[block_start..end]));
            text_start = end;
        }
    }
    if depth > 0 {
        // Unclosed block: as above.
        pieces.push(Piece::Template(&source[block_start..]));
    } else if text_start < source.len() {
        pieces.push(Piece::Text(&source[text_start..]));
    }
    pieces
}

/// A template cut into pieces: the pieces in order (template pieces by name)
/// and the parsed template pieces to register under those names.
type Compiled = (Vec<Piece<String>>, Vec<(String, Template)>);

/// Parses one template, compacted and cut into [`pieces`]; template pieces
/// are named `<name>#<n>`.
fn compile_template(name: &str, source: &str) -> std::result::Result<Compiled, String> {
    let source = compact(source);
    let mut order = Vec::new();
    let mut templates = Vec::new();
    for (n, piece) in pieces(&source).into_iter().enumerate() {
        match piece {
            Piece::Text(text) => order.push(Piece::Text(text.to_string())),
            Piece::Template(piece) => {
                let piece_name = format!("{name}#{n}");
                let template = Template::compile_with_name(piece, piece_name.clone())
                    .map_err(|e| format!("template {name}, piece {n}: {e}"))?;
                templates.push((piece_name.clone(), template));
                order.push(Piece::Template(piece_name));
            }
        }
    }
    Ok((order, templates))
}

/// What every render needs and no input changes: the parsed templates. Built
/// once per process and never dropped (tearing them down is wasted work just
/// before the process exits).
struct Prepared {
    registry: Handlebars<'static>,
    /// Each file's pieces in order: plain text, or the name of a registered template.
    pieces: Vec<(&'static str, Vec<Piece<String>>)>,
}

impl Prepared {
    /// Renders one file by rendering its pieces in order.
    fn render_file(&self, file: &str, ctx: &Context) -> Result<String> {
        let names = self
            .pieces
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, names)| names)
            .ok_or_else(|| Error::Internal(format!("no template for {file}")))?;
        let mut out = String::new();
        for piece in names {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Template(name) => {
                    let rendered = self
                        .registry
                        .render_with_context(name, ctx)
                        .map_err(|e| Error::Internal(format!("rendering {file}: {e}")))?;
                    out.push_str(&rendered);
                }
            }
        }
        Ok(out)
    }
}

/// Builds [`Prepared`]: the parsed templates of one variant (a render parses
/// only the templates it renders).
fn prepare(variant: Variant) -> std::result::Result<Prepared, String> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(json_escape);
    registry.register_helper("json", Box::new(json_helper));
    registry.register_helper("arm_json", Box::new(json_helper));
    let mut pieces = Vec::with_capacity(TEMPLATES.len());
    for (file, source) in variant.templates() {
        let (order, templates) = compile_template(file, source)?;
        for (name, template) in templates {
            registry.register_template(&name, template);
        }
        pieces.push((file, order));
    }
    Ok(Prepared { registry, pieces })
}

/// The process's [`Prepared`] for `variant`, built on first use.
fn prepared(variant: Variant) -> Result<&'static Prepared> {
    static NEW_VAULT: OnceLock<std::result::Result<Prepared, String>> = OnceLock::new();
    static EXISTING_VAULT: OnceLock<std::result::Result<Prepared, String>> = OnceLock::new();
    let cell = match variant {
        Variant::NewVault => &NEW_VAULT,
        Variant::ExistingVault => &EXISTING_VAULT,
    };
    cell.get_or_init(|| prepare(variant))
        .as_ref()
        .map_err(|e| Error::Internal(e.clone()))
}

/// The handlebars context: every key always present (strict mode), `null` when
/// an option is off.
fn context(req: &RenderRequest) -> Value {
    let rotation = req.rotation.map(|every| {
        json!({
            "every": every.to_string(),
            "expiry": every.plus_days(EXPIRY_MARGIN_DAYS).to_string(),
        })
    });
    json!({
        "generator_version": env!("CARGO_PKG_VERSION"),
        "api": {
            "vaults": VAULTS_API_VERSION,
            "keys": KEYS_API_VERSION,
            "role_assignments": ROLE_ASSIGNMENTS_API_VERSION,
            "deployments": DEPLOYMENTS_API_VERSION,
        },
        "region": req.region.as_str(),
        "vault_name": req.vault_name.as_str(),
        "key_name": req.key_name.as_str(),
        "key_suffix": req.key_suffix,
        "sp_object_id": req.sp_object_id.as_str(),
        "officer_object_id": req.officer_object_id.as_ref().map(|o| o.as_str()),
        "key_type": req.key_type.as_str(),
        "key_type_label": match req.key_type {
            crate::params::KeyType::Rsa => "RSA (software-protected)",
            crate::params::KeyType::RsaHsm => "RSA-HSM (HSM-protected, premium vault)",
        },
        "key_size": req.key_size.bits(),
        "key_size_label": format!("{} bits", req.key_size.bits()),
        "rotation": rotation,
        "retention_days": req.retention_days.days(),
        "allow_ips": req.allow_ips.iter().map(|ip| ip.as_str()).collect::<Vec<_>>(),
        "tags": req.tags.as_map(),
        "vault_resource_group": req
            .existing_vault
            .as_ref()
            .and_then(|e| e.resource_group.as_ref())
            .map(|g| g.as_str()),
    })
}

/// The self-check: `{file name: content}`, each file against its part of
/// `schemas/cmek-template.schema.json` (the root for the template, a definition
/// for the other two). jsonschema's `validator` macro turns the schema into code
/// at build time: compiling it at run time was half of a render's instructions.
#[jsonschema::validator(
    schema = r##"{
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "azuredeploy.json": {
                "$ref": "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json"
            },
            "azuredeploy.parameters.json": {
                "$ref": "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json#/definitions/parametersFile"
            },
            "createUiDefinition.json": {
                "$ref": "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json#/definitions/createUiDefinition"
            }
        },
        "required": ["azuredeploy.json", "azuredeploy.parameters.json", "createUiDefinition.json"],
        "additionalProperties": false
    }"##,
    draft = Draft7,
    resources = {
        "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json" => {
            path = "schemas/cmek-template.schema.json"
        }
    },
)]
struct SelfCheck;

/// The self-check's instance, `{file name: content}`; it takes the values
/// rather than copying them.
fn files_object(files: [(&str, Value); 3]) -> Value {
    Value::Object(
        files
            .into_iter()
            .map(|(file, value)| (file.to_string(), value))
            .collect(),
    )
}

/// The same self-check for an `--existing-vault` render: the three files
/// against the schema's `existingVault*` definitions.
#[jsonschema::validator(
    schema = r##"{
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "azuredeploy.json": {
                "$ref": "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json#/definitions/existingVaultTemplate"
            },
            "azuredeploy.parameters.json": {
                "$ref": "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json#/definitions/existingVaultParametersFile"
            },
            "createUiDefinition.json": {
                "$ref": "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json#/definitions/existingVaultUiDefinition"
            }
        },
        "required": ["azuredeploy.json", "azuredeploy.parameters.json", "createUiDefinition.json"],
        "additionalProperties": false
    }"##,
    draft = Draft7,
    resources = {
        "https://github.com/cmek-arm/cmek-arm/schemas/cmek-template.schema.json" => {
            path = "schemas/cmek-template.schema.json"
        }
    },
)]
struct SelfCheckExistingVault;

/// Runs the self-check over the [`files_object`] of the three parsed files;
/// every violation is listed.
fn self_check(instance: &Value) -> Result<()> {
    self_check_result(
        SelfCheck::iter_errors(instance)
            .map(|e| format!("{e} at '{}'", e.instance_path()))
            .collect(),
    )
}

/// [`self_check`] for an `--existing-vault` render.
fn self_check_existing_vault(instance: &Value) -> Result<()> {
    self_check_result(
        SelfCheckExistingVault::iter_errors(instance)
            .map(|e| format!("{e} at '{}'", e.instance_path()))
            .collect(),
    )
}

fn self_check_result(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "rendered output fails its self-check: {}",
            problems.join("; ")
        )))
    }
}

/// Renders the three templates and parses each result back.
fn render_values(prepared: &Prepared, req: &RenderRequest) -> Result<[Value; 3]> {
    // Wrapped once: rendering by name would convert the context for every piece.
    let ctx = Context::wraps(context(req))
        .map_err(|e| Error::Internal(format!("render context: {e}")))?;
    let mut values = Vec::with_capacity(3);
    for (name, _) in TEMPLATES {
        let raw = prepared.render_file(name, &ctx)?;
        let value: Value = serde_json::from_str(&raw)
            .map_err(|e| Error::Internal(format!("rendered {name} is not JSON: {e}")))?;
        values.push(value);
    }
    <[Value; 3]>::try_from(values)
        .map_err(|_| Error::Internal("expected three rendered files".into()))
}

/// Renders the three files and self-checks them; nothing touches the disk.
pub fn render(req: &RenderRequest) -> Result<Rendered> {
    let prepared = prepared(Variant::of(req))?;
    let [template, parameters, ui_definition] = render_values(prepared, req)?;
    let files = files_object([
        (TEMPLATE_FILE, template),
        (PARAMETERS_FILE, parameters),
        (UI_DEFINITION_FILE, ui_definition),
    ]);
    match Variant::of(req) {
        Variant::NewVault => self_check(&files)?,
        Variant::ExistingVault => self_check_existing_vault(&files)?,
    }
    let pretty = |name: &str| {
        let value = files
            .get(name)
            .ok_or_else(|| Error::Internal(format!("{name} missing after the self-check")))?;
        serde_json::to_string_pretty(value)
            .map(|mut text| {
                text.push('\n');
                text
            })
            .map_err(|e| Error::Internal(format!("serialising {name}: {e}")))
    };
    Ok(Rendered {
        template: pretty(TEMPLATE_FILE)?,
        parameters: pretty(PARAMETERS_FILE)?,
        ui_definition: pretty(UI_DEFINITION_FILE)?,
    })
}

/// Writes the three files into `dir` (created if missing). Refuses, before
/// writing anything, when one exists and `force` is false. Each file is written
/// to a temporary file in `dir` first; all three are renamed into place only
/// after all three were written, so no reader ever sees a partial file, and an
/// interrupted run leaves the old files. There is no fsync: it would triple a
/// render's time, and after a power loss the same inputs re-render the same bytes.
pub fn write_files(dir: &Path, rendered: &Rendered, force: bool) -> Result<Vec<PathBuf>> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::File {
            path: dir.to_path_buf(),
            message: "--out must be a directory, but this is a file".into(),
        });
    }
    if !force {
        for (name, _) in rendered.files() {
            let path = dir.join(name);
            if path.exists() {
                return Err(Error::File {
                    path,
                    message: "already exists; pass --force to overwrite it".into(),
                });
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
    let mut staged = Vec::with_capacity(3);
    for (name, content) in rendered.files() {
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // tempfile creates 0600 files; these are not secrets and are meant to be
        // shared or uploaded, so give them the usual 0644 (less the umask).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(|e| Error::io(dir, &e))?;
        tmp.write_all(content.as_bytes())
            .map_err(|e| Error::io(tmp.path(), &e))?;
        staged.push((tmp, dir.join(name)));
    }
    let mut written = Vec::with_capacity(3);
    for (tmp, path) in staged {
        tmp.persist(&path).map_err(|e| Error::io(&path, &e.error))?;
        written.push(path);
    }
    Ok(written)
}

/// Quotes `s` for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `az deployment group create` command for files in `dir`.
pub fn az_command(dir: &Path) -> String {
    let template = dir.join(TEMPLATE_FILE);
    let params = dir.join(PARAMETERS_FILE);
    format!(
        "az deployment group create --resource-group <resource-group> --template-file {} --parameters {}",
        shell_quote(&template.to_string_lossy()),
        shell_quote(&format!("@{}", params.to_string_lossy())),
    )
}

/// The `cmek-arm preflight` command for files in `dir`: what to run before
/// [`az_command`], against the subscription and resource group it will deploy to.
pub fn preflight_command(dir: &Path) -> String {
    let template = dir.join(TEMPLATE_FILE);
    let params = dir.join(PARAMETERS_FILE);
    format!(
        "cmek-arm preflight {} --parameters {} --subscription <subscription-id> --resource-group <resource-group>",
        shell_quote(&template.to_string_lossy()),
        shell_quote(&params.to_string_lossy()),
    )
}

/// Checks a `--base-url`: the portal fetches the files itself, so it must be an
/// absolute `https://` (or `http://`) URL.
pub fn check_base_url(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(Error::InvalidInput {
            flag: "--base-url".into(),
            value: url.into(),
            rule: "must be an absolute https:// URL the Azure portal can read".into(),
        }),
    }
}

/// `encodeURIComponent`, as the portal's Deploy-to-Azure links require.
fn encode_uri_component(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The portal's "Deploy to Azure" links for a template (and its form) hosted at
/// `template_url` (and `ui_url`).
pub fn portal_link(template_url: &str, ui_url: Option<&str>) -> String {
    let mut link = format!(
        "https://portal.azure.com/#create/Microsoft.Template/uri/{}",
        encode_uri_component(template_url)
    );
    if let Some(ui) = ui_url {
        link.push_str("/createUIDefinitionUri/");
        link.push_str(&encode_uri_component(ui));
    }
    link
}

/// What to run or open after writing to `dir`: the `az` command and both
/// portal link forms. With `base_url` (where the files will be hosted) the links
/// are complete; without it they show where the encoded URLs go. An
/// `--existing-vault` render ends with the `cmek-arm check` command that
/// confirms live what the template cannot set: the vault's own settings.
pub fn deploy_instructions(dir: &Path, req: &RenderRequest, base_url: Option<&str>) -> String {
    let region = req.region.as_str();
    let (plain, with_form) = match base_url {
        Some(base) => {
            let base = base.trim_end_matches('/');
            let t = format!("{base}/{TEMPLATE_FILE}");
            let u = format!("{base}/{UI_DEFINITION_FILE}");
            (portal_link(&t, None), portal_link(&t, Some(&u)))
        }
        None => (
            "https://portal.azure.com/#create/Microsoft.Template/uri/<encoded URL of azuredeploy.json>".to_string(),
            "https://portal.azure.com/#create/Microsoft.Template/uri/<encoded URL of azuredeploy.json>/createUIDefinitionUri/<encoded URL of createUiDefinition.json>".to_string(),
        ),
    };
    let hosting = if base_url.is_some() {
        "Deploy from the portal (after uploading the files to that URL):"
    } else {
        "Deploy from the portal: host azuredeploy.json and createUiDefinition.json at a public URL\n(or pass --base-url URL to get complete links), then open"
    };
    let Some(existing) = &req.existing_vault else {
        return format!(
            "Check before deploying (reads Azure, changes nothing; the resource group must exist, e.g. `az group create --name <resource-group> --location {region}`):\n  {}\n\nDeploy with the Azure CLI:\n  {}\n\n{hosting}\n  {plain}\nor, with the guided form:\n  {with_form}\n",
            preflight_command(dir),
            az_command(dir)
        );
    };
    let (target, vault_group) = match &existing.resource_group {
        Some(group) => (
            "any resource group; the key and the role assignments go to the vault's resource group",
            shell_quote(group.as_str()),
        ),
        None => ("the vault's resource group", "<resource-group>".to_string()),
    };
    format!(
        "Check before deploying (reads Azure, changes nothing):\n  {}\n\nDeploy with the Azure CLI (into {target}):\n  {}\n\n{hosting}\n  {plain}\nor, with the guided form:\n  {with_form}\n\n\
         The vault already exists and this template does not change it, so nothing here sets its\n\
         purge protection (CMK001), soft delete (CMK002), RBAC permission model (CMK003), region\n\
         (CMK004), network access (CMK015) or tenant (CMK016){hsm}. After deploying, confirm them live:\n  {}\n",
        preflight_command(dir),
        az_command(dir),
        check_command(req, &vault_group),
        hsm = if req.key_type == crate::params::KeyType::RsaHsm {
            ",\nnor its premium SKU, which the RSA-HSM key needs (CMK005)"
        } else {
            ""
        },
    )
}

/// The `cmek-arm check` command for the rendered vault and key, with the
/// requirements render knows (region, vendor principal, officer, suffix).
pub fn check_command(req: &RenderRequest, resource_group: &str) -> String {
    let mut cmd = format!(
        "cmek-arm check --subscription <subscription-id> --resource-group {resource_group} --vault {} --key {} --region {} --sp-object-id {}",
        shell_quote(req.vault_name.as_str()),
        shell_quote(req.key_name.as_str()),
        shell_quote(req.region.as_str()),
        shell_quote(req.sp_object_id.as_str()),
    );
    if let Some(officer) = &req.officer_object_id {
        cmd.push_str(" --officer-object-id ");
        cmd.push_str(&shell_quote(officer.as_str()));
    }
    if let Some(suffix) = &req.key_suffix {
        cmd.push_str(" --key-suffix ");
        cmd.push_str(&shell_quote(suffix));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::RawParams;

    fn request() -> RenderRequest {
        RawParams {
            region: Some("eastus".into()),
            vault_name: Some("kv-cmek-01".into()),
            key_name: Some("tidb-cmek-a1b2c3".into()),
            sp_object_id: Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301".into()),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn escaping_keeps_values_inside_their_string() {
        assert_eq!(json_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(json_escape("line\n\u{1}"), r"line\n\u0001");
        assert_eq!(arm_literal("[concat('a')]"), "[[concat('a')]");
        assert_eq!(arm_literal("[not an expression"), "[not an expression");
        assert_eq!(arm_literal("plain"), "plain");
    }

    #[test]
    fn strict_mode_refuses_a_missing_variable() {
        let ctx = Context::wraps(json!({"generator_version": "x"})).unwrap();
        let err = prepared(Variant::NewVault)
            .unwrap()
            .render_file(TEMPLATE_FILE, &ctx)
            .unwrap_err();
        assert!(err.to_string().contains("strict mode"), "{err}");
    }

    #[test]
    fn pieces_are_plain_text_and_whole_tags_or_blocks() {
        use Piece::{Template as T, Text};
        assert_eq!(
            pieces("a {{x}} b {{#if c}}d{{#each e}}{{f}}{{/each}}{{else}}g{{/if}} {{{h}}}."),
            [
                Text("a "),
                T("{{x}}"),
                Text(" b "),
                T("{{#if c}}d{{#each e}}{{f}}{{/each}}{{else}}g{{/if}}"),
                Text(" "),
                T("{{{h}}}"),
                Text("."),
            ]
        );
        // Unclosed tags and blocks go to handlebars whole, which reports them.
        assert_eq!(pieces("a {{x"), [Text("a "), T("{{x")]);
        assert_eq!(pieces("a {{#if x}} b"), [Text("a "), T("{{#if x}} b")]);
        assert_eq!(pieces(""), []);
        for (_, source) in TEMPLATES.iter().chain(&EXISTING_VAULT_TEMPLATES) {
            let source = compact(source);
            let cut = pieces(&source);
            let joined: String = cut
                .iter()
                .map(|p| match p {
                    Text(s) | T(s) => *s,
                })
                .collect();
            assert_eq!(joined, source);
            // What the cut relies on: no whitespace control, no escaped tags.
            assert!(!source.contains("{{~") && !source.contains("~}}"));
            assert!(!source.contains("\\{{"));
        }
    }

    /// Rendering piece by piece gives what handlebars gives for each whole template.
    #[test]
    fn pieces_render_what_the_whole_template_renders() {
        let whole = |variant: Variant| {
            let mut whole = Handlebars::new();
            whole.set_strict_mode(true);
            whole.register_escape_fn(json_escape);
            whole.register_helper("json", Box::new(json_helper));
            whole.register_helper("arm_json", Box::new(json_helper));
            for (name, source) in variant.templates() {
                whole
                    .register_template_string(name, compact(source))
                    .unwrap();
            }
            whole
        };
        let wholes = [
            (Variant::NewVault, whole(Variant::NewVault)),
            (Variant::ExistingVault, whole(Variant::ExistingVault)),
        ];
        let with = |raw: RawParams| {
            RawParams {
                region: Some("eastus".into()),
                vault_name: Some("kv-cmek-01".into()),
                key_name: Some("tidb-cmek-a1b2c3".into()),
                sp_object_id: Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301".into()),
                ..raw
            }
            .validate()
            .unwrap()
        };
        let variants = [
            request(),
            with(RawParams {
                key_type: Some("RSA-HSM".into()),
                key_suffix: Some("a1b2c3".into()),
                officer_object_id: Some("3f2504e0-4f89-41d3-9a0c-0305e82c3302".into()),
                ..Default::default()
            }),
            with(RawParams {
                allow_ip: Some(vec!["203.0.113.0/24".into(), "198.51.100.7".into()]),
                no_rotation: Some(true),
                ..Default::default()
            }),
            with(RawParams {
                existing_vault: Some(true),
                ..Default::default()
            }),
            with(RawParams {
                existing_vault: Some(true),
                vault_resource_group: Some("rg-vaults".into()),
                key_suffix: Some("a1b2c3".into()),
                officer_object_id: Some("3f2504e0-4f89-41d3-9a0c-0305e82c3302".into()),
                no_rotation: Some(true),
                ..Default::default()
            }),
        ];
        for req in variants {
            let variant = Variant::of(&req);
            let (_, whole) = wholes.iter().find(|(v, _)| *v == variant).unwrap();
            let ctx = Context::wraps(context(&req)).unwrap();
            for (name, _) in variant.templates() {
                let by_pieces = prepared(variant).unwrap().render_file(name, &ctx).unwrap();
                let at_once = whole.render_with_context(name, &ctx).unwrap();
                let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap();
                assert_eq!(parse(&by_pieces), parse(&at_once), "{variant:?} {name}");
            }
        }
    }

    #[test]
    fn self_check_rejects_output_that_breaks_an_invariant() {
        let rendered = render(&request()).unwrap();
        let template: Value = serde_json::from_str(&rendered.template).unwrap();
        let params: Value = serde_json::from_str(&rendered.parameters).unwrap();
        let ui: Value = serde_json::from_str(&rendered.ui_definition).unwrap();
        let check = |t: &Value, p: &Value, u: &Value| {
            self_check(&files_object([
                (TEMPLATE_FILE, t.clone()),
                (PARAMETERS_FILE, p.clone()),
                (UI_DEFINITION_FILE, u.clone()),
            ]))
        };
        check(&template, &params, &ui).unwrap();

        let mut bad = template.clone();
        bad["resources"][0]["properties"]["enablePurgeProtection"] = json!(false);
        let err = check(&bad, &params, &ui).unwrap_err();
        assert!(
            err.to_string().contains("/azuredeploy.json/resources/0"),
            "{err}"
        );

        let mut bad = params.clone();
        bad["parameters"]["keySize"]["value"] = json!(1024);
        let err = check(&template, &bad, &ui).unwrap_err();
        assert!(
            err.to_string()
                .contains("/azuredeploy.parameters.json/parameters/keySize"),
            "{err}"
        );

        let mut bad = ui.clone();
        bad["parameters"]["outputs"]["extra"] = json!("[basics('x')]");
        assert!(check(&template, &params, &bad).is_err());

        // The duration and vault-name patterns are written without lookarounds
        // (cheaper to compile); they still refuse what the lookarounds did.
        let rotate =
            "/resources/1/properties/rotationPolicy/lifetimeActions/0/trigger/timeAfterCreate";
        for (duration, ok) in [
            ("P1Y", true),
            ("P2M", true),
            ("P90D", true),
            ("P1Y6M30D", true),
            ("P1M30D", true),
            ("P", false),
            ("P1D1Y", false),
            ("P1Y1Y", false),
            ("PY", false),
            ("P1W", false),
        ] {
            let mut t = template.clone();
            *t.pointer_mut(rotate).unwrap() = json!(duration);
            assert_eq!(check(&t, &params, &ui).is_ok(), ok, "{duration}");
        }
        for (name, ok) in [
            ("kv1", true),
            ("a-b", true),
            ("k-v-0123456789abcdefghij", true),
            ("ab", false),
            ("k-v-0123456789abcdefghijk", false),
            ("kv--01", false),
            ("1kv", false),
            ("kv-", false),
            ("-kv", false),
            ("kv_01", false),
        ] {
            let mut p = params.clone();
            p["parameters"]["vaultName"]["value"] = json!(name);
            assert_eq!(check(&template, &p, &ui).is_ok(), ok, "{name}");
        }
    }

    #[test]
    fn compacting_drops_comments_indentation_and_blank_lines_only() {
        let source = "{{!-- a\n  comment --}}\n{\n  \"a b\": \"{{x}}  y\",\n\n    \"c\": 1 }\n";
        assert_eq!(compact(source), "{\n\"a b\": \"{{x}}  y\",\n\"c\": 1 }\n");
        assert_eq!(compact("{{!-- open"), "{{!-- open\n");
    }

    #[test]
    fn writes_are_atomic_and_refuse_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let rendered = render(&request()).unwrap();
        let written = write_files(&out, &rendered, false).unwrap();
        assert_eq!(written.len(), 3);
        assert_eq!(
            std::fs::read_to_string(out.join(TEMPLATE_FILE)).unwrap(),
            rendered.template
        );

        std::fs::write(out.join(PARAMETERS_FILE), "mine").unwrap();
        let err = write_files(&out, &rendered, false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(
            std::fs::read_to_string(out.join(PARAMETERS_FILE)).unwrap(),
            "mine"
        );

        write_files(&out, &rendered, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join(PARAMETERS_FILE)).unwrap(),
            rendered.parameters
        );
        // No temporary files are left behind.
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [TEMPLATE_FILE, PARAMETERS_FILE, UI_DEFINITION_FILE]);
    }

    #[test]
    fn deploy_links_and_command() {
        assert_eq!(
            portal_link(
                "https://example.com/a b/azuredeploy.json",
                Some("https://example.com/ui.json")
            ),
            "https://portal.azure.com/#create/Microsoft.Template/uri/https%3A%2F%2Fexample.com%2Fa%20b%2Fazuredeploy.json/createUIDefinitionUri/https%3A%2F%2Fexample.com%2Fui.json"
        );
        assert_eq!(
            az_command(Path::new("my out")),
            "az deployment group create --resource-group <resource-group> --template-file 'my out/azuredeploy.json' --parameters '@my out/azuredeploy.parameters.json'"
        );
        assert_eq!(
            preflight_command(Path::new("my out")),
            "cmek-arm preflight 'my out/azuredeploy.json' --parameters 'my out/azuredeploy.parameters.json' --subscription <subscription-id> --resource-group <resource-group>"
        );
        let text = deploy_instructions(Path::new("out"), &request(), None);
        let (check, deploy) = (
            text.find("cmek-arm preflight").unwrap(),
            text.find("az deployment group create").unwrap(),
        );
        assert!(check < deploy, "preflight comes first:\n{text}");
        let existing = RenderRequest {
            existing_vault: Some(crate::params::ExistingVault {
                resource_group: None,
            }),
            ..request()
        };
        let text = deploy_instructions(Path::new("out"), &existing, None);
        let (check, deploy) = (
            text.find("cmek-arm preflight").unwrap(),
            text.find("az deployment group create").unwrap(),
        );
        assert!(check < deploy, "preflight comes first:\n{text}");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
