//! Seals of the trail (docs/TRAIL.md): someone who can write the database edits an old
//! posting and recomputes every link and head, so the plain `server verify-trail` agrees;
//! the seals, signed with a key outside the database, still name the first seal that no
//! longer matches. Seals signed with another key are refused.
use std::path::{Path, PathBuf};

use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use server::ledger::chain::{link, Posting, GENESIS};
use server::seal::{SealKey, Sealing};

use crate::helpers::*;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn new_dir() -> Dir {
    let dir = std::env::temp_dir().join(format!("oncewallet-seals-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    Dir(dir)
}

/// `server seal-key generate --out DIR/NAME`, through the binary as an operator runs it.
fn generate_key(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["seal-key", "generate", "--out"])
        .arg(&out)
        .output()
        .expect("the server binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

async fn sealed_app(dir: &Path, interval: Option<std::time::Duration>) -> (TestApp, PathBuf) {
    let key = generate_key(dir, "seal.key");
    let file = dir.join("seals.jsonl");
    let sealing = Sealing::new(
        SealKey::load(&key).expect("the key loads"),
        file.clone(),
        interval,
    );
    let app = spawn_app_with(move |config| config.sealing = Some(sealing)).await;
    (app, key)
}

async fn seal(app: &TestApp) -> Value {
    let response = app
        .operator()
        .request(Method::POST, "/operator/v1/trail/seals", None)
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
    response.body["seal"].clone()
}

async fn rounds(provider: &TestProvider, player: &TestPlayer, amounts: &[i64]) {
    for &amount in amounts {
        let round = player.new_round();
        provider.bet(&player.bet(&round, amount)).await.assert_ok();
        provider
            .win(&player.win(&round, amount * 3))
            .await
            .assert_ok();
    }
}

/// `server verify-trail [--seals FILE --public-key KEY]`: exit code and standard output.
async fn verify_trail(app: &TestApp, seals: Option<(&Path, &Path)>) -> (Option<i32>, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .arg("verify-trail")
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    if let Some((file, key)) = seals {
        command
            .arg("--seals")
            .arg(file)
            .arg("--public-key")
            .arg(key);
    }
    let output = command.output().await.expect("the server binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// The seal report: the second JSON document `verify-trail --seals` prints.
fn seal_report(stdout: &str) -> Value {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .nth(1)
        .unwrap_or_else(|| panic!("two reports in {stdout}"))
        .expect("the seal report is JSON")
}

async fn execute(app: &TestApp, sql: String) {
    app.db
        .execute(Statement::from_string(
            app.db.get_database_backend(),
            sql.clone(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What an insider with write access does: changes the amount of one posting (both sides,
/// so the transaction still sums to zero) and recomputes the player's whole chain and head.
async fn rewrite_history(app: &TestApp, player_id: &str, entry_id: i64) {
    let account = format!("player:{player_id}");
    let tx = app
        .query_i64(&format!(
            "SELECT wallet_transaction_id AS n FROM ledger_entries WHERE id = {entry_id}"
        ))
        .await;
    execute(
        app,
        format!("UPDATE ledger_entries SET amount_minor = amount_minor - 1 WHERE id = {entry_id}"),
    )
    .await;
    execute(app, format!("UPDATE ledger_entries SET amount_minor = amount_minor + 1 WHERE wallet_transaction_id = {tx} AND id <> {entry_id}")).await;
    let rows = app
        .db
        .query_all(Statement::from_string(
            app.db.get_database_backend(),
            format!(
                "SELECT p.id, p.wallet_transaction_id, p.amount_minor, p.balance_after_minor, \
                 p.currency, c.account AS counter_account, c.amount_minor AS counter_amount \
                 FROM ledger_entries p JOIN ledger_entries c \
                 ON c.wallet_transaction_id = p.wallet_transaction_id AND c.account <> p.account \
                 WHERE p.account = {} ORDER BY p.id",
                quote(&account)
            ),
        ))
        .await
        .expect("the chain reads");
    let mut previous = GENESIS.to_owned();
    for row in rows {
        let get = |name: &str| row.try_get::<i64>("", name).expect(name);
        let text = |name: &str| row.try_get::<String>("", name).expect(name);
        previous = link(
            &previous,
            &Posting {
                wallet_tx_id: get("wallet_transaction_id"),
                player_account: &account,
                player_delta: get("amount_minor"),
                balance_after: row
                    .try_get::<Option<i64>>("", "balance_after_minor")
                    .expect("balance_after_minor")
                    .unwrap_or_default(),
                counter_account: &text("counter_account"),
                counter_delta: get("counter_amount"),
                currency: &text("currency"),
            },
        );
        execute(
            app,
            format!(
                "UPDATE ledger_entries SET chain_hash = {} WHERE id = {}",
                quote(&previous),
                get("id")
            ),
        )
        .await;
    }
    execute(
        app,
        format!(
            "UPDATE players SET ledger_head = {} WHERE id = {}",
            quote(&previous),
            quote(player_id)
        ),
    )
    .await;
}

#[tokio::test]
async fn a_recomputed_trail_passes_plain_verification_but_not_the_seals() {
    let dir = new_dir();
    let (app, key) = sealed_app(&dir.0, None).await;
    let file = dir.0.join("seals.jsonl");
    let public = dir.0.join("seal.key.pub");
    let provider = TestProvider::new(&app).await;
    let alice = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let bob = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    rounds(&provider, &alice, &[100, 200]).await;
    rounds(&provider, &bob, &[50]).await;
    let first = seal(&app).await;
    assert_eq!(first["seal"], 1);
    assert_eq!(first["previous"], GENESIS);
    // Alice's third bet lands between seal 1 and seal 2: seal 1 does not cover it.
    rounds(&provider, &alice, &[300]).await;
    let alice_account = quote(&format!("player:{}", alice.id));
    let third_bet = app
        .query_i64(&format!(
            "SELECT MAX(id) AS n FROM ledger_entries WHERE account = {alice_account} AND amount_minor = -300"
        ))
        .await;
    assert_eq!(seal(&app).await["seal"], 2);
    rounds(&provider, &bob, &[75]).await;
    assert_eq!(seal(&app).await["seal"], 3);
    let lines = std::fs::read_to_string(&file).expect("the seal file");
    assert_eq!(lines.lines().count(), 3, "{lines}");
    let listed = app
        .operator()
        .request(Method::GET, "/operator/v1/trail/seals?limit=2", None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["seals"][0]["seal"], 3);
    assert_eq!(listed.body["seals"].as_array().map(Vec::len), Some(2));

    let (code, stdout) = verify_trail(&app, Some((&file, &public))).await;
    assert_eq!(code, Some(0), "untouched data matches its seals: {stdout}");
    assert_eq!(seal_report(&stdout)["seals_checked"], 3);

    rewrite_history(&app, &alice.id, third_bet).await;
    let (code, stdout) = verify_trail(&app, None).await;
    assert_eq!(
        code,
        Some(0),
        "every link was recomputed, so the chain alone agrees: {stdout}"
    );
    let (code, stdout) = verify_trail(&app, Some((&file, &public))).await;
    assert_eq!(code, Some(1), "{stdout}");
    let found = &seal_report(&stdout)["first_unmatched"];
    assert_eq!(
        found["seal"], 2,
        "the first seal that covered the edited posting: {found}"
    );
    assert_eq!(found["player_id"], alice.id.as_str(), "{found}");

    let other = generate_key(&dir.0, "other.key");
    let (code, stdout) = verify_trail(&app, Some((&file, &other.with_extension("key.pub")))).await;
    assert_eq!(code, Some(1), "{stdout}");
    let refused = &seal_report(&stdout)["first_unmatched"];
    assert_eq!(refused["seal"], 1, "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not signed by the given key")),
        "{refused}"
    );
    assert!(key.exists());
}

#[tokio::test]
async fn altered_sealed_leaves_and_a_removed_seal_are_found() {
    let dir = new_dir();
    let (app, _key) = sealed_app(&dir.0, None).await;
    let file = dir.0.join("seals.jsonl");
    let public = dir.0.join("seal.key.pub");
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    rounds(&provider, &player, &[100]).await;
    seal(&app).await;
    rounds(&provider, &player, &[100]).await;
    seal(&app).await;
    rounds(&provider, &player, &[100]).await;
    seal(&app).await;

    // A seal removed from the file breaks the chain of digests.
    let text = std::fs::read_to_string(&file).expect("the seal file");
    let lines: Vec<&str> = text.lines().collect();
    let gapped = dir.0.join("gapped.jsonl");
    std::fs::write(&gapped, format!("{}\n{}\n", lines[0], lines[2])).expect("write");
    let (code, stdout) = verify_trail(&app, Some((&gapped, &public))).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        seal_report(&stdout)["first_unmatched"]["seal"],
        3,
        "{stdout}"
    );

    // A stored leaf changed to match a rewritten chain no longer gives the signed root.
    execute(&app, format!("UPDATE trail_seal_leaves SET postings = postings + 1 WHERE seal_id = 2 AND player_id = {}", quote(&player.id))).await;
    let (code, stdout) = verify_trail(&app, Some((&file, &public))).await;
    assert_eq!(code, Some(1), "{stdout}");
    let found = &seal_report(&stdout)["first_unmatched"];
    assert_eq!(found["seal"], 2, "{found}");
    assert!(
        found["reason"]
            .as_str()
            .is_some_and(|r| r.contains("signed root")),
        "{found}"
    );
}

#[tokio::test]
async fn the_schedule_seals_by_itself_and_a_server_without_a_key_refuses() {
    let dir = new_dir();
    let (app, _key) = sealed_app(&dir.0, Some(std::time::Duration::from_secs(1))).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    rounds(&provider, &player, &[100]).await;
    let file = dir.0.join("seals.jsonl");
    let mut sealed = 0;
    for _ in 0..100 {
        sealed = std::fs::read_to_string(&file).map_or(0, |text| text.lines().count());
        if sealed >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        sealed >= 2,
        "two scheduled seals within 10 s, found {sealed}"
    );
    let (code, stdout) = verify_trail(&app, Some((&file, &dir.0.join("seal.key.pub")))).await;
    assert_eq!(code, Some(0), "{stdout}");

    let plain = spawn_app().await;
    let response = plain
        .operator()
        .request(Method::POST, "/operator/v1/trail/seals", None)
        .await;
    assert_eq!(
        (response.status, response.code()),
        (409, Some("SEALING_OFF")),
        "{}",
        response.body
    );
}

/// Two processes given the same key and seal file (two `Sealing`s on one database here:
/// each has its own in-process lock, as two processes would) seal in turn: the file lock
/// keeps every seal once and in order, and the file verifies.
#[tokio::test]
async fn two_sealers_sharing_one_file_append_in_turn() {
    let dir = new_dir();
    let (app, key) = sealed_app(&dir.0, None).await;
    let file = dir.0.join("seals.jsonl");
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    rounds(&provider, &player, &[100]).await;
    let sealers: Vec<Sealing> = (0..2)
        .map(|_| Sealing::new(SealKey::load(&key).expect("the key"), file.clone(), None))
        .collect();
    let runs: Vec<_> = (0..6)
        .map(|i| {
            let (store, sealing) = (app.store.clone(), sealers[i % 2].clone());
            tokio::spawn(async move { server::seal::seal_now(&store, &sealing).await })
        })
        .collect();
    let mut made = 0;
    for run in runs {
        match run.await.expect("a sealer") {
            Ok(_) => made += 1,
            Err(server::seal::SealError::Raced(_)) => {}
            Err(error) => panic!("{error}"),
        }
    }
    let text = std::fs::read_to_string(&file).expect("the seal file");
    let numbers: Vec<i64> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).expect("a seal")["seal"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        numbers,
        (1..=made).collect::<Vec<i64>>(),
        "each seal once, in order"
    );
    let (code, stdout) = verify_trail(&app, Some((&file, &dir.0.join("seal.key.pub")))).await;
    assert_eq!(code, Some(0), "{stdout}");
}

/// A seal file that already holds the seal the database would make next belongs to
/// another database (or the database was restored from before it): refused with its own
/// code, nothing stored, the file untouched.
#[tokio::test]
async fn a_seal_file_of_another_database_is_refused_and_nothing_is_sealed() {
    let dir = new_dir();
    let (app, _key) = sealed_app(&dir.0, None).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    rounds(&provider, &player, &[100]).await;
    seal(&app).await;
    let file = dir.0.join("seals.jsonl");
    // The other database's file, one seal further.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut record: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    record["seal"] = json!(2);
    std::fs::write(&file, format!("{text}{record}\n")).unwrap();

    let response = app
        .operator()
        .request(Method::POST, "/operator/v1/trail/seals", None)
        .await;

    assert_eq!(
        (response.status, response.code()),
        (409, Some("SEAL_FILE_MISMATCH")),
        "{}",
        response.body
    );
    let listed = app
        .operator()
        .request(Method::GET, "/operator/v1/trail/seals", None)
        .await;
    assert_eq!(listed.body["seals"].as_array().map(Vec::len), Some(1));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
}
