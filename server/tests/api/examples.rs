//! The example provider clients in `docs/examples/` run against the
//! real server: they sign, retry a bet with the same transaction id and use the status
//! lookup, and must see the bet counted once. Python 3 and Node.js come with the test
//! command (`scripts/setup.sh test`).
use std::process::Command;

use crate::helpers::*;

async fn run_example(app: &TestApp, program: &str, file: &str) {
    let provider = TestProvider::new(app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples/").to_owned() + file;
    let envs = [
        ("WALLET_URL", app.base_url.clone()),
        ("KEY_ID", provider.key_id.clone()),
        ("SECRET", provider.secret.clone()),
        ("PLAYER_ID", player.id.clone()),
        ("SESSION_TOKEN", player.session_token.clone()),
        ("GAME_ID", player.game_id.clone()),
        ("CURRENCY", "EUR".to_owned()),
        ("SCALE", "2".to_owned()),
    ];
    let program = program.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .arg(&script)
            .envs(envs)
            .output()
            .unwrap_or_else(|error| {
                panic!("{program} runs (the test command installs it): {error}")
            })
    })
    .await
    .expect("thread");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{file}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("counted once"), "{stdout}");
    provider.assert_balance(&player, 9_900).await;
}

#[tokio::test]
async fn the_python_example_client_signs_retries_and_looks_up() {
    let app = spawn_app().await;
    run_example(&app, "python3", "provider_client.py").await;
}

#[tokio::test]
async fn the_node_example_client_signs_retries_and_looks_up() {
    let app = spawn_app().await;
    run_example(&app, "node", "provider_client.mjs").await;
}
