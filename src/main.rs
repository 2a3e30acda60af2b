//! The `cmek-arm` binary: clap definitions and exit codes; the work is in the library.

use clap::{Args, CommandFactory, Parser, Subcommand};
use cmek_arm::params::{RawParams, RawTags};
use cmek_arm::{render, rules};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: see Cargo.toml for why.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Render, validate and check customer-managed-key (CMEK) setups for Azure Key Vault.
#[derive(Parser)]
#[command(name = "cmek-arm", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render the CMEK deployment (Key Vault, key, role assignments) as ARM JSON.
    // Boxed: the render flags dwarf the other variants (clippy::large_enum_variant).
    Render(Box<RenderArgs>),
    /// List every rule: ID, name, default level, where it applies.
    Rules(RulesArgs),
    /// Print a rule's documentation.
    Explain(ExplainArgs),
    /// Read the deployed vault, key and role assignments from Azure and check them.
    Check(Box<CheckArgs>),
    /// Check ARM templates against the rules and report every finding with its position.
    Validate(ValidateArgs),
    /// Print what a deployment of the template would create, as JSON.
    Expand(ExpandArgs),
    /// Before deploying: check a template against what already exists in Azure (reads only).
    Preflight(Box<PreflightArgs>),
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the manual page (roff) with every subcommand and its flags.
    Man,
}

#[derive(Args)]
struct CompletionsArgs {
    /// The shell, e.g. `cmek-arm completions bash > /etc/bash_completion.d/cmek-arm`.
    #[arg(value_name = "SHELL")]
    shell: cmek_arm::docs::Shell,
}

/// `render` flags (CLI.md); every value can also come from `--params`.
#[derive(Args)]
struct RenderArgs {
    /// JSON or TOML file with the inputs, named like these flags in snake_case; flags win.
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
    /// Azure region of the cluster and the vault, e.g. eastus or "East US".
    #[arg(long)]
    region: Option<String>,
    /// Key Vault name (3-24 chars, letters, digits, '-').
    #[arg(long)]
    vault_name: Option<String>,
    /// Full key name, as copied from the vendor console.
    #[arg(long, conflicts_with = "key_prefix")]
    key_name: Option<String>,
    /// Key name prefix; the name is <prefix>-<suffix>.
    #[arg(long)]
    key_prefix: Option<String>,
    /// Vendor suffix of the key name (with --key-name: checked that the name ends with it).
    #[arg(long)]
    key_suffix: Option<String>,
    /// Object ID of the vendor's service principal in your tenant.
    #[arg(long, value_name = "GUID")]
    sp_object_id: Option<String>,
    /// Who gets Key Vault Crypto Officer [default: the deploying principal].
    #[arg(long, value_name = "GUID")]
    officer_object_id: Option<String>,
    /// RSA or RSA-HSM (RSA-HSM selects the premium vault SKU) [default: RSA].
    #[arg(long)]
    key_type: Option<String>,
    /// 2048, 3072 or 4096 [default: 3072].
    #[arg(long, value_name = "BITS")]
    key_size: Option<i64>,
    /// ISO 8601 rotation interval, e.g. P1Y or P90D [default: P1Y].
    #[arg(long, value_name = "DURATION", conflicts_with = "no_rotation")]
    rotate_every: Option<String>,
    /// Do not add a rotation policy.
    #[arg(long)]
    no_rotation: bool,
    /// Soft-delete retention, 7-90 days [default: 90].
    #[arg(long, value_name = "DAYS")]
    retention_days: Option<i64>,
    /// IPv4 address or CIDR allowed through the vault firewall (repeatable; sets default Deny).
    #[arg(long, value_name = "CIDR")]
    allow_ip: Vec<String>,
    /// Resource tag (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    tag: Vec<String>,
    /// Output directory [default: ./cmek-arm-out].
    #[arg(long, value_name = "DIR", conflicts_with = "stdout")]
    out: Option<PathBuf>,
    /// Print the template to stdout instead of writing files.
    #[arg(long)]
    stdout: bool,
    /// Overwrite existing files in --out.
    #[arg(long)]
    force: bool,
    /// URL where the files will be hosted, to print complete portal links.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The vault exists already: render only the key and the role assignments,
    /// referencing the vault (never deploying, so never changing, it).
    #[arg(long)]
    existing_vault: bool,
    /// Resource group of the existing vault, when it is not the one the template is deployed to.
    #[arg(long, value_name = "NAME")]
    vault_resource_group: Option<String>,
}

