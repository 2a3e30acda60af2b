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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<u8> = match cli.command {
        Command::Rules(args) => rules::Profile::load(&args.profile)
            .map(|profile| {
                let mut text = String::new();
                for r in rules::RULES {
                    // A profile's change is shown next to the catalogue's default.
                    let (level, note) = match profile.level(r) {
                        Some(l) if l == r.level => (l.to_string(), String::new()),
                        Some(l) => (l.to_string(), format!("  (default {})", r.level)),
                        None => ("off".to_string(), format!("  (default {})", r.level)),
                    };
                    let line = format!(
                        "{:<8} {:<28} {:<8} {:<15}{note}",
                        r.id,
                        r.name,
                        level,
                        r.applies.as_str()
                    );
                    text.push_str(line.trim_end());
                    text.push('\n');
                }
                // A closed pipe (`| head`) is the reader's choice, not an error.
                let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
                0
            })
            .map_err(Into::into),
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
