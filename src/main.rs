//! The `cmek-arm` binary: clap definitions and exit codes; the work is in the library.

use clap::{Args, Parser, Subcommand};
use cmek_arm::params::{RawParams, RawTags};
use cmek_arm::{render, rules};
use std::path::PathBuf;
use std::process::ExitCode;

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
        render::deploy_instructions(&dir, request.region.as_str(), args.base_url.as_deref())
    );
    Ok(0)
}

#[derive(Args)]
struct RulesArgs {}

#[derive(Args)]
struct ExplainArgs {
    /// Rule ID or name, e.g. CMK001 or vault-purge-protection.
    rule: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {
        Command::Render(args) => run_render(&args),
        Command::Rules(_) => {
            for r in rules::RULES {
                println!(
                    "{:<8} {:<28} {:<8} {}",
                    r.id,
                    r.name,
                    r.level,
                    r.applies.as_str()
                );
            }
            Ok(0)
        }
        Command::Explain(args) => match rules::find(&args.rule) {
            Some(r) => {
                println!(
                    "{} ({}), default level {}\n\n{}",
                    r.id,
                    r.name,
                    r.level,
                    r.doc()
                );
                Ok(0)
            }
            None => Err(cmek_arm::Error::Usage(format!(
                "unknown rule '{}' (see `cmek-arm rules`)",
                args.rule
            ))
            .into()),
        },
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
