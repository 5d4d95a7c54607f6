//! PostgreSQL: pgbench's TPC-B (Debian's `postgresql-contrib`) on a scratch database of
//! the wallet's own server, with the bench's client count and duration.
use std::process::Stdio;

use anyhow::{bail, Context};
use sqlx::{Connection, Executor, PgConnection};

use super::BaselineFigures;
use crate::bench::config::BenchConfig;

pub async fn run(database_url: &str, config: &BenchConfig) -> anyhow::Result<BaselineFigures> {
    let binary = find_pgbench()?;
    let scratch = format!("oncewallet_pgbench_{}", config.run_tag.replace('-', "_"));
    let mut admin = PgConnection::connect(database_url)
        .await
        .context("connect to the wallet's PostgreSQL")?;
    admin
        .execute(format!("CREATE DATABASE \"{scratch}\"").as_str())
        .await
        .context("create the scratch database")?;
    let scratch_url = with_database(database_url, &scratch)?;
    let outcome = measure(&binary, &scratch_url, config).await;
    // Dropped whatever happened; FORCE ends pgbench's sessions if it was interrupted.
    let dropped = admin
        .execute(format!("DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)").as_str())
        .await;
    if let Err(error) = dropped {
        tracing::warn!(%error, database = %scratch, "could not drop the pgbench database");
    }
    outcome
}

async fn measure(binary: &str, url: &str, config: &BenchConfig) -> anyhow::Result<BaselineFigures> {
    // One TPC-B branch per client, so that branch rows are no more contended than the
    // wallet's players (pgbench's own advice: scale at least the client count).
    let scale = config.pgbench_scale.unwrap_or(config.clients).to_string();
    let seconds = config.duration.as_secs_f64().ceil().max(1.0) as u64;
    pgbench(binary, &["-i", "-I", "dtGvp", "-q", "-s", &scale, url]).await?;
    let output = pgbench(
        binary,
        &[
            "-c",
            &config.clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            url,
        ],
    )
    .await?;
    let tps = field(&output, "tps = ")
        .context("no `tps = ` in pgbench's output")?
        .parse::<f64>()?;
    let latency = field(&output, "latency average = ").unwrap_or("?");
    Ok(BaselineFigures {
        engine: "postgres".to_owned(),
        name: format!("pgbench TPC-B, scale {scale}, -j 2"),
        clients: config.clients,
        duration_s: seconds as f64,
        transactions_per_s: (tps * 10.0).round() / 10.0,
        wallet_first_per_s: None,
        ratio: None,
        detail: format!("latency average {latency} ms"),
        client_keys_per_s: None,
    })
}

async fn pgbench(binary: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("run {binary}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "pgbench {} failed: {}{}",
            args.first().copied().unwrap_or_default(),
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// The first number after `label` in pgbench's report.
fn field<'a>(output: &'a str, label: &str) -> Option<&'a str> {
    let start = output.find(label)? + label.len();
    output[start..].split_whitespace().next()
}

/// `pgbench` on the PATH, or the newest one Debian installed.
fn find_pgbench() -> anyhow::Result<String> {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("pgbench").is_file()));
    if on_path {
        return Ok("pgbench".to_owned());
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/pgbench"))
        .filter(|path| path.is_file())
        .collect();
    found.sort();
    found
        .pop()
        .map(|path| path.display().to_string())
        .context("pgbench not found: install Debian's postgresql-contrib")
}

/// The same server and credentials, another database.
fn with_database(database_url: &str, database: &str) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(database_url).context("parse --database-url")?;
    url.set_path(&format!("/{database}"));
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tps_line_is_read() {
        let output = "number of failed transactions: 0 (0.000%)\nlatency average = 34.444 ms\ninitial connection time = 191.121 ms\ntps = 1858.098148 (without initial connection time)\n";
        assert_eq!(field(output, "tps = "), Some("1858.098148"));
        assert_eq!(field(output, "latency average = "), Some("34.444"));
    }

    #[test]
    fn the_scratch_database_replaces_the_path() {
        assert_eq!(
            with_database(
                "postgres://u:p@127.0.0.1:5432/wallet?sslmode=disable",
                "scratch"
            )
            .expect("valid"),
            "postgres://u:p@127.0.0.1:5432/scratch?sslmode=disable"
        );
    }
}
