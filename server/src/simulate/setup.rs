//! Provisioning through the operator API (docs/API.md, "Operator API"): the providers with
//! their keys, the players with their deposits and a session at every provider. Ids carry
//! the run tag, so runs against the same wallet never share a provider, player or
//! transaction.
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use super::client::{OperatorClient, ProviderKey, WalletClient};
use super::config::SimConfig;
use super::player::{Seat, SimPlayer};
use super::provider::{self, SimProvider};
use super::report::Tally;
use super::statement::StatementBook;

/// Game providers the simulator can play: (id part, display name).
const PROVIDERS: [(&str, &str); 5] = [
    ("spinworks", "Spinworks"),
    ("lucky-forge", "Lucky Forge"),
    ("northern-reels", "Northern Reels"),
    ("tidal-tables", "Tidal Tables"),
    ("ember-live", "Ember Live"),
];
pub const MAX_PROVIDERS: usize = PROVIDERS.len();

/// (code, scale) of the players' currencies; most play in euros.
const CURRENCIES: [(&str, u32); 4] = [("EUR", 2), ("EUR", 2), ("USD", 2), ("JPY", 0)];

/// A seed for one stream of choices (a player, a provider's statements), so each stream
/// is the same for the same run seed however the streams interleave.
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    // splitmix64: neighbouring streams get unrelated seeds.
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Statement streams are numbered after every possible player stream.
const STATEMENT_STREAMS: u64 = 1 << 32;

/// A secret nobody can derive from the seed: the simulator may run against a real wallet.
fn fresh_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Registers each provider with one fresh key.
pub async fn providers(
    operator: &OperatorClient,
    http: &reqwest::Client,
    config: &SimConfig,
    tally: &Tally,
) -> anyhow::Result<Vec<SimProvider>> {
    let run_tag = &config.run_tag;
    let mut providers = Vec::with_capacity(config.providers);
    for (index, (slug, name)) in PROVIDERS.iter().take(config.providers).enumerate() {
        let id = format!("{run_tag}-{slug}");
        let key = ProviderKey {
            provider_id: id.clone(),
            key_id: format!("{id}-key1"),
            secret: fresh_secret(),
        };
        let answer = operator
            .put_provider(&key, &format!("{name} ({run_tag})"))
            .await
            .context("register a provider")?;
        tally.operator_request();
        answer.expect(200, "register a provider")?;
        let book = StatementBook::new(
            &id,
            stream_seed(config.seed, STATEMENT_STREAMS + index as u64),
            config.statement_every.is_some(),
        );
        providers.push(SimProvider::new(
            id,
            format!("{slug}-slots"),
            WalletClient::new(http.clone(), &config.target, key),
            book,
        ));
    }
    Ok(providers)
}

/// Creates a player, pays in the first deposit and opens a session at every provider.
/// The player's choices (currency, deposit, and later every round) come from its own
/// seeded stream.
pub async fn player(
    operator: &OperatorClient,
    providers: &[SimProvider],
    run_tag: &str,
    index: usize,
    seed: u64,
    tally: &Tally,
) -> anyhow::Result<SimPlayer> {
    let mut rng = StdRng::seed_from_u64(stream_seed(seed, index as u64));
    let id = format!("{run_tag}-p{index}");
    let (currency, scale) = CURRENCIES[rng.gen_range(0..CURRENCIES.len())];
    let answer = operator.put_player(&id, currency).await?;
    tally.operator_request();
    answer.expect(200, "create a player")?;
    let mut seats = Vec::with_capacity(providers.len());
    for provider in providers {
        let session_token = provider::open_session(operator, &id, provider, tally).await?;
        seats.push(Seat {
            game_id: provider.game_id.clone(),
            session_token,
        });
    }
    let deposit_minor = rng.gen_range(20..=100) * 1_000;
    let mut player = SimPlayer::new(id, currency, scale, seats, rng);
    player.deposit(operator, deposit_minor, tally).await;
    Ok(player)
}
