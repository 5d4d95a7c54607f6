//! `server bench presign`: provisions players as `server bench` does and writes signed
//! bets to files, one request a line, for a load generator outside this binary.
//! `scripts/wrk.sh` sends them with wrk (`scripts/wrk/presigned.lua`): the figures
//! were taken that way, and a load generator in C spends a fraction of this one's CPU on
//! each request, which on a machine it shares with the wallet moves the ratios
//! (docs/PERFORMANCE.md, "Measured with wrk").
//!
//! A line is `PATH \t KEY_ID \t TIMESTAMP \t SIGNATURE \t REQUEST_ID \t BODY`: every bet
//! in a round of its own, round-robin over the players, so that sending the lines once
//! is `first` and sending them again is `replay`. Signatures carry one timestamp, so the
//! lines are accepted for the wallet's clock skew (five minutes) after they were written.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::cli::WalletArgs;
use super::config::{BenchConfig, MAX_PLAYERS};
use super::scenario::{bet_body, BET};
use crate::wallet::signing;

/// The flags of `server bench presign`.
#[derive(Clone, Args)]
#[command(
    after_help = "Each line: path, key id, timestamp, signature, request id and JSON body, \
                        tab separated. The wallet accepts the signatures for 5 minutes (its \
                        clock skew) after they were written. scripts/wrk.sh runs it; see \
                        docs/PERFORMANCE.md, \"Measured with wrk\"."
)]
pub struct PresignArgs {
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Players to provision; the bets go round-robin over them
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=MAX_PLAYERS as i64))]
    pub players: u32,
    /// Signed bets to write
    #[arg(long, value_name = "N", default_value_t = 200_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub requests: u32,
    /// Files to spread them over (bet n goes to file 1 + n mod FILES): one per thread of
    /// the load generator, which each read their own
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub files: u16,
    /// Where to write: PREFIX.1 … PREFIX.FILES
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Prefix of every id the run creates [default: bench-<random>]
    #[arg(long, value_name = "TAG")]
    pub run_tag: Option<String>,
}

/// What was written.
#[derive(Debug)]
pub struct Presigned {
    pub files: Vec<PathBuf>,
    pub requests: u32,
}

pub async fn run(args: &PresignArgs) -> anyhow::Result<i32> {
    if let Err(error) = args.wallet.token() {
        eprintln!("error: {error}\n\nFor more information, try 'server bench presign --help'.");
        return Ok(2);
    }
    let started = std::time::Instant::now();
    let written = presign(args).await?;
    println!(
        "wrote {} signed bets over {} players to {} files ({}.1 …) in {:.1} s; \
         the wallet accepts them for {} minutes",
        written.requests,
        args.players,
        written.files.len(),
        args.out.display(),
        started.elapsed().as_secs_f64(),
        signing::MAX_CLOCK_SKEW_MS / 60_000
    );
    Ok(0)
}

/// Provisions the players and writes the signed bets.
pub async fn presign(args: &PresignArgs) -> anyhow::Result<Presigned> {
    let operator_token = args.wallet.token().map_err(anyhow::Error::msg)?;
    let mut config = BenchConfig::new(&args.wallet.target, operator_token);
    config.players = args.players as usize;
    if let Some(tag) = &args.run_tag {
        config.run_tag.clone_from(tag);
    }
    let provisioned = super::provision::provision(&config).await?;
    let key = provisioned.wallet.key();
    let timestamp = chrono::Utc::now().timestamp_millis().to_string();
    let files: Vec<PathBuf> = (1..=args.files).map(|i| numbered(&args.out, i)).collect();
    let mut writers = files
        .iter()
        .map(|path| {
            std::fs::File::create(path)
                .map(std::io::BufWriter::new)
                .with_context(|| format!("create {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tag = &config.run_tag;
    let file_count = writers.len();
    for n in 0..args.requests as usize {
        let player = &provisioned.players[n % provisioned.players.len()];
        // Amounts vary as the bench's do (100–999 minor units); far below the deposit.
        let amount = 100 + (n as i64 * 7_919) % 900;
        let body = bet_body(
            &format!("{tag}-t{n}"),
            &player.id,
            &player.session_token,
            &provisioned.game_id,
            &format!("{tag}-r{n}"),
            amount,
            false,
        );
        let canonical = signing::request_canonical("POST", BET, &timestamp, &body);
        let writer = &mut writers[n % file_count];
        write!(
            writer,
            "{BET}\t{}\t{timestamp}\t{}\t{tag}-q{n}\t",
            key.key_id,
            signing::sign(&key.secret, &canonical)
        )?;
        writer.write_all(&body)?;
        writer.write_all(b"\n")?;
    }
    for writer in &mut writers {
        writer.flush()?;
    }
    Ok(Presigned {
        files,
        requests: args.requests,
    })
}

/// `PREFIX.i`, as the Lua script opens them (wrk numbers its threads from 1).
fn numbered(prefix: &Path, i: u16) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(format!(".{i}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_numbered_from_one() {
        assert_eq!(
            numbered(Path::new("/tmp/x/bets"), 1),
            PathBuf::from("/tmp/x/bets.1")
        );
    }
}
