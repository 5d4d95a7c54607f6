//! The provider simulator against a test server, with every fault switched up: the wallet
//! must agree with the simulator's model on every answer, and every injected fault must
//! leave its trace where the contract says: replays and conflicts in the attempt log,
//! tombstones and voided late bets in the database, statement findings exactly as
//! injected.
use std::collections::BTreeSet;
use std::time::Duration;

use server::simulate::{self, FaultRates, Output, Report, SimConfig};

use crate::helpers::*;

/// Long enough for every fault to happen several times, short enough for the test suite.
const RUN_FOR: Duration = Duration::from_secs(12);

/// Every fault several times as often as the defaults.
fn frequent_faults() -> FaultRates {
    FaultRates {
        dropped_response: 0.05,
        duplicate_storm: 0.05,
        conflicting_replay: 0.05,
        bad_signature: 0.03,
        stale_timestamp: 0.03,
        bet_timeout: 0.05,
        rollback_before_bet: 0.05,
        win_after_rollback: 0.05,
        abandoned_round: 0.02,
        statement_discrepancies: true,
    }
}

fn config(app: &TestApp) -> SimConfig {
    let mut config = SimConfig::new(&app.base_url, &app.operator_token, Some(RUN_FOR));
    config.seed = 20_261_128;
    config.rounds_per_second = 25.0;
    config.players = 12;
    config.providers = 3;
    config.faults = frequent_faults();
    config.resend_delay = (Duration::from_secs(1), Duration::from_secs(3));
    config.first_statement_after = Some(Duration::from_secs(4));
    config.statement_every = Some(Duration::from_secs(4));
    config.output = Output::Silent;
    config
}

/// The faults a run must have injected for the test to mean anything.
const FAULTS: [&str; 13] = [
    "dropped_response",
    "duplicate_storm",
    "conflicting_replay",
    "bad_signature",
    "stale_timestamp",
    "bet_timeout_rollback",
    "rollback_before_bet",
    "win_after_rollback",
    "abandoned_round",
    "statement_state_mismatch",
    "statement_amount_mismatch",
    "statement_missing_at_provider",
    "statement_missing_in_wallet",
];

#[tokio::test]
async fn a_seeded_simulation_with_faults_matches_the_model_and_leaves_every_trace() {
    let app = spawn_app().await;

    let report = simulate::run(config(&app))
        .await
        .expect("the simulator provisions and runs");

    println!("{}", report.render());
    assert_eq!(report.model_differences, 0, "{}", report.render());
    for fault in FAULTS {
        assert!(
            report.fault_count(fault) > 0,
            "{fault} never injected: {}",
            report.render()
        );
    }
    assert_attempt_log_counts(&app, &report).await;
    assert_late_bets_voided(&app, &report).await;
    assert_statement_findings(&app, &report).await;
    assert_invariants(&app).await;
}

async fn outcome_count(app: &TestApp, outcome: &str) -> i64 {
    app.query_i64(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM attempts WHERE outcome = {}",
        quote(outcome)
    ))
    .await
}

/// Each duplicate and each resend after a dropped answer is a REPLAY in the attempt log,
/// each conflicting replay a CONFLICT, each spoilt request a REJECTED. The log is written
/// in the background, so it may need a moment to catch up.
async fn assert_attempt_log_counts(app: &TestApp, report: &Report) {
    let wanted = [
        ("REPLAY", report.replays_injected()),
        ("CONFLICT", report.fault_count("conflicting_replay")),
        (
            "REJECTED",
            report.fault_count("bad_signature") + report.fault_count("stale_timestamp"),
        ),
    ];
    for (outcome, injected) in wanted {
        let injected = i64::try_from(injected).expect("a count");
        let mut logged = outcome_count(app, outcome).await;
        for _ in 0..50 {
            if logged >= injected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            logged = outcome_count(app, outcome).await;
        }
        assert!(
            logged >= injected,
            "{outcome}: {logged} in the attempt log, {injected} injected"
        );
    }
}