impl RenderArgs {
    /// Flags as raw inputs, `None` where a flag was not given (so the file's value stays).
    fn raw(&self) -> RawParams {
        RawParams {
            region: self.region.clone(),
            vault_name: self.vault_name.clone(),
            key_name: self.key_name.clone(),
            key_prefix: self.key_prefix.clone(),
            key_suffix: self.key_suffix.clone(),
            sp_object_id: self.sp_object_id.clone(),
            officer_object_id: self.officer_object_id.clone(),
            key_type: self.key_type.clone(),
            key_size: self.key_size,
            rotate_every: self.rotate_every.clone(),
            no_rotation: self.no_rotation.then_some(true),
            retention_days: self.retention_days,
            allow_ip: (!self.allow_ip.is_empty()).then(|| self.allow_ip.clone()),
            tag: (!self.tag.is_empty()).then(|| RawTags::List(self.tag.clone())),
            existing_vault: self.existing_vault.then_some(true),
            vault_resource_group: self.vault_resource_group.clone(),
        }
    }
}

fn run_render(args: &RenderArgs) -> anyhow::Result<u8> {
    let file = match &args.params {
        Some(path) => RawParams::from_file(path)?,
        None => RawParams::default(),
    };
    let request = file.overlay(args.raw())?.validate()?;
    if let Some(url) = &args.base_url {
        render::check_base_url(url)?;
    }
    let rendered = render::render(&request)?;
    if args.stdout {
        print!("{}", rendered.template);
        return Ok(0);
    }
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("cmek-arm-out"));
    for path in render::write_files(&dir, &rendered, args.force)? {
        println!("wrote {}", path.display());
    }
    println!();
    print!(
        "{}",
        render::deploy_instructions(&dir, &request, args.base_url.as_deref())
    );
    Ok(0)
}

#[derive(Args)]
struct RulesArgs {
    /// Show levels under this profile: `tidb-cloud` (default) or a TOML profile file.
    #[arg(long, value_name = "NAME|FILE", default_value = "tidb-cloud")]
    profile: String,
}

#[derive(Args)]
struct ExplainArgs {
    /// Rule ID or name, e.g. CMK001 or vault-purge-protection.
    rule: String,
}

