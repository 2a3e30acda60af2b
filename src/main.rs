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
    /// Check ARM templates against the template rules and report every finding with its position.
    Validate(ValidateArgs),
}

#[derive(Args)]
struct RulesArgs {}

#[derive(Args)]
struct ExplainArgs {
    /// Rule ID or name, e.g. CMK001 or vault-purge-protection.
    rule: String,
}

#[derive(Args)]
struct ValidateArgs {
    /// ARM template files (JSON, comments allowed).
    #[arg(required = true, value_name = "TEMPLATE")]
    templates: Vec<std::path::PathBuf>,
    /// ARM parameters file, checked against (and used with) every TEMPLATE.
    #[arg(long, value_name = "FILE")]
    parameters: Option<std::path::PathBuf>,
    /// Output format: text, json, sarif, junit or github.
    #[arg(long, default_value = "text", value_parser = parse_format)]
    format: cmek_arm::report::Format,
    /// Lowest level that makes the exit code 1: error or warning.
    #[arg(long, default_value = "error", value_parser = parse_fail_on)]
    fail_on: cmek_arm::diag::Level,
    /// Drop findings of this rule (ID or name); repeat for several.
    #[arg(long, value_name = "RULE")]
    ignore: Vec<String>,
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
        Command::Validate(args) => {
            let options = cmek_arm::validate::Options {
                parameters: args.parameters,
                format: args.format,
                fail_on: args.fail_on,
                ignore: args.ignore,
                color: cmek_arm::report::use_color(),
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            cmek_arm::validate::validate(&args.templates, &options, &mut out).map_err(Into::into)
        }
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
