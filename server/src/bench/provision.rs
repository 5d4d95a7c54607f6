//! Provisioning through the operator API: one provider with a fresh key, the players with
//! a deposit and a game session each, and the one hot player. Every id carries the run
//! tag, so runs against the same wallet never meet.
use anyhow::{bail, Context};
use futures::{StreamExt, TryStreamExt};
use rand::RngCore;
use serde_json::json;

use super::config::BenchConfig;
use crate::simulate::client::{OperatorClient, ProviderKey, WalletClient, WireAnswer};

/// Every player's first deposit: no bet sequence of a run can spend it.
pub const DEPOSIT_MINOR: i64 = 1_000_000_000;
/// The hot player takes every client's bets at once.
pub const HOT_DEPOSIT_MINOR: i64 = 1_000_000_000_000;
pub const CURRENCY: &str = "EUR";
pub const SCALE: u32 = 2;
/// Sessions outlive any run.
const SESSION_TTL_SECONDS: u64 = 86_400;

/// A player as the bench's model sees it.
#[derive(Debug, Clone)]
pub struct PlayerModel {
    pub id: String,
    pub session_token: String,
    /// What the balance must be.
    pub balance_minor: i64,
    /// An operation on this player never got a definitive answer: its balance is unknown.
    pub uncertain: bool,
}

/// What the scenarios play with.
pub struct Provisioned {
    pub wallet: WalletClient,
    pub operator: OperatorClient,
    pub provider_id: String,
    pub game_id: String,
    pub players: Vec<PlayerModel>,
    pub hot: PlayerModel,
}

pub async fn provision(config: &BenchConfig) -> anyhow::Result<Provisioned> {
    let http = crate::simulate::client::http_client()?;
    let operator = OperatorClient::new(http.clone(), &config.target, &config.operator_token);
    let provider_id = format!("{}-provider", config.run_tag);
    let mut secret = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut secret);
    let key = ProviderKey {
        provider_id: provider_id.clone(),
        key_id: format!("{}-key", config.run_tag),
        secret: hex::encode(secret),
    };
    let answer = operator
        .put_provider(&key, &format!("Load generator {}", config.run_tag))
        .await
        .context("register the provider")?;
    expect(&answer, 200, "register the provider")?;
    let game_id = "bench-slots".to_owned();
    let setup = Setup {
        operator: &operator,
        provider_id: &provider_id,
        game_id: &game_id,
    };
    let players = futures::stream::iter(0..config.players)
        .map(|index| {
            let id = format!("{}-p{index}", config.run_tag);
            setup.player(id, DEPOSIT_MINOR)
        })
        .buffered(config.clients.clamp(1, 64))
        .try_collect()
        .await?;
    let hot = setup
        .player(format!("{}-hot", config.run_tag), HOT_DEPOSIT_MINOR)
        .await?;
    Ok(Provisioned {
        wallet: WalletClient::new(http, &config.target, key).with_own_connections(),
        operator,
        provider_id,
        game_id,
        players,
        hot,
    })
}

struct Setup<'a> {
    operator: &'a OperatorClient,
    provider_id: &'a str,
    game_id: &'a str,
}

impl Setup<'_> {
    /// Creates the player, pays in the deposit and opens a session at the provider's game.
    async fn player(&self, id: String, deposit_minor: i64) -> anyhow::Result<PlayerModel> {
        let answer = self.operator.put_player(&id, CURRENCY).await?;
        expect(&answer, 200, "create a player")?;
        let deposit = json!({
            "adjustment_id": format!("{id}-deposit"),
            "direction": "CREDIT",
            "amount": { "value": deposit_minor.to_string(), "currency": CURRENCY, "scale": SCALE },
            "reason": "load generator deposit",
        });
        let answer = self.operator.adjust(&id, &deposit).await?;
        expect(&answer, 200, "deposit")?;
        let answer = self
            .operator
            .open_session(&id, self.provider_id, self.game_id, SESSION_TTL_SECONDS)
            .await?;
        expect(&answer, 201, "open a session")?;
        let session_token = answer.body["session_token"]
            .as_str()
            .context("a session without session_token")?
            .to_owned();
        Ok(PlayerModel {
            id,
            session_token,
            balance_minor: deposit_minor,
            uncertain: false,
        })
    }
}

fn expect(answer: &WireAnswer, status: u16, what: &str) -> anyhow::Result<()> {
    if answer.status != status {
        bail!(
            "{what}: the operator API answered {}: {}",
            answer.status,
            answer.body
        );
    }
    Ok(())
}
