//! `server bench`: a load generator that speaks the real signed protocol over HTTP to a
//! running wallet, measures it scenario by scenario, compares it with the database's own
//! limit measured in the same run, and then checks that every answer it got adds up: a
//! fast wrong wallet does not pass.
//!
//! It provisions its own provider, players and sessions through the operator API. Each
//! client has one request in flight; in `first` and `mixed` a client owns a share of the
//! players, so the bench knows every balance the wallet must answer. See
//! docs/PERFORMANCE.md for the commands and the figures.
pub mod baseline;
pub mod cli;
pub mod config;
mod console;
pub mod cpu;
mod exchange;
mod healthz;
pub mod presign;
mod provision;
mod scenario;
pub mod stats;
mod subscriber;
mod verify;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;

pub use baseline::BaselineFigures;
pub use config::{BenchConfig, Scenario};
pub use stats::Figures;
pub use verify::Verification;

use provision::{PlayerModel, Provisioned};
use scenario::{check_replays, Client, ClientOutcome, Executed, Shared, Until, HOT_BET_MINOR};
use stats::Recorder;

/// Everything a run measured and found, as printed and as written to `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub run_tag: String,
    pub target: String,
    pub clients: usize,
    pub duration_s: f64,
    pub players: usize,
    pub provisioning_s: f64,
    pub scenarios: Vec<Figures>,
    /// `replay / first` and `hot / first`, in operations per second.
    pub replay_vs_first: Option<f64>,
    pub hot_vs_first: Option<f64>,
    /// `mixed / first`, in operations per second.
    pub mixed_vs_first: Option<f64>,
    /// `subscribed / first`: what one webhook subscriber costs first executions.
    pub subscribed_vs_first: Option<f64>,
    /// The subscriber's deliveries, when `subscribed` ran.
    pub delivered: Option<subscriber::Delivered>,
    /// `GET /healthz` answered per second by the same server, same clients, same run.
    pub healthz_per_s: Option<f64>,
    /// `replay / healthz`.
    pub replay_vs_healthz: Option<f64>,
    /// How many times the scenarios ran in turn (`--rounds`); the figures above are
    /// their totals.
    pub rounds: u32,
    /// Each round's own ratios, to show how far they spread.
    pub round_ratios: Vec<Ratios>,
    pub baseline: Option<BaselineFigures>,
    pub verification: Verification,
}

impl BenchReport {
    pub fn figures(&self, scenario: Scenario) -> Option<&Figures> {
        self.scenarios
            .iter()
            .find(|f| f.scenario == scenario.as_str())
    }
}

/// Provisions, runs every configured scenario, the baseline if asked, and verifies.
pub async fn run(config: BenchConfig) -> anyhow::Result<BenchReport> {
    let say = |line: String| {
        if config.print {
            println!("{line}");
        }
    };
    say(format!(
        "bench {}: {} clients, {} s per scenario, {} players, against {}",
        config.run_tag,
        config.clients,
        config.duration.as_secs_f64(),
        config.players,
        config.target
    ));
    let started = Instant::now();
    let provisioned = provision::provision(&config).await?;
    let provisioning_s = started.elapsed().as_secs_f64();
    say(format!(
        "provisioned 1 provider and {} players in {provisioning_s:.1} s",
        config.players + 1
    ));
    let mut run = Run::new(&config, provisioned);
    let Rounds {
        scenarios,
        delivered,
        healthz_per_s,
        round_ratios,
    } = run.rounds(&say).await?;
    // A scenario's rate over every round, from its figures (which are the totals).
    let total_rate = |scenario: Scenario| {
        scenarios
            .iter()
            .find(|f| f.scenario == scenario.as_str())
            .map(|f| f.operations_per_s)
    };
    let ratios = Ratios::of(total_rate, healthz_per_s);
    let baseline = match (&config.database_url, config.baseline) {
        (Some(url), true) => {
            say("baseline: running the database's own benchmark…".to_owned());
            let figures = baseline::run(url, &config, total_rate(Scenario::First)).await?;
            say(figures.summary_line());
            Some(figures)
        }
        _ => None,
    };
    let show = |label: &str, value: Option<f64>| {
        if let Some(value) = value {
            say(format!("ratio {label}: {value:.2}"));
        }
    };
    show(
        "first / engine floor",
        baseline.as_ref().and_then(|b| b.ratio),
    );
    show(
        "first / engine floor with the clients' keys",
        baseline
            .as_ref()
            .and_then(BaselineFigures::client_keys_ratio),
    );
    show("replay / healthz", ratios.replay_vs_healthz);
    show("hot / first", ratios.hot_vs_first);
    show("mixed / first", ratios.mixed_vs_first);
    show(
        "first with a webhook subscriber / first",
        ratios.subscribed_vs_first,
    );
    if config.rounds > 1 {
        say(spread_line(&round_ratios));
    }
    say("verifying…".to_owned());
    let verification = run.verify(config.database_url.as_deref()).await;
    say(verification.render());
    let report = BenchReport {
        run_tag: config.run_tag.clone(),
        target: config.target.clone(),
        clients: config.clients,
        duration_s: config.duration.as_secs_f64(),
        players: config.players,
        provisioning_s: (provisioning_s * 10.0).round() / 10.0,
        scenarios,
        replay_vs_first: ratios.replay_vs_first,
        hot_vs_first: ratios.hot_vs_first,
        mixed_vs_first: ratios.mixed_vs_first,
        subscribed_vs_first: ratios.subscribed_vs_first,
        delivered,
        healthz_per_s,
        replay_vs_healthz: ratios.replay_vs_healthz,
        rounds: config.rounds,
        round_ratios,
        baseline,
        verification,
    };
    if let Some(path) = &config.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        say(format!("figures written to {}", path.display()));
    }
    Ok(report)
}

