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
