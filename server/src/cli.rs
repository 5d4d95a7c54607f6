//! The command line: `server [SUBCOMMAND]`. Each subcommand's flags live beside the code
//! that runs it; the server's own settings live in [`crate::config`].
use clap::{CommandFactory, Parser, Subcommand};

use crate::bench::cli::BenchArgs;
use crate::config::{Config, ScheduleSettings, Settings};
use crate::db::DatabaseSettings;
use crate::seed::cli::SeedArgs;
use crate::simulate::cli::SimulateArgs;
use crate::staff::cli::UsersArgs;
use crate::startup::Application;
use crate::telemetry::LogTarget;

/// oncewallet: a casino wallet whose money operations count exactly once, however often
/// a request is retried.
///
/// With no subcommand, `server` serves the wallet API, the operator API and the console
/// (the same as `server serve`).
#[derive(Parser)]
#[command(
    name = "server",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Every setting is a flag or its environment variable (the flag wins); \
                  RUST_LOG filters the log. See README.md, \"Configuration\"."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Settings,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the wallet API, the operator API and the console (the default)
    Serve(Settings),
    /// Run the reconciliation once and print what it found
    Reconcile(ReconcileArgs),
    /// Walk every player's ledger hash chain and report the first broken link; with
    /// --seals, also prove that nothing sealed was altered
    VerifyTrail(VerifyTrailArgs),
    /// Copy a SQLite database while the wallet serves, and check the copy
    Backup(crate::backup::BackupArgs),
    /// Make the Ed25519 key that signs the trail's seals
    SealKey(crate::seal::cli::SealKeyArgs),
    /// Write realistic history into a database (for measuring at scale)
    Seed(SeedArgs),
    /// Play simulated providers against a wallet and check every answer
    Simulate(SimulateArgs),
    /// Measure a wallet's throughput against the engine's own floor
    Bench(BenchArgs),
    /// Manage console users: list, create, reset a password, disable, enable
    Users(UsersArgs),
}

impl Command {
    /// The database a tool reads or changes, which must exist already.
    fn existing_database(&self) -> Option<&str> {
        match self {
            Command::Reconcile(args) => Some(&args.database.database_url),
            Command::VerifyTrail(args) => Some(&args.database.database_url),
            Command::Backup(args) => Some(&args.database.database_url),
            Command::Users(args) => Some(args.command.database_url()),
            Command::Bench(args) => args.console_database(),
            Command::Serve(_) | Command::Seed(_) | Command::Simulate(_) | Command::SealKey(_) => {
                None
            }
        }
    }
}

/// Parses the command line, exiting 2 with usage on a mistake and 0 after `--help`.
///
/// A setting's environment variable that is set but blank counts as unset, and spaces
/// around a value (a CRLF `.env` file) are dropped, as before the command line had flags
/// (`WALLET_OPERATOR_TOKEN=` still generates a token). Call it before any other thread
/// starts: it edits those variables in the process.
pub fn parse() -> Cli {
    for name in setting_variables(&Cli::command()) {
        let Some(value) = std::env::var(&name).ok() else {
            continue;
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            std::env::remove_var(&name);
        } else if trimmed.len() != value.len() {
            std::env::set_var(&name, trimmed);
        }
    }
    Cli::parse()
}

/// The environment variables of every flag of every subcommand.
fn setting_variables(command: &clap::Command) -> Vec<std::ffi::OsString> {
    let mut names: Vec<_> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env().map(ToOwned::to_owned))
        .collect();
    for sub in command.get_subcommands() {
        names.extend(setting_variables(sub));
    }
    names
}

/// The environment variables of the server's own settings (`server serve`), for the
/// README's table and its test.
pub fn serve_variables() -> Vec<String> {
    let command = Cli::command();
    let serve = command
        .find_subcommand("serve")
        .expect("the serve subcommand");
    setting_variables(serve)
        .into_iter()
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// Runs the parsed command; returns the process's exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    match &command {
        Command::Serve(settings) => crate::telemetry::init(
            settings.log.json(),
            settings.log.log_filter.as_deref(),
            LogTarget::Server,
        ),
        _ => crate::telemetry::init(
            false,
            std::env::var("RUST_LOG").ok().as_deref(),
            LogTarget::Tool,
        ),
    }
    if let Some(url) = command.existing_database() {
        crate::db::require_existing(url)?;
    }
    match command {
        Command::Serve(settings) => serve(&settings).await.map(|()| 0),
        Command::Reconcile(args) => {
            let schedule = args.schedule.schedule();
            crate::reconcile::cli::run(&args.database.database_url, schedule, args.full).await
        }
        Command::VerifyTrail(args) => {
            let url = &args.database.database_url;
            let plain = crate::ledger::chain::run_cli(url).await?;
            let sealed = match (&args.seals, &args.public_key) {
                (Some(seals), Some(key)) => crate::seal::cli::verify(url, seals, key).await?,
                _ => 0,
            };
            Ok(plain.max(sealed))
        }
        Command::SealKey(args) => crate::seal::cli::run(&args),
        Command::Backup(args) => crate::backup::run(&args).await,
        Command::Seed(args) => crate::seed::cli::run(&args).await,
        Command::Simulate(args) => crate::simulate::cli::run(&args).await,
        Command::Bench(args) => crate::bench::cli::run(&args).await,
        Command::Users(args) => crate::staff::cli::run(&args).await,
    }
}

/// The flags of `server reconcile`.
#[derive(Clone, clap::Args)]
#[command(
    after_help = "Exit status: 0 no CRITICAL finding open, 1 CRITICAL findings are \
                        open, 2 bad flags. See docs/CONSOLE.md."
)]
pub struct ReconcileArgs {
    /// A full pass: every ledger hash chain from the start, and the money checks over the whole ledger instead of on the postings walked since the checkpoints
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub schedule: ScheduleSettings,
}

/// The flags of `server verify-trail`.
#[derive(Clone, clap::Args)]
#[command(
    after_help = "Exit status: 0 every chain (and every seal) verifies, 1 one does \
                        not, 2 bad flags. See docs/TRAIL.md."
)]
pub struct VerifyTrailArgs {
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// A seal file (WALLET_SEAL_FILE of the server that sealed): every seal in it must
    /// verify with --public-key and still match the database
    #[arg(long, value_name = "FILE", requires = "public_key")]
    pub seals: Option<std::path::PathBuf>,
    /// The seal key's public half (`PATH.pub` from `server seal-key generate`)
    #[arg(long, value_name = "KEY", requires = "seals")]
    pub public_key: Option<std::path::PathBuf>,
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let config = Config::from_settings(settings)?;
    let token_generated = config.operator_token_generated;
    let token = config.operator_token.clone();
    let database = crate::db::redact_url(&config.database_url);
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.addr(), %database, "oncewallet listening");
    println!("{}", app.banner(token_generated.then_some(token.as_str())));
    app.run_until_stopped().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