/// `cmek-arm check` flags (CLI.md): one vault and key through ARM, or (the
/// vendor's side) any number of key URIs through the data plane.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("fleet").args(["key_uri", "key_uris"]).multiple(true)))]
struct CheckArgs {
    /// Subscription ID of the vault.
    #[arg(long, value_name = "GUID", required_unless_present = "fleet")]
    subscription: Option<String>,
    /// Resource group of the vault (and of --from-deployment).
    #[arg(long, value_name = "NAME", required_unless_present = "fleet")]
    resource_group: Option<String>,
    /// Key Vault name.
    #[arg(long, value_name = "NAME", required_unless_present_any = ["from_deployment", "fleet"])]
    vault: Option<String>,
    /// Key name.
    #[arg(long, value_name = "NAME", required_unless_present_any = ["from_deployment", "fleet"])]
    key: Option<String>,
    /// Take vault and key names from the outputs of this ARM deployment.
    #[arg(long, value_name = "NAME")]
    from_deployment: Option<String>,
    /// Check this key through the Key Vault data plane only, as the vendor sees it: https://<vault>.vault.azure.net/keys/<name>[/<version>] (repeatable).
    #[arg(
        long,
        value_name = "URI",
        conflicts_with_all = FLEET_CONFLICTS,
    )]
    key_uri: Vec<String>,
    /// As --key-uri, for every URI in FILE (one per line, '#' comments; '-' for standard input).
    #[arg(long, value_name = "FILE", conflicts_with_all = FLEET_CONFLICTS)]
    key_uris: Option<String>,
    /// With --key-uri/--key-uris: keys checked at once.
    #[arg(long, value_name = "N", requires = "fleet", default_value_t = cmek_arm::fleet::DEFAULT_CONCURRENCY.to_string())]
    concurrency: String,
    /// With --key-uri/--key-uris: check only the keys whose URI hashes to shard I (from 0) of N, so N machines split a fleet and their outputs concatenate.
    #[arg(long, value_name = "I/N", requires = "fleet")]
    shard: Option<String>,
    /// With --key-uri/--key-uris: do not wrap and unwrap with each key (CMK017 is then not decided).
    #[arg(long, requires = "fleet", conflicts_with = "probe")]
    no_probe: bool,
    /// The tenant the vault must trust (CMK016) [default: the subscription's tenant]; with --key-uri/--key-uris: the keys' tenant, instead of the one Key Vault's 401 challenge names.
    #[arg(long, value_name = "GUID")]
    tenant_id: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Print what was read (the model the rules see) as JSON instead of the report.
    #[arg(long)]
    show_state: bool,
    /// Also wrap and unwrap 32 random bytes with the key (data plane; on by default with --key-uri/--key-uris).
    #[arg(long)]
    probe: bool,
    /// Per-request timeout in seconds, from sending the request to the last byte of the answer.
    #[arg(long, value_name = "SECONDS", default_value = "30")]
    timeout: String,
    /// Overall deadline for the whole check in seconds (with --key-uri/--key-uris: for each key), retries and their waits included; past it, check stops with exit 3 naming the call it was waiting for [default: four times --timeout, at least 60].
    #[arg(long, value_name = "SECONDS")]
    deadline: Option<String>,
    /// Cloud: public, usgov or china.
    #[arg(long, value_name = "CLOUD", default_value = "public")]
    cloud: String,
    /// Azure Resource Manager endpoint (http only on loopback).
    #[arg(long, value_name = "URL")]
    arm_endpoint: Option<String>,
    /// Key Vault data-plane base URL (http only on loopback).
    #[arg(long, value_name = "URL")]
    vault_endpoint: Option<String>,
    /// Microsoft Graph endpoint (http only on loopback).
    #[arg(long, value_name = "URL")]
    graph_endpoint: Option<String>,
    /// Credential source: default (environment, then Azure CLI, then managed identity), env, cli, managed-identity. With --key-uri/--key-uris only the environment's application credential (AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE) can get a token in each customer's tenant.
    #[arg(long, value_name = "SOURCE", default_value = "default")]
    auth: String,
    /// Output format: text, json, sarif, junit, github, or (with --key-uri/--key-uris) jsonl: one line per key as it finishes.
    #[arg(long, default_value = "text", value_parser = parse_check_format)]
    format: cmek_arm::fleet::FleetFormat,
    /// Lowest level that makes the exit code 1: error or warning.
    #[arg(long, default_value = "error", value_parser = parse_fail_on)]
    fail_on: cmek_arm::diag::Level,
}

/// What the data-plane view cannot use: ARM's names and endpoints, and the
/// rule inputs only ARM's view can decide.
const FLEET_CONFLICTS: [&str; 12] = [
    "subscription",
    "resource_group",
    "vault",
    "key",
    "from_deployment",
    "arm_endpoint",
    "vault_endpoint",
    "graph_endpoint",
    "show_state",
    "region",
    "sp_object_id",
    "officer_object_id",
];

fn parse_check_format(s: &str) -> Result<cmek_arm::fleet::FleetFormat, String> {
    s.parse()
}

impl CheckArgs {
    /// What to read and how.
    fn options(&self) -> Result<cmek_arm::check::CheckOptions, cmek_arm::Error> {
        use cmek_arm::azure::reader::Target;
        Ok(cmek_arm::check::CheckOptions {
            target: Target {
                subscription: self.subscription.clone().unwrap_or_default(),
                resource_group: self.resource_group.clone().unwrap_or_default(),
                vault: self.vault.clone(),
                key: self.key.clone(),
                from_deployment: self.from_deployment.clone(),
                sp_object_id: self.rules.sp_object_id.clone(),
                probe: self.probe,
            },
            auth: self.auth.parse()?,
            cloud: self.cloud.parse()?,
            arm_endpoint: self.arm_endpoint.clone(),
            vault_endpoint: self.vault_endpoint.clone(),
            graph_endpoint: self.graph_endpoint.clone(),
            timeout: cmek_arm::check::parse_timeout(&self.timeout)?,
            deadline: self
                .deadline
                .as_deref()
                .map(cmek_arm::check::parse_deadline)
                .transpose()?,
        })
    }

