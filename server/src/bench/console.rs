//! `server bench console --database-url URL [--repeat N]`: times the console's server
//! functions on a database as it is (seed it first with `server seed`). Each function is
//! called through the same `Console` implementation the pages' server functions call,
//! `--repeat` times, on ids sampled from the middle of the history; the table shows the
//! fastest, the median and the slowest call. The target is 100 ms each at a million
//! transactions (docs/PERFORMANCE.md).
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use app::backend::Console;
use app::model::{AuditFilter, FeedFilter, FindingFilter, Window};
use sea_orm::{ConnectionTrait, Statement};

use crate::dashboard::DbConsole;
use crate::db::{Store, WriterConfig};
use crate::http::state::{AppState, AppStateInner};

/// The console's budget per server function.
const TARGET: Duration = Duration::from_millis(100);

/// Ids to look up, taken from the middle of the history.
struct Sample {
    transaction_id: String,
    request_id: String,
    player_id: String,
    provider_id: String,
    round_id: String,
}

/// The flags of `server bench console`.
#[derive(Clone, clap::Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub database: crate::db::DatabaseSettings,
    /// Calls of each server function
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub repeat: u16,
}

pub async fn run(args: &ConsoleArgs) -> anyhow::Result<i32> {
    let repeat = usize::from(args.repeat);
    let store = Store::connect(&args.database.database_url, WriterConfig::default()).await?;
    let sample = sample(&store).await?;
    let console = DbConsole {
        state: AppState::new(AppStateInner {
            attempts: crate::attempts::AttemptLog::spawn(store.clone()),
            keys: crate::wallet::keys::KeyCache::for_engine(store.engine()),
            store,
            currencies: Arc::new(crate::domain::CurrencyTable::default()),
            operator_token: Arc::from(""),
            wallet_rate_limit: None,
            schedule: crate::reconcile::Schedule::default(),
            sealing: None,
            valkyrie_api_key: None,
            locale_defaults: Default::default(),
        }),
        demo: false,
        limiter: Arc::new(crate::staff::LoginLimiter::new(Default::default())),
        refund_thresholds: Arc::default(),
        code_fresh_for: crate::staff::MFA_FRESH_FOR,
        mfa_required: false,
    };
    println!(
        "console server functions, {repeat} calls each (ms: fastest / median / slowest), target {} ms",
        TARGET.as_millis()
    );
    let mut over = 0;
    let mut time = |name: String, times: Vec<Duration>| {
        let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let slowest = ms.last().copied().unwrap_or_default();
        let mark = if slowest > TARGET.as_secs_f64() * 1000.0 {
            over += 1;
            "  OVER"
        } else {
            ""
        };
        println!(
            "  {name:<44} {:>8.1} {:>8.1} {:>8.1}{mark}",
            ms.first().copied().unwrap_or_default(),
            ms[ms.len() / 2],
            slowest
        );
    };
    let c = &console;
    let s = &sample;
    for window in Window::ALL {
        let name = format!("overview {} all providers", window.as_str());
        time(name, calls(repeat, || c.overview(window, None)).await?);
        let name = format!("overview {} one provider", window.as_str());
        time(
            name,
            calls(repeat, || c.overview(window, Some(s.provider_id.clone()))).await?,
        );
    }
    let filter = |provider: &str, outcome: &str, player: &str| FeedFilter {
        provider_id: provider.to_owned(),
        outcome: outcome.to_owned(),
        player_id: player.to_owned(),
        ..FeedFilter::default()
    };
    time(
        "feed, newest".into(),
        calls(repeat, || c.feed(None, FeedFilter::default())).await?,
    );
    time(
        "feed, one provider".into(),
        calls(repeat, || c.feed(None, filter(&s.provider_id, "", ""))).await?,
    );
    time(
        "feed, replays".into(),
        calls(repeat, || c.feed(None, filter("", "REPLAY", ""))).await?,
    );
    time(
        "feed, one player".into(),
        calls(repeat, || c.feed(None, filter("", "", &s.player_id))).await?,
    );
    time(
        "trace by transaction id".into(),
        calls(repeat, || c.trace(s.transaction_id.clone())).await?,
    );
    time(
        "trace by request id".into(),
        calls(repeat, || c.trace(s.request_id.clone())).await?,
    );
    time(
        "search by player".into(),
        calls(repeat, || c.search(s.player_id.clone(), 0)).await?,
    );
    time(
        "search by transaction id".into(),
        calls(repeat, || c.search(s.transaction_id.clone(), 0)).await?,
    );
    time(
        "search by round".into(),
        calls(repeat, || c.search(s.round_id.clone(), 0)).await?,
    );
    time(
        "pending rollbacks".into(),
        calls(repeat, || c.pending(0)).await?,
    );
    time(
        "reconciliation page".into(),
        calls(repeat, || c.reconciliation(FindingFilter::default())).await?,
    );
    time(
        "players, first page".into(),
        calls(repeat, || c.players(String::new(), 0)).await?,
    );
    time(
        "players, by id prefix".into(),
        calls(repeat, || c.players(s.player_id.clone(), 0)).await?,
    );
    time(
        "player detail".into(),
        calls(repeat, || c.player(s.player_id.clone(), 0)).await?,
    );
    time(
        "audit log".into(),
        calls(repeat, || c.audit(AuditFilter::default(), 0)).await?,
    );
    println!("{over} over {} ms", TARGET.as_millis());
    Ok(0)
}

/// `repeat` calls, each timed; a failed call fails the run.
async fn calls<T, E, F, Fut>(repeat: usize, mut call: F) -> anyhow::Result<Vec<Duration>>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let started = Instant::now();
        call().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// A settled bet from the middle of the history, with its player, provider and round.
async fn sample(store: &Store) -> anyhow::Result<Sample> {
    let db = store.reader();
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT transaction_id, request_id, player_id, scope, round_id FROM wallet_transactions \
             WHERE op = 'BET' AND state = 'SETTLED' \
               AND id >= (SELECT MAX(id) FROM wallet_transactions) / 2 \
             ORDER BY id LIMIT 1",
        ))
        .await?
        .context("no settled bet to sample: seed the database first (server seed)")?;
    Ok(Sample {
        transaction_id: row.try_get("", "transaction_id")?,
        request_id: row.try_get("", "request_id")?,
        player_id: row.try_get("", "player_id")?,
        provider_id: row.try_get("", "scope")?,
        round_id: row
            .try_get::<Option<String>>("", "round_id")?
            .unwrap_or_default(),
    })
}
