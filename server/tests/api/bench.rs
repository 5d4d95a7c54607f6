//! The load generator's smoke run: each scenario for about two seconds with four clients
//! against the real server, and its verification must pass. No timing thresholds (the
//! machine is shared and timings are noise); the counts and the invariants are not.
use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use server::bench::{BenchConfig, BenchReport, Scenario};

use crate::helpers::{spawn_app, TestApp};

fn config(app: &TestApp, scenarios: Vec<Scenario>) -> BenchConfig {
    let mut config = BenchConfig::new(&app.base_url, &app.operator_token);
    config.clients = 4;
    config.duration = Duration::from_secs(2);
    config.players = 40;
    config.scenarios = scenarios;
    config.database_url = Some(app.database_url.clone());
    config.print = false;
    config
}

async fn bench(app: &TestApp, scenarios: Vec<Scenario>) -> BenchReport {
    server::bench::run(config(app, scenarios))
        .await
        .expect("the bench runs")
}

/// Every request of the scenario was answered 200 (first executions or replays), each
/// operation once, none wrong, and something actually ran.
fn assert_clean(report: &BenchReport, scenario: Scenario) {
    let figures = report
        .figures(scenario)
        .unwrap_or_else(|| panic!("{scenario:?} ran"));
    assert!(figures.operations > 0, "no operations: {figures:?}");
    assert_eq!(figures.wrong_answers, 0, "{:?}", figures.wrong_samples);
    assert_eq!(figures.unresolved, 0, "{figures:?}");
    assert_eq!(
        figures.statuses.keys().collect::<Vec<_>>(),
        ["200"],
        "{figures:?}"
    );
    assert!(figures.requests >= figures.operations, "{figures:?}");
    assert!(
        figures.latency_ms_p50 <= figures.latency_ms_p99
            && figures.latency_ms_p99 <= figures.latency_ms_max,
        "{figures:?}"
    );
}

fn assert_verified(report: &BenchReport) {
    assert!(
        report.verification.passed,
        "{}",
        report.verification.render()
    );
    let names: Vec<&str> = report
        .verification
        .checks
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for check in [
        "balances = model",
        "no critical findings",
        "sql: balance = entries",
        "sql: clearing = model",
        "sql: one key per operation",
    ] {
        assert!(names.contains(&check), "{check} missing from {names:?}");
    }
}

#[tokio::test]
async fn the_first_scenario_executes_distinct_bets_and_adds_up() {
    let app = spawn_app().await;
    let report = bench(&app, vec![Scenario::First]).await;
    assert_clean(&report, Scenario::First);
    assert_verified(&report);
    // CPU per operation: the wallet's from its /metrics (here the test's own process).
    let cpu = report
        .figures(Scenario::First)
        .and_then(|figures| figures.cpu.clone())
        .expect("the CPU was read around the scenario");
    assert!(
        cpu.wallet_us.is_some_and(|us| us > 0.0) && cpu.load_generator_us > 0.0,
        "{cpu:?}"
    );
    assert!(cpu.wallet_vs_load_generator.is_some(), "{cpu:?}");
}

#[tokio::test]
async fn the_replay_scenario_gets_the_first_answers_back() {
    let app = spawn_app().await;
    // Alone, it executes a few bets of its own first.
    let report = bench(&app, vec![Scenario::Replay]).await;
    assert_clean(&report, Scenario::Replay);
    assert_verified(&report);
}

#[tokio::test]
async fn the_hot_scenario_serialises_every_bet_on_one_player() {
    let app = spawn_app().await;
    let report = bench(&app, vec![Scenario::Hot]).await;
    assert_clean(&report, Scenario::Hot);
    assert_verified(&report);
    let hot = report
        .verification
        .checks
        .iter()
        .find(|c| c.name == "hot player serialised")
        .expect("the hot sequence is checked");
    assert!(hot.passed, "{}", hot.detail);
}