/// What the rounds measured (see [`Run::rounds`]).
struct Rounds {
    /// Each scenario's figures over every round.
    scenarios: Vec<Figures>,
    delivered: Option<subscriber::Delivered>,
    /// `/healthz`'s mean rate over the rounds, when `--baseline` asked for it.
    healthz_per_s: Option<f64>,
    round_ratios: Vec<Ratios>,
}

/// The model across scenarios.
struct Run<'a> {
    config: &'a BenchConfig,
    provisioned: Provisioned,
    shared: Arc<Shared>,
    seed: u64,
    /// Counts the spawns of clients, so that each spawn's ids are its own.
    epoch: u32,
    executed: Vec<Executed>,
    /// `executed` while the `replay` clients hold it.
    replay_pool: Option<Arc<Vec<Executed>>>,
    hot_start_minor: i64,
    hot_balances: Vec<i64>,
    provider_delta_minor: i64,
    keys: u64,
    unresolved: u64,
    cpu: cpu::CpuMeter,
}

impl<'a> Run<'a> {
    fn new(config: &'a BenchConfig, provisioned: Provisioned) -> Run<'a> {
        let shared = Arc::new(Shared {
            wallet: provisioned.wallet.clone(),
            run_tag: config.run_tag.clone(),
            game_id: provisioned.game_id.clone(),
            pace: config
                .rate
                .map(|rate| Duration::from_secs_f64(config.clients as f64 / rate)),
            window: config.report_every.map(|_| Arc::default()),
        });
        Run {
            config,
            hot_start_minor: provisioned.hot.balance_minor,
            provisioned,
            shared,
            seed: rand::random(),
            epoch: 0,
            executed: Vec::new(),
            replay_pool: None,
            hot_balances: Vec::new(),
            provider_delta_minor: 0,
            keys: 0,
            unresolved: 0,
            cpu: cpu::CpuMeter::new(&config.target, config.metrics_token.clone()),
        }
    }

    fn client(&self, index: usize) -> Client {
        let seed = self.seed.wrapping_add(u64::from(self.epoch));
        Client::new(
            Arc::clone(&self.shared),
            self.epoch,
            index,
            self.config.clients,
            seed,
        )
    }

    /// Runs the configured scenarios `--rounds` times in turn (with `/healthz` after each
    /// round when `--baseline` is on), printing each scenario's and each round's figures,
    /// and returns their totals.
    async fn rounds(&mut self, say: &impl Fn(String)) -> anyhow::Result<Rounds> {
        let config = self.config;
        let mut totals: Vec<(Scenario, Recorder, Duration)> = Vec::new();
        let mut delivered: Option<subscriber::Delivered> = None;
        let mut healthz_rates = Vec::new();
        let mut round_ratios = Vec::new();
        let healthz_wanted = config.baseline && config.database_url.is_some();
        for round in 1..=config.rounds {
            let mut rates = Vec::new();
            for &scenario in &config.scenarios {
                let subscriber = match scenario {
                    Scenario::Subscribed => {
                        Some(subscriber::Subscriber::attach(config, round).await?)
                    }
                    _ => None,
                };
                let (recorder, elapsed) = self.scenario(scenario).await;
                let figures = recorder.figures(scenario.as_str(), config.clients, elapsed);
                say(format!(
                    "{}{}",
                    round_prefix(round, config.rounds),
                    figures.summary_line()
                ));
                if let Some(cpu) = &figures.cpu {
                    say(format!(
                        "{}{}",
                        round_prefix(round, config.rounds),
                        cpu.summary_line(scenario.as_str())
                    ));
                }
                rates.push((scenario, figures.operations_per_s));
                add_to_totals(&mut totals, scenario, recorder, elapsed);
                if let Some(subscriber) = subscriber {
                    let outcome = subscriber.detach().await?;
                    say(outcome.summary_line());
                    delivered = Some(match delivered {
                        Some(before) => before.and(&outcome),
                        None => outcome,
                    });
                }
            }
            let healthz = if healthz_wanted {
                let rate = healthz::rate(&config.target, config.clients, config.duration).await?;
                say(format!(
                    "{}baseline (server) GET /healthz: {rate:.0} requests/s with {} clients",
                    round_prefix(round, config.rounds),
                    config.clients
                ));
                healthz_rates.push(rate);
                Some(rate)
            } else {
                None
            };
            let ratios = Ratios::of(|s| rate_of(&rates, s), healthz);
            if config.rounds > 1 {
                say(format!(
                    "round {round}/{} ratios: {}",
                    config.rounds,
                    ratios.line()
                ));
            }
            round_ratios.push(ratios);
        }
        let scenarios: Vec<Figures> = totals
            .into_iter()
            .map(|(scenario, recorder, elapsed)| {
                recorder.figures(scenario.as_str(), config.clients, elapsed)
            })
            .collect();
        if config.rounds > 1 {
            say(format!("all {} rounds together:", config.rounds));
            for figures in &scenarios {
                say(figures.summary_line());
                if let Some(cpu) = &figures.cpu {
                    say(cpu.summary_line(&figures.scenario));
                }
            }
        }
        let healthz_per_s = (!healthz_rates.is_empty())
            .then(|| healthz_rates.iter().sum::<f64>() / healthz_rates.len() as f64);
        Ok(Rounds {
            scenarios,
            delivered,
            healthz_per_s,
            round_ratios,
        })
    }

    /// Runs one scenario for the configured duration and folds its outcome into the model;
    /// what the clients saw, and how long it took.
    async fn scenario(&mut self, scenario: Scenario) -> (Recorder, Duration) {
        if scenario == Scenario::Replay && self.executed.is_empty() {
            // Nothing to replay yet: execute a few bets first, outside the figures.
            let tasks = self.spawn_owning(|client, share| {
                client.first(share, Until::Operations(REPLAY_WARM_UP))
            });
            self.join(tasks, Scenario::First).await;
        }
        let cpu_before = self.cpu.read().await;
        let started = Instant::now();
        let until = Until::Deadline(started + self.config.duration);
        let tasks = match scenario {
            Scenario::First | Scenario::Subscribed => {
                self.spawn_owning(move |client, share| client.first(share, until))
            }
            Scenario::Mixed => {
                self.spawn_owning(move |client, share| client.with_duplicates().mixed(share, until))
            }
            Scenario::Hot => self.spawn_hot(until),
            Scenario::Replay => self.spawn_replay(until),
        };
        let reporter = self.spawn_reporter(started);
        let mut recorder = self.join(tasks, scenario).await;
        let elapsed = recorder
            .stopped
            .take()
            .map_or_else(|| started.elapsed(), |stopped| stopped - started);
        if let Some(reporter) = reporter {
            reporter.abort();
        }
        recorder.cpu = Some(cpu_before.until(self.cpu.read().await));
        (recorder, elapsed)
    }

    /// `--report-every`: prints each window's throughput and latency while clients run.
    fn spawn_reporter(&self, started: Instant) -> Option<JoinHandle<()>> {
        let (every, window) = (self.config.report_every?, self.shared.window.clone()?);
        let print = self.config.print;
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let latencies = std::mem::take(&mut *window.lock().expect("window lock"));
                if print {
                    println!(
                        "{}",
                        Recorder::window_line(started.elapsed(), every, latencies)
                    );
                }
            }
        }))
    }

    /// One client per share of the players; each owns its share until it returns it.
    fn spawn_owning<F, Fut>(&mut self, start: F) -> Vec<JoinHandle<ClientOutcome>>
    where
        F: Fn(Client, Vec<(usize, PlayerModel)>) -> Fut,
        Fut: std::future::Future<Output = ClientOutcome> + Send + 'static,
    {
        self.epoch += 1;
        let clients = self.config.clients;
        let mut shares: Vec<Vec<(usize, PlayerModel)>> = (0..clients).map(|_| Vec::new()).collect();
        for (index, player) in std::mem::take(&mut self.provisioned.players)
            .into_iter()
            .enumerate()
        {
            shares[index % clients].push((index, player));
        }
        shares
            .into_iter()
            .enumerate()
            .map(|(index, share)| tokio::spawn(start(self.client(index), share)))
            .collect()
    }

    fn spawn_hot(&mut self, until: Until) -> Vec<JoinHandle<ClientOutcome>> {
        self.epoch += 1;
        let hot = Arc::new((
            self.provisioned.hot.id.clone(),
            self.provisioned.hot.session_token.clone(),
        ));
        (0..self.config.clients)
            .map(|index| tokio::spawn(self.client(index).hot(Arc::clone(&hot), until)))
            .collect()
    }

    fn spawn_replay(&mut self, until: Until) -> Vec<JoinHandle<ClientOutcome>> {
        self.epoch += 1;
        let pool = Arc::new(std::mem::take(&mut self.executed));
        let tasks = (0..self.config.clients)
            .map(|index| tokio::spawn(self.client(index).replay(Arc::clone(&pool), until)))
            .collect();
        // The clients hold the pool until they finish; it comes back in `join`.
        self.replay_pool = Some(pool);
        tasks
    }

    /// Waits for every client and folds what it did into the model.
    async fn join(
        &mut self,
        tasks: Vec<JoinHandle<ClientOutcome>>,
        scenario: Scenario,
    ) -> Recorder {
        let mut recorder = Recorder::default();
        let mut returned = Vec::new();
        let mut unchecked = Vec::new();
        for task in tasks {
            // A client that panicked is a bug in the bench: its players' model is gone.
            let outcome = task.await.expect("a bench client panicked");
            self.unresolved += outcome.recorder.unresolved;
            if scenario == Scenario::Hot && outcome.recorder.unresolved > 0 {
                self.provisioned.hot.uncertain = true;
            }
            recorder.merge(outcome.recorder);
            returned.extend(outcome.players);
            self.executed.extend(outcome.executed);
            self.provider_delta_minor += outcome.provider_delta_minor;
            self.keys += outcome.keys;
            self.provisioned.hot.balance_minor -= HOT_BET_MINOR * outcome.hot_balances.len() as i64;
            self.hot_balances.extend(outcome.hot_balances);
            unchecked.extend(outcome.unchecked);
        }
        if !returned.is_empty() {
            returned.sort_by_key(|(index, _)| *index);
            self.provisioned.players = returned.into_iter().map(|(_, player)| player).collect();
        }
        if let Some(pool) = self.replay_pool.take() {
            // Every client has finished, so the pool has one owner again.
            self.executed = Arc::try_unwrap(pool).unwrap_or_default();
        }
        if !unchecked.is_empty() {
            // Every client has stopped: the checks no longer hold up anybody's requests.
            let balances: Vec<Option<i64>> = self
                .provisioned
                .players
                .iter()
                .map(|p| (!p.uncertain).then_some(p.balance_minor))
                .collect();
            let key = self.shared.wallet.key();
            check_replays(&mut recorder, key, &self.executed, &balances, unchecked);
        }
        recorder
    }

    async fn verify(&self, database_url: Option<&str>) -> Verification {
        let totals = verify::ModelTotals {
            run_tag: &self.config.run_tag,
            provisioned: &self.provisioned,
            hot_start_minor: self.hot_start_minor,
            hot_balances: &self.hot_balances,
            provider_delta_minor: self.provider_delta_minor,
            keys: self.keys,
            unresolved: self.unresolved,
        };
        verify::verify(&totals, database_url).await
    }
}

