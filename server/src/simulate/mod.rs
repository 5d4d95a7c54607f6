//! The provider simulator: two or three game providers playing realistic rounds against a
//! wallet over the real signed protocol, injecting the failures the wallet exists to
//! survive, and checking every answer against a model of what each balance must be.
//!
//! `server simulate` runs it against any wallet URL ([`cli`]); the demo mode runs it
//! in-process against the server's own address ([`spawn_demo`]); tests call [`run`].
mod check;
pub mod cli;
pub mod client;
pub mod config;
mod exchange;
pub mod faults;
mod model;
mod pacer;
mod player;
mod provider;
pub mod report;
mod scenario;
mod setup;
mod statement;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use config::{Output, SimConfig};
pub use faults::FaultRates;
pub use report::{Report, StatementResult};

use client::OperatorClient;
use pacer::Pacer;
use provider::SimProvider;
use report::Tally;

/// Players provisioned at once.
const PROVISIONING_CONCURRENCY: usize = 8;
/// How often a statement task looks at its book.
const STATEMENT_TICK: Duration = Duration::from_secs(1);
/// The demo waits this long before starting afresh after a failed run.
const DEMO_RESTART_AFTER: Duration = Duration::from_secs(60);

/// What every task of a run shares.
struct Run {
    config: SimConfig,
    providers: Vec<SimProvider>,
    operator: OperatorClient,
    tally: Tally,
    pacer: Pacer,
}

/// Runs for the configured duration (or forever) and returns the final report.
pub async fn run(config: SimConfig) -> anyhow::Result<Report> {
    run_until(config, std::future::pending()).await
}

/// Runs until the configured duration has passed or `stop` completes, whichever is
/// first; then resends what is pending, sends the last statements and reports.
pub async fn run_until(
    config: SimConfig,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<Report> {
    let run = Arc::new(provision(config).await?);
    let (stop_sender, stop_receiver) = watch::channel(false);
    let mut players = JoinSet::new();
    let mut helpers = JoinSet::new();
    for player in provision_players(&run).await? {
        players.spawn(player.play(Arc::clone(&run), stop_receiver.clone()));
    }
    for index in 0..run.providers.len() {
        helpers.spawn(statements(Arc::clone(&run), index, stop_receiver.clone()));
    }
    helpers.spawn(report_periodically(Arc::clone(&run), stop_receiver));
    match run.config.duration {
        Some(duration) => tokio::select! {
            () = tokio::time::sleep(duration) => {},
            () = stop => {},
        },
        None => stop.await,
    }
    let _ = stop_sender.send(true);
    join_all_logged(&mut players).await;
    join_all_logged(&mut helpers).await;
    if run.config.statement_every.is_some() {
        for provider in &run.providers {
            provider::send_statement(
                provider,
                &run.tally,
                run.config.faults.statement_discrepancies,
            )
            .await;
        }
    }
    Ok(run.tally.snapshot())
}

async fn provision(config: SimConfig) -> anyhow::Result<Run> {
    let http = client::http_client_trusting(config.ca_file.as_deref())?;
    let operator = OperatorClient::new(http.clone(), &config.target, &config.operator_token);
    let tally = Tally::default();
    let providers = setup::providers(&operator, &http, &config, &tally).await?;
    Ok(Run {
        pacer: Pacer::new(config.rounds_per_second),
        config,
        providers,
        operator,
        tally,
    })
}

async fn provision_players(run: &Run) -> anyhow::Result<Vec<player::SimPlayer>> {
    futures::stream::iter(0..run.config.players)
        .map(|index| {
            setup::player(
                &run.operator,
                &run.providers,
                &run.config.run_tag,
                index,
                run.config.seed,
                &run.tally,
            )
        })
        .buffer_unordered(PROVISIONING_CONCURRENCY)
        .try_collect()
        .await
}

/// A provider's statements: the first after `first_statement_after`, then one every
/// `statement_every`, and earlier if the book grows past what one statement should hold.
async fn statements(run: Arc<Run>, index: usize, mut stop: watch::Receiver<bool>) {
    let (Some(first), Some(every)) = (run.config.first_statement_after, run.config.statement_every)
    else {
        return;
    };
    let provider = &run.providers[index];
    let mut due = tokio::time::Instant::now() + first;
    loop {
        tokio::select! {
            () = tokio::time::sleep(STATEMENT_TICK) => {},
            _ = stop.changed() => return,
        }
        let full = provider.book().len() >= statement::MAX_BOOK_LINES;
        if full || tokio::time::Instant::now() >= due {
            provider::send_statement(
                provider,
                &run.tally,
                run.config.faults.statement_discrepancies,
            )
            .await;
            due = tokio::time::Instant::now() + every;
        }
    }
}

async fn report_periodically(run: Arc<Run>, mut stop: watch::Receiver<bool>) {
    if run.config.output == Output::Silent {
        return;
    }
    let mut ticker = tokio::time::interval(run.config.report_every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {},
            _ = stop.changed() => return,
        }
        let line = run.tally.snapshot().summary_line();
        match run.config.output {
            Output::Print => println!("{line}"),
            Output::Log => tracing::info!(run = %run.config.run_tag, "demo simulator: {line}"),
            Output::Silent => {}
        }
    }
}

/// A task that panicked is a bug in the simulator, not in the wallet: log it and go on,
/// so the report is still made (and a demo never takes the server down).
async fn join_all_logged(tasks: &mut JoinSet<()>) {
    while let Some(result) = tasks.join_next().await {
        if let Err(error) = result {
            tracing::error!(%error, "a simulator task failed");
        }
    }
}

/// Starts the demo: the simulator in-process against the server's own address, at a
/// gentle pace, for as long as the server runs. A failed run is logged and started
/// afresh a minute later; nothing here can stop the server.
pub fn spawn_demo(base_url: String, operator_token: String) {
    tokio::spawn(async move {
        loop {
            let config = SimConfig::demo(&base_url, &operator_token);
            tracing::info!(
                run = %config.run_tag,
                providers = config.providers,
                players = config.players,
                rounds_per_second = config.rounds_per_second,
                "demo simulator starting (WALLET_DEMO=0 turns it off)"
            );
            let outcome = tokio::spawn(run(config)).await;
            match outcome {
                Ok(Ok(report)) => {
                    tracing::info!("demo simulator stopped: {}", report.summary_line())
                }
                Ok(Err(error)) => tracing::warn!("demo simulator failed: {error:#}"),
                Err(error) => tracing::error!(%error, "demo simulator crashed"),
            }
            tokio::time::sleep(DEMO_RESTART_AFTER).await;
        }
    });
}