#[tokio::test]
async fn the_mixed_scenario_with_duplicates_adds_up() {
    let app = spawn_app().await;
    let report = bench(&app, vec![Scenario::Mixed]).await;
    assert_clean(&report, Scenario::Mixed);
    assert_verified(&report);
}

#[tokio::test]
async fn every_scenario_in_one_run_agrees_with_the_model() {
    let app = spawn_app().await;
    let mut config = config(&app, Scenario::ALL.to_vec());
    config.duration = Duration::from_secs(1);
    let report = server::bench::run(config).await.expect("the bench runs");
    for scenario in Scenario::ALL {
        assert_clean(&report, scenario);
    }
    assert!(report.replay_vs_first.is_some() && report.hot_vs_first.is_some());
    assert_verified(&report);
}

/// `--rounds`: the scenarios take turns, each round has its own ratios, and the figures
/// are the rounds' totals; a subscription of its own serves each round's `subscribed`.
#[tokio::test]
async fn rounds_take_turns_and_their_totals_are_the_figures() {
    let app = spawn_app().await;
    let mut config = config(
        &app,
        vec![Scenario::First, Scenario::Subscribed, Scenario::Mixed],
    );
    config.duration = Duration::from_secs(1);
    config.rounds = 2;
    let report = server::bench::run(config).await.expect("the bench runs");
    for scenario in [Scenario::First, Scenario::Subscribed, Scenario::Mixed] {
        assert_clean(&report, scenario);
        let figures = report.figures(scenario).expect("ran");
        assert!(figures.elapsed_s >= 2.0, "two rounds of 1 s: {figures:?}");
    }
    assert_eq!(report.rounds, 2);
    assert_eq!(report.round_ratios.len(), 2);
    for ratios in &report.round_ratios {
        assert!(ratios.mixed_vs_first.is_some() && ratios.subscribed_vs_first.is_some());
    }
    let delivered = report.delivered.as_ref().expect("the subscriber's count");
    let subscribed = report
        .figures(Scenario::Subscribed)
        .expect("ran")
        .operations;
    assert!(
        delivered.received >= subscribed,
        "{delivered:?} for {subscribed} bets"
    );
    assert_verified(&report);
}