    /// The vendor's fleet run, when key URIs were given.
    fn fleet(
        &self,
        settings: &rules::Settings,
    ) -> Result<Option<cmek_arm::fleet::FleetOptions>, cmek_arm::Error> {
        if self.key_uri.is_empty() && self.key_uris.is_none() {
            return Ok(None);
        }
        use cmek_arm::azure::credentials::AuthMode;
        let auth: AuthMode = self.auth.parse()?;
        if !matches!(auth, AuthMode::Default | AuthMode::Env) {
            return Err(cmek_arm::Error::InvalidInput {
                flag: "--auth".into(),
                value: self.auth.clone(),
                rule: "with --key-uri/--key-uris only env (or default) works: the vendor's \
                       application gets a token in each customer's tenant from \
                       AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE"
                    .into(),
            });
        }
        Ok(Some(cmek_arm::fleet::FleetOptions {
            key_uris: self.key_uri.clone(),
            key_uris_file: self.key_uris.clone(),
            cloud: self.cloud.parse()?,
            tenant_id: settings.tenant_id.clone(),
            probe: !self.no_probe,
            concurrency: cmek_arm::fleet::parse_concurrency(&self.concurrency)?,
            shard: self
                .shard
                .as_deref()
                .map(cmek_arm::azure::dataplane::uri::Shard::parse)
                .transpose()?,
            timeout: cmek_arm::check::parse_timeout(&self.timeout)?,
            deadline: self
                .deadline
                .as_deref()
                .map(cmek_arm::check::parse_deadline)
                .transpose()?,
            format: self.format,
            fail_on: self.fail_on,
        }))
    }
}

/// Runs `check`: read, rules, report; exit 0/1 per `--fail-on`, 3 when the read
/// could not finish. Every flag is checked before the first request.
fn run_check(args: &CheckArgs) -> anyhow::Result<u8> {
    let settings = rules::Settings::from_flags(&args.rules.flags(args.tenant_id.clone()))?;
    if let Some(fleet) = args.fleet(&settings)? {
        return Ok(cmek_arm::fleet::run_command(&fleet, &settings)?);
    }
    let cmek_arm::fleet::FleetFormat::Report(format) = args.format else {
        return Err(cmek_arm::Error::InvalidInput {
            flag: "--format".into(),
            value: "jsonl".into(),
            rule: "one line per key is for --key-uri/--key-uris; use json for one vault and key"
                .into(),
        }
        .into());
    };
    let opts = args.options()?;
    opts.validate()?;
    let state = cmek_arm::check::run(&opts)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.show_state {
        let text = serde_json::to_string_pretty(&cmek_arm::check::state_json(&state))?;
        std::io::Write::write_all(&mut out, format!("{text}\n").as_bytes())?;
        std::io::Write::flush(&mut out)?;
        return Ok(0);
    }
    let findings = cmek_arm::check::findings(&state, &settings);
    cmek_arm::report::write(
        &findings,
        &cmek_arm::check::sources(&state),
        format,
        cmek_arm::report::use_color(),
        &mut out,
    )?;
    Ok(cmek_arm::report::exit_code(&findings, args.fail_on))
}

/// `cmek-arm preflight` flags (CLI.md).
#[derive(Args)]
struct PreflightArgs {
    /// The ARM template to deploy (JSON, comments allowed).
    #[arg(value_name = "TEMPLATE")]
    template: PathBuf,
    /// ARM parameters file, as the deployment will use it.
    #[arg(long, value_name = "FILE")]
    parameters: Option<PathBuf>,
    /// Subscription ID to deploy into.
    #[arg(long, value_name = "GUID")]
    subscription: String,
    /// Resource group to deploy into (it must exist; its location is resourceGroup().location).
    #[arg(long, value_name = "NAME")]
    resource_group: String,
    /// Deployment name, for deployment().name [default: the template's file name without extension, as az uses].
    #[arg(long, value_name = "NAME")]
    deployment_name: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Print what was read (context, template resources, vaults, role assignments, permissions) as JSON instead of the report.
    #[arg(long)]
    show_state: bool,
    /// Per-request timeout in seconds, from sending the request to the last byte of the answer.
    #[arg(long, value_name = "SECONDS", default_value = "30")]
    timeout: String,
    /// Overall deadline in seconds for every read from Azure, retries and their waits included (not the template's expansion); past it, preflight stops with exit 3 naming the call it was waiting for [default: eight times --timeout, at least 120].
    #[arg(long, value_name = "SECONDS")]
    deadline: Option<String>,
    /// Cloud: public, usgov or china.
    #[arg(long, value_name = "CLOUD", default_value = "public")]
    cloud: String,
    /// Azure Resource Manager endpoint (http only on loopback).
    #[arg(long, value_name = "URL")]
    arm_endpoint: Option<String>,
    /// Accepted as check takes it (http only on loopback) and unused: preflight calls only Azure Resource Manager.
    #[arg(long, value_name = "URL")]
    vault_endpoint: Option<String>,
    /// Accepted as check takes it (http only on loopback) and unused: preflight calls only Azure Resource Manager.
    #[arg(long, value_name = "URL")]
    graph_endpoint: Option<String>,
    /// The tenant the vault must trust (CMK016) [default: the subscription's tenant]; the template is still expanded with the subscription's real tenant.
    #[arg(long, value_name = "GUID")]
    tenant_id: Option<String>,
    /// Credential source: default (environment, then Azure CLI, then managed identity), env, cli, managed-identity.
    #[arg(long, value_name = "SOURCE", default_value = "default")]
    auth: String,
    #[command(flatten)]
    report: ReportArgs,
}