/// Each rollback that overtook its bet left one tombstone, and its late bet was voided.
async fn assert_late_bets_voided(app: &TestApp, report: &Report) {
    let overtaken = i64::try_from(report.fault_count("rollback_before_bet")).expect("a count");
    let tombstones = app
        .query_i64("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM tombstones")
        .await;
    let claimed = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM tombstones WHERE late_bet_at IS NOT NULL",
        )
        .await;
    let voided = app
        .query_i64(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM wallet_transactions \
             WHERE op = 'BET' AND state = 'VOIDED_BY_PRIOR_ROLLBACK'",
        )
        .await;
    assert_eq!(
        (tombstones, claimed, voided),
        (overtaken, overtaken, overtaken),
        "tombstones, tombstones whose bet arrived, voided bets"
    );
}

/// Every statement's findings were exactly those injected, and each is a discrepancy
/// record; there are no others of the statement kinds.
async fn assert_statement_findings(app: &TestApp, report: &Report) {
    assert!(report.statements_sent >= 3, "{}", report.render());
    assert_eq!(report.statement_mismatches, 0, "{}", report.render());
    let mut injected = BTreeSet::new();
    for statement in &report.statements {
        assert_eq!(statement.reported, statement.expected, "{statement:?}");
        for (kind, transaction_id) in &statement.expected {
            injected.insert((
                kind.clone(),
                format!("{}/{transaction_id}", statement.provider_id),
            ));
        }
    }
    let rows = app
        .query(
            "SELECT kind, subject_id FROM discrepancies WHERE kind IN \
             ('MISSING_IN_WALLET', 'MISSING_AT_PROVIDER', 'AMOUNT_MISMATCH', 'STATE_MISMATCH')",
        )
        .await;
    let recorded: BTreeSet<(String, String)> = rows
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "kind").expect("kind"),
                row.try_get::<String>("", "subject_id").expect("subject_id"),
            )
        })
        .collect();
    assert_eq!(recorded, injected, "discrepancy records of the statements");
}

/// A TLS front for `app`: a self-signed certificate for `localhost`, and a proxy that
/// forwards each connection to the app. The `https://localhost:…` URL, and the
/// certificate as a PEM file to trust (in `dir`).
async fn tls_front(app: &TestApp, dir: &std::path::Path) -> (String, std::path::PathBuf) {
    use std::sync::Arc;
    use tokio_rustls::rustls;

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let pem = dir.join("ca.pem");
    std::fs::write(&pem, certified.cert.pem()).expect("write the certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .expect("the server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let upstream = app.base_url.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                if let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    (format!("https://localhost:{port}"), pem)
}

#[tokio::test]
async fn the_simulator_runs_against_a_wallet_behind_tls() {
    let app = spawn_app().await;
    let dir = std::env::temp_dir().join(format!("oncewallet-tls-{}", unique_id("t")));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (url, ca_file) = tls_front(&app, &dir).await;
    let run = |ca_file: Option<std::path::PathBuf>| {
        let mut config = SimConfig::new(&url, &app.operator_token, Some(Duration::from_secs(4)));
        config.rounds_per_second = 10.0;
        config.players = 4;
        config.providers = 1;
        config.faults = FaultRates::none();
        config.first_statement_after = None;
        config.statement_every = None;
        config.output = Output::Silent;
        config.ca_file = ca_file;
        simulate::run(config)
    };

    // Not trusted: the platform's roots do not include a certificate made a moment ago.
    assert!(
        run(None).await.is_err(),
        "an unknown certificate is refused"
    );
    let report = run(Some(ca_file)).await.expect("runs over https");

    assert!(report.rounds > 0, "{}", report.render());
    assert!(report.passed(), "{}", report.render());
    std::fs::remove_dir_all(&dir).ok();
}