/// The verification is not a formality: money changed behind the wallet's back during the
/// run makes it fail.
#[tokio::test]
async fn a_balance_changed_behind_the_wallets_back_fails_the_verification() {
    let app = spawn_app().await;
    let config = config(&app, vec![Scenario::First]);
    let player = format!("{}-p0", config.run_tag);
    // Once the player has bet at least once, seven cents appear from nowhere.
    let tamper = async {
        let sql = format!(
            "UPDATE players SET balance_minor = balance_minor + 7 \
             WHERE id = '{player}' AND balance_minor < 1000000000"
        );
        for _ in 0..300 {
            let changed = app
                .db
                .execute(Statement::from_string(
                    app.db.get_database_backend(),
                    sql.clone(),
                ))
                .await
                .expect("tamper with the balance");
            if changed.rows_affected() == 1 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    let (report, tampered) = tokio::join!(server::bench::run(config.clone()), tamper);
    let report = report.expect("the bench runs");
    assert!(tampered, "the player never bet");
    assert!(
        !report.verification.passed,
        "{}",
        report.verification.render()
    );
    let failed: Vec<&str> = report
        .verification
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert!(failed.contains(&"balances = model"), "{failed:?}");
    assert!(failed.contains(&"sql: balance = entries"), "{failed:?}");
}

/// `--baseline` on SQLite: the engine's floor on a synchronous connection and the
/// server's `/healthz` rate are measured in the same run and every ratio is reported.
/// (On PostgreSQL the floor is pgbench, which `scripts/bench.sh` runs; not here.)
#[tokio::test]
async fn the_baseline_measures_the_floors_and_reports_the_ratios() {
    let app = spawn_app().await;
    if !app.database_url.starts_with("sqlite:") {
        return;
    }
    let mut config = config(&app, vec![Scenario::First, Scenario::Replay]);
    config.baseline = true;
    config.duration = Duration::from_secs(1);
    let report = server::bench::run(config).await.expect("the bench runs");
    assert_clean(&report, Scenario::First);
    assert_verified(&report);
    let floor = report.baseline.as_ref().expect("a baseline");
    assert_eq!(floor.engine, "sqlite");
    assert!(floor.transactions_per_s > 0.0, "{floor:?}");
    assert!(floor.ratio.is_some_and(|r| r > 0.0), "{floor:?}");
    // The second floor, with the clients' key pattern, ran and has its ratio.
    assert!(
        floor.client_keys_per_s.is_some_and(|r| r > 0.0),
        "{floor:?}"
    );
    assert!(
        floor.client_keys_ratio().is_some_and(|r| r > 0.0),
        "{floor:?}"
    );
    assert!(report.healthz_per_s.is_some_and(|r| r > 0.0), "{report:?}");
    assert!(report.replay_vs_healthz.is_some_and(|r| r > 0.0));
}

/// `server bench presign` and `scripts/wrk/presigned.lua`, as `scripts/wrk.sh` uses them:
/// wrk sends every pre-signed bet once, each executed once, and then (the files started
/// again) only replays. wrk comes from Debian (`scripts/setup.sh test`).
#[tokio::test]
async fn presigned_bets_sent_by_wrk_execute_once_and_then_replay() {
    use server::bench::cli::WalletArgs;
    use server::bench::presign::{presign, PresignArgs};

    let app = spawn_app().await;
    let tag = format!("wrk-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let dir = std::env::temp_dir().join(format!("oncewallet-{tag}"));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let args = PresignArgs {
        wallet: WalletArgs {
            target: app.base_url.clone(),
            operator_token: Some(app.operator_token.clone()),
        },
        players: 3,
        requests: 40,
        files: 2,
        out: dir.join("bets"),
        run_tag: Some(tag.clone()),
    };
    let written = presign(&args)
        .await
        .expect("players provisioned and bets written");
    assert_eq!(written.files.len(), 2);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/wrk/presigned.lua");
    let prefix = dir.join("bets");
    let output = tokio::process::Command::new("wrk")
        .args(["-t2", "-c2", "-d1s", "-s", script, &app.base_url, "--"])
        .arg(&prefix)
        .output()
        .await
        .expect("wrk runs (Debian's wrk package, scripts/setup.sh test)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    // Each thread sent its 20 lines and then started its file again.
    let threads: Vec<(u64, u64)> = report
        .lines()
        .filter_map(|line| line.strip_prefix("presigned thread "))
        .map(|line| {
            let numbers: Vec<u64> = line
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            (numbers[1], numbers[2])
        })
        .collect();
    assert_eq!(threads.len(), 2, "{report}");
    assert!(
        threads
            .iter()
            .all(|&(sent, wrapped)| sent > 20 && wrapped >= 1),
        "{report}"
    );
    let sent: u64 = threads.iter().map(|&(sent, _)| sent).sum();
    std::fs::remove_dir_all(&dir).expect("the bets removed");

    let executed = app
        .db
        .query_one(Statement::from_string(
            app.db.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM wallet_transactions \
                 WHERE op = 'BET' AND state = 'COMMITTED' AND transaction_id LIKE '{tag}-t%'"
            ),
        ))
        .await
        .expect("the count")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a number");
    assert_eq!(executed, 40, "every pre-signed bet executed once");
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .expect("/metrics")
        .text()
        .await
        .expect("its text");
    let count = |outcome: &str| -> u64 {
        let series = format!(
            "oncewallet_requests_total{{endpoint=\"/wallet/v1/bet\",provider=\"{tag}-provider\",\
             outcome=\"{outcome}\",status=\"200\"}} "
        );
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(count("FIRST"), 40, "{metrics}");
    // wrk counts the requests it sent; a last one may still be in flight when it stops.
    let replays = count("REPLAY");
    assert!(
        (sent - 40).saturating_sub(2) <= replays && replays <= sent - 40,
        "sent {sent}, replays {replays}"
    );
}