/// Runs `preflight`: context from Azure, validate, reads, rules, report; exit
/// 0/1 per `--fail-on`, 3 when Azure could not be read. Every flag and file is
/// checked before the first request.
fn run_preflight(args: &PreflightArgs) -> anyhow::Result<u8> {
    let opts = cmek_arm::preflight::PreflightOptions {
        template: args.template.clone(),
        parameters: args.parameters.clone(),
        subscription: args.subscription.clone(),
        resource_group: args.resource_group.clone(),
        deployment_name: args.deployment_name.clone(),
        auth: args.auth.parse()?,
        cloud: args.cloud.parse()?,
        arm_endpoint: args.arm_endpoint.clone(),
        vault_endpoint: args.vault_endpoint.clone(),
        graph_endpoint: args.graph_endpoint.clone(),
        timeout: cmek_arm::check::parse_timeout(&args.timeout)?,
        deadline: args
            .deadline
            .as_deref()
            .map(cmek_arm::check::parse_deadline)
            .transpose()?,
        flags: args.rules.flags(args.tenant_id.clone()),
    };
    let result = cmek_arm::preflight::run(&opts)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.show_state {
        let text = serde_json::to_string_pretty(&cmek_arm::preflight::state_json(&result))?;
        std::io::Write::write_all(&mut out, format!("{text}\n").as_bytes())?;
        std::io::Write::flush(&mut out)?;
        return Ok(0);
    }
    cmek_arm::report::write(
        &result.outcome.diagnostics,
        &result.outcome.sources,
        args.report.format,
        cmek_arm::report::use_color(),
        &mut out,
    )?;
    Ok(result.outcome.exit_code(args.report.fail_on))
}

#[derive(Args)]
struct ValidateArgs {
    /// ARM template files (JSON, comments allowed).
    #[arg(required = true, value_name = "TEMPLATE")]
    templates: Vec<std::path::PathBuf>,
    /// ARM parameters file, checked against (and used with) every TEMPLATE.
    #[arg(long, value_name = "FILE")]
    parameters: Option<std::path::PathBuf>,
    /// Also validate each resource against Azure's official schema for its type
    /// and apiVersion, from this directory (laid out like azure-resource-manager-schemas).
    #[arg(long, value_name = "DIR")]
    schema_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    context: ContextArgs,
}

/// What the CMEK rules compare against (validate and check).
#[derive(Args)]
struct RuleArgs {
    /// The region the vault must be in (CMK004).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The principal that must hold Key Vault Crypto Service Encryption User (CMK010).
    #[arg(long, value_name = "GUID")]
    sp_object_id: Option<String>,
    /// The principal that must hold Key Vault Crypto Officer (CMK011).
    #[arg(long, value_name = "GUID")]
    officer_object_id: Option<String>,
    /// The vendor suffix the key name must end with (CMK007).
    #[arg(long, value_name = "SUFFIX")]
    key_suffix: Option<String>,
    /// Requirement profile: `tidb-cloud` (default) or a TOML profile file.
    #[arg(long, value_name = "NAME|FILE")]
    profile: Option<String>,
    /// Drop findings of this rule (ID or name); repeat for several.
    #[arg(long, value_name = "RULE")]
    ignore: Vec<String>,
}

impl RuleArgs {
    /// The flags as the rules take them; `tenant_id` comes from the command's own flag.
    fn flags(&self, tenant_id: Option<String>) -> rules::Flags {
        rules::Flags {
            region: self.region.clone(),
            sp_object_id: self.sp_object_id.clone(),
            officer_object_id: self.officer_object_id.clone(),
            key_suffix: self.key_suffix.clone(),
            tenant_id,
            profile: self.profile.clone(),
            ignore: self.ignore.clone(),
        }
    }
}

