//! The `cmek-arm` binary: clap definitions and exit codes; the work is in the library.

use clap::{Args, Parser, Subcommand};
use cmek_arm::rules;
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
    /// List every rule: ID, name, default level, where it applies.
    Rules(RulesArgs),
    /// Print a rule's documentation.
    Explain(ExplainArgs),
    /// Print what a deployment of the template would create, as JSON.
    Expand(ExpandArgs),
}

#[derive(Args)]
struct ExpandArgs {
    /// The ARM template (JSON, comments allowed).
    template: std::path::PathBuf,
    /// ARM parameters file (deploymentParameters schema).
    #[arg(long, value_name = "FILE")]
    parameters: Option<std::path::PathBuf>,
    /// Subscription ID for subscription(), resourceId() and resource IDs.
    #[arg(long, value_name = "GUID")]
    subscription_id: Option<String>,
    /// Resource group name for resourceGroup() and resource IDs.
    #[arg(long, value_name = "NAME")]
    resource_group: Option<String>,
    /// Location of the resource group (resourceGroup().location).
    #[arg(long, value_name = "REGION")]
    resource_group_location: Option<String>,
    /// Tenant ID (subscription().tenantId, tenant()).
    #[arg(long, value_name = "GUID")]
    tenant_id: Option<String>,
    /// Object ID of the deploying principal (deployer().objectId).
    #[arg(long, value_name = "GUID")]
    deployer_object_id: Option<String>,
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
        Command::Expand(args) => run_expand(&args),
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

fn read_doc(path: &std::path::Path) -> anyhow::Result<cmek_arm::arm::json::Document> {
    let bytes = std::fs::read(path).map_err(|e| cmek_arm::Error::io(path, &e))?;
    cmek_arm::arm::json::parse(&path.display().to_string(), &bytes)
        .map_err(|e| cmek_arm::Error::Usage(format!("{e} (ARM001 json-syntax)")).into())
}

fn run_expand(args: &ExpandArgs) -> anyhow::Result<u8> {
    use cmek_arm::arm::expand::{expand, Context};
    let template = read_doc(&args.template)?;
    let parameters = args.parameters.as_deref().map(read_doc).transpose()?;
    let ctx = Context {
        subscription_id: args.subscription_id.clone(),
        resource_group: args.resource_group.clone(),
        resource_group_location: args.resource_group_location.clone(),
        tenant_id: args.tenant_id.clone(),
        deployer_object_id: args.deployer_object_id.clone(),
        deployment_name: None,
    };
    let expansion = expand(&template, parameters.as_ref(), &ctx);
    let text = serde_json::to_string_pretty(&expansion.to_json())?;
    // A closed pipe (`| head`) is not an error worth a panic.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = std::io::Write::write_all(&mut stdout, format!("{text}\n").as_bytes()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    for d in &expansion.diagnostics {
        let (line, column) = match &d.location {
            cmek_arm::diag::Location::File { span: Some(s), .. } => {
                cmek_arm::diag::line_col(&template.text, s.start)
            }
            _ => (0, 0),
        };
        eprintln!(
            "{}:{line}:{column}: {} {}: {}",
            template.file, d.level, d.rule, d.message
        );
    }
    Ok(u8::from(expansion.is_broken()))
}
