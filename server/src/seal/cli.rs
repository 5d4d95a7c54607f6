//! `server seal-key generate` and the sealed half of `server verify-trail`.
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::key::{self, SealKey};

/// The flags of `server seal-key`.
#[derive(Args)]
pub struct SealKeyArgs {
    #[command(subcommand)]
    pub command: SealKeyCommand,
}

#[derive(Subcommand)]
pub enum SealKeyCommand {
    /// Write a new Ed25519 key pair: the secret to PATH (mode 0600), the public key to
    /// PATH.pub. Keep the secret off the database's machine's backups; give the server
    /// PATH (WALLET_SEAL_KEY) and auditors PATH.pub
    Generate {
        /// Where to write the secret key; neither file may exist yet
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

pub fn run(args: &SealKeyArgs) -> anyhow::Result<i32> {
    match &args.command {
        SealKeyCommand::Generate { out } => {
            let public = SealKey::generate(out)?;
            println!("secret key: {} (mode 0600)", out.display());
            println!("public key: {}", public.display());
            Ok(0)
        }
    }
}

/// Verifies `seals` (a seal file) with the public key in `public_key` against the
/// database; prints the report as JSON and returns the exit code (1: a seal no longer
/// matches or is refused).
pub async fn verify(database_url: &str, seals: &Path, public_key: &Path) -> anyhow::Result<i32> {
    let key = key::load_public(public_key)?;
    let text = std::fs::read_to_string(seals).map_err(|error| {
        anyhow::anyhow!("cannot read the seal file {}: {error}", seals.display())
    })?;
    let records = super::verify::read_file(&text)
        .map_err(|error| anyhow::anyhow!("{}: {error}", seals.display()))?;
    let store = crate::db::Store::connect(database_url, Default::default()).await?;
    let db = crate::ledger::chain::snapshot(&store).await?;
    let report = super::verify::verify(&db, &records, &key)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(match &report.first_unmatched {
        None => {
            eprintln!(
                "seals verified: {} seals (the last is seal {}), {} sealed players",
                report.seals_checked,
                report
                    .last_seal
                    .map_or("none".to_owned(), |s| s.to_string()),
                report.players_checked
            );
            0
        }
        Some(found) => {
            eprintln!(
                "seal {} does NOT match{}: {}",
                found.seal,
                found
                    .player_id
                    .as_deref()
                    .map_or(String::new(), |p| format!(" (player {p})")),
                found.reason
            );
            1
        }
    })
}