/// How findings are reported.
#[derive(Args)]
struct ReportArgs {
    /// Output format: text, json, sarif, junit or github.
    #[arg(long, default_value = "text", value_parser = parse_format)]
    format: cmek_arm::report::Format,
    /// Lowest level that makes the exit code 1: error or warning.
    #[arg(long, default_value = "error", value_parser = parse_fail_on)]
    fail_on: cmek_arm::diag::Level,
}

/// The deployment context template expressions read; absent values are unknown.
#[derive(Args)]
struct ContextArgs {
    /// Subscription ID for subscription(), resourceId() and resource IDs.
    #[arg(long, value_name = "GUID")]
    subscription_id: Option<String>,
    /// Resource group name for resourceGroup() and resource IDs.
    #[arg(long, value_name = "NAME")]
    resource_group: Option<String>,
    /// Location of the resource group (resourceGroup().location).
    #[arg(long, value_name = "REGION")]
    resource_group_location: Option<String>,
    /// Tenant ID (subscription().tenantId, tenant()); also the tenant the vault must trust (CMK016).
    #[arg(long, value_name = "GUID")]
    tenant_id: Option<String>,
    /// Object ID of the deploying principal (deployer().objectId).
    #[arg(long, value_name = "GUID")]
    deployer_object_id: Option<String>,
}

impl ContextArgs {
    fn context(&self) -> cmek_arm::arm::expand::Context {
        cmek_arm::arm::expand::Context {
            subscription_id: self.subscription_id.clone(),
            resource_group: self.resource_group.clone(),
            resource_group_location: self.resource_group_location.clone(),
            tenant_id: self.tenant_id.clone(),
            deployer_object_id: self.deployer_object_id.clone(),
            deployment_name: None,
            not_the_deployer: Vec::new(),
        }
    }
}

fn parse_format(s: &str) -> Result<cmek_arm::report::Format, String> {
    s.parse()
}

fn parse_fail_on(s: &str) -> Result<cmek_arm::diag::Level, String> {
    match s.parse::<cmek_arm::diag::Level>() {
        Ok(level) if level != cmek_arm::diag::Level::Note => Ok(level),
        _ => Err(format!("'{s}' is not a level to fail on (error, warning)")),
    }
}

#[derive(Args)]
struct ExpandArgs {
    /// The ARM template (JSON, comments allowed).
    template: std::path::PathBuf,
    /// ARM parameters file (deploymentParameters schema).
    #[arg(long, value_name = "FILE")]
    parameters: Option<std::path::PathBuf>,
    #[command(flatten)]
    context: ContextArgs,
}

fn run_validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let options = cmek_arm::validate::Options {
        parameters: args.parameters,
        format: args.report.format,
        fail_on: args.report.fail_on,
        flags: args.rules.flags(args.context.tenant_id.clone()),
        context: args.context.context(),
        schema_dir: args.schema_dir,
        color: cmek_arm::report::use_color(),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    Ok(cmek_arm::validate::validate(
        &args.templates,
        &options,
        &mut out,
    )?)
}

fn run_expand(args: &ExpandArgs) -> anyhow::Result<u8> {
    Ok(cmek_arm::validate::expand_command(
        &args.template,
        args.parameters.as_deref(),
        &args.context.context(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )?)
}

/// Prints to stdout; a closed pipe (`| head`) is the reader's choice, not an error.
fn print(text: &str) -> u8 {
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    0
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {
        Command::Render(args) => run_render(&args),
        Command::Check(args) => run_check(&args),
        Command::Rules(args) => rules::Profile::load(&args.profile)
            .map(|profile| print(&rules::catalogue(&profile)))
            .map_err(Into::into),
        Command::Explain(args) => rules::explain(&args.rule)
            .map(|text| print(&text))
            .map_err(Into::into),
        Command::Validate(args) => run_validate(args),
        Command::Expand(args) => run_expand(&args),
        Command::Preflight(args) => run_preflight(&args),
        Command::Completions(args) => {
            let mut out = Vec::new();
            cmek_arm::docs::completions(args.shell, Cli::command(), &mut out);
            Ok(print(&String::from_utf8_lossy(&out)))
        }
        Command::Man => cmek_arm::docs::man_page(Cli::command())
            .map(|page| print(&page))
            .map_err(Into::into),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err
                .downcast_ref::<cmek_arm::Error>()
                .map_or(2, cmek_arm::Error::exit_code);
            eprintln!("error: {err:#}");
            ExitCode::from(code)
        }
    }
}