/// Bets per client executed before `replay` when no earlier scenario left any.
const REPLAY_WARM_UP: u64 = 25;

/// The ratios a run is judged by (docs/PERFORMANCE.md, "Targets"), in operations per
/// second; `None` where a side did not run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ratios {
    pub replay_vs_first: Option<f64>,
    pub hot_vs_first: Option<f64>,
    pub mixed_vs_first: Option<f64>,
    /// What one webhook subscriber costs first executions.
    pub subscribed_vs_first: Option<f64>,
    pub replay_vs_healthz: Option<f64>,
}

impl Ratios {
    /// The ratios of scenarios' rates (`rate`) and of replays to `/healthz`'s rate.
    fn of(rate: impl Fn(Scenario) -> Option<f64>, healthz_per_s: Option<f64>) -> Ratios {
        let to = |over: Option<f64>, under: Option<f64>| match (over, under) {
            (Some(over), Some(under)) if under > 0.0 => Some(stats::round2(over / under)),
            _ => None,
        };
        let first = rate(Scenario::First);
        Ratios {
            replay_vs_first: to(rate(Scenario::Replay), first),
            hot_vs_first: to(rate(Scenario::Hot), first),
            mixed_vs_first: to(rate(Scenario::Mixed), first),
            subscribed_vs_first: to(rate(Scenario::Subscribed), first),
            replay_vs_healthz: to(rate(Scenario::Replay), healthz_per_s),
        }
    }

    /// The judged ratios that were measured, by name.
    fn named(&self) -> Vec<(&'static str, f64)> {
        [
            ("replay / healthz", self.replay_vs_healthz),
            ("hot / first", self.hot_vs_first),
            ("mixed / first", self.mixed_vs_first),
            ("subscribed / first", self.subscribed_vs_first),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }

    fn line(&self) -> String {
        let named: Vec<String> = self
            .named()
            .into_iter()
            .map(|(name, value)| format!("{name} {value:.2}"))
            .collect();
        named.join(", ")
    }
}

/// `--rounds`: each ratio's lowest and highest round, beside the totals' ratio printed
/// above, so that a reader sees how much one round alone would have said.
fn spread_line(rounds: &[Ratios]) -> String {
    let mut parts = Vec::new();
    let names: Vec<&str> = rounds
        .first()
        .map(|r| r.named().into_iter().map(|(name, _)| name).collect())
        .unwrap_or_default();
    for name in names {
        let values: Vec<f64> = rounds
            .iter()
            .flat_map(Ratios::named)
            .filter(|(n, _)| *n == name)
            .map(|(_, value)| value)
            .collect();
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        parts.push(format!("{name} {low:.2}–{high:.2}"));
    }
    format!(
        "spread over the {} rounds: {}",
        rounds.len(),
        parts.join(", ")
    )
}

/// `round r/n: ` before a scenario's line when the scenarios run more than once.
fn round_prefix(round: u32, rounds: u32) -> String {
    if rounds > 1 {
        format!("round {round}/{rounds}: ")
    } else {
        String::new()
    }
}

/// Folds one run of a scenario into its totals over the rounds.
fn add_to_totals(
    totals: &mut Vec<(Scenario, Recorder, Duration)>,
    scenario: Scenario,
    recorder: Recorder,
    elapsed: Duration,
) {
    match totals.iter_mut().find(|(s, _, _)| *s == scenario) {
        Some((_, total, total_elapsed)) => {
            total.merge(recorder);
            *total_elapsed += elapsed;
        }
        None => totals.push((scenario, recorder, elapsed)),
    }
}

fn rate_of(rates: &[(Scenario, f64)], scenario: Scenario) -> Option<f64> {
    rates
        .iter()
        .find(|(s, _)| *s == scenario)
        .map(|(_, rate)| *rate)
}
