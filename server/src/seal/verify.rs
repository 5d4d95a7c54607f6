//! `server verify-trail --seals FILE --public-key KEY`: proves that nothing a seal covers
//! was altered, even with every link and head in the database recomputed. The file is the
//! authority: each seal's signature must verify with the key and each must name the one
//! before it. The database must then give each seal's root from its stored leaves, and
//! every player's chain, recomputed from the postings' content, must reach each sealed
//! head after the sealed number of postings.
use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};

use super::{key, merkle, SealRecord};
use crate::db::entities::trail_seal_leaf;
use crate::error::ServiceError;
use crate::ledger::chain::{Anchor, ChainReader};

/// Where the seals and the database part ways.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmatched {
    /// The first seal (by number) that no longer matches.
    pub seal: i64,
    /// The player whose chain no longer reaches the sealed head, if it is a chain.
    pub player_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub seals_checked: u64,
    pub last_seal: Option<i64>,
    pub players_checked: u64,
    pub first_unmatched: Option<Unmatched>,
}

/// Reads a seal file: one JSON seal per line, blank lines ignored, and a last line
/// without its newline (an append cut short, see `make::SealFile`) left out.
pub fn read_file(text: &str) -> Result<Vec<SealRecord>, String> {
    let finished = match text.rfind('\n') {
        Some(at) => &text[..=at],
        None => "",
    };
    finished
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|error| format!("line {}: {error}", index + 1))
        })
        .collect()
}

/// Checks the seals against the database; read it in a snapshot while postings go on.
pub async fn verify(
    db: &impl ConnectionTrait,
    seals: &[SealRecord],
    public_key: &VerifyingKey,
) -> Result<Report, ServiceError> {
    let mut report = Report {
        seals_checked: seals.len() as u64,
        last_seal: seals.last().map(|seal| seal.seal),
        ..Report::default()
    };
    if let Some(found) = check_file(seals, public_key) {
        report.first_unmatched = Some(found);
        return Ok(report);
    }
    let Some(last) = report.last_seal else {
        return Ok(report);
    };
    let rows = trail_seal_leaf::Entity::find()
        .order_by_asc(trail_seal_leaf::Column::SealId)
        .all(db)
        .await?;
    let rows: Vec<_> = rows.into_iter().filter(|row| row.seal_id <= last).collect();
    let mut found = check_roots(seals, &rows);
    let (players, chain_found) = check_chains(db, &rows).await?;
    report.players_checked = players;
    if let Some(chain_found) = chain_found {
        if found.as_ref().is_none_or(|f| chain_found.seal < f.seal) {
            found = Some(chain_found);
        }
    }
    report.first_unmatched = found;
    Ok(report)
}

/// Signatures and the chain of `previous` digests, in file order.
fn check_file(seals: &[SealRecord], public_key: &VerifyingKey) -> Option<Unmatched> {
    let problem = |seal: i64, reason: String| {
        Some(Unmatched {
            seal,
            player_id: None,
            reason,
        })
    };
    let mut before: Option<&SealRecord> = None;
    for seal in seals {
        if !key::verifies(public_key, &seal.message(), &seal.signature) {
            return problem(
                seal.seal,
                "the seal is not signed by the given key (another key, or an edited seal)".into(),
            );
        }
        let follows = match before {
            None if seal.seal == 1 => seal.previous == crate::ledger::chain::GENESIS,
            // A file that starts later (an older part archived) is checked from its first seal.
            None => true,
            Some(before) => seal.seal == before.seal + 1 && seal.previous == before.digest(),
        };
        if !follows {
            return problem(
                seal.seal,
                format!(
                    "the seal does not follow the one before it in the file{}",
                    before.map_or(String::new(), |b| format!(" (seal {})", b.seal))
                ),
            );
        }
        before = Some(seal);
    }
    None
}

/// Rebuilds each seal's leaf set from the stored leaves and compares its root and counts.
fn check_roots(seals: &[SealRecord], rows: &[trail_seal_leaf::Model]) -> Option<Unmatched> {
    let mut leaves: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
    let mut rows = rows.iter().peekable();
    for seal in seals {
        while let Some(row) = rows.next_if(|row| row.seal_id <= seal.seal) {
            leaves.insert(&row.player_id, (row.postings, &row.head));
        }
        let found = merkle::summarise(
            leaves
                .iter()
                .map(|(id, (postings, head))| (*id, *postings, *head)),
        );
        if (found.root.as_str(), found.players, found.postings)
            != (seal.root.as_str(), seal.players, seal.postings)
        {
            return Some(Unmatched {
                seal: seal.seal,
                player_id: None,
                reason: "the leaves the database keeps for this seal do not give its signed \
                         root (sealed leaves were altered or removed)"
                    .into(),
            });
        }
    }
    None
}

const NOT_REACHED: &str =
    "the chain, recomputed from the postings, no longer reaches the sealed head";

/// Walks each sealed player's chain once, from the genesis, and compares the link after
/// each sealed number of postings with the sealed head. Returns the players walked and
/// the earliest seal that a chain no longer reaches.
async fn check_chains(
    db: &impl ConnectionTrait,
    rows: &[trail_seal_leaf::Model],
) -> Result<(u64, Option<Unmatched>), ServiceError> {
    let mut by_player: HashMap<&str, Vec<&trail_seal_leaf::Model>> = HashMap::new();
    for row in rows {
        by_player.entry(&row.player_id).or_default().push(row);
    }
    let mut first: Option<Unmatched> = None;
    for (player_id, mut leaves) in by_player.iter().map(|(id, l)| (*id, l.clone())) {
        leaves.sort_by_key(|leaf| (leaf.postings, leaf.seal_id));
        let account = crate::ledger::player_account(player_id);
        let mut chain = ChainReader::new(&account, &Anchor::genesis());
        let mut steps = Vec::new().into_iter();
        let mut pending = leaves.into_iter().peekable();
        let mut position = 0i64;
        let mut link = crate::ledger::chain::GENESIS.to_owned();
        let reason = loop {
            // Every leaf sealed at this many postings must carry the link reached here.
            if let Some(leaf) = pending.next_if(|leaf| leaf.postings == position) {
                if leaf.head != link {
                    break Some((leaf.seal_id, NOT_REACHED));
                }
                continue;
            }
            let Some(next_leaf) = pending.peek() else {
                break None;
            };
            let step = match steps.next() {
                Some(step) => step,
                None => {
                    steps = chain.next_page(db).await?.into_iter();
                    match steps.next() {
                        Some(step) => step,
                        None => {
                            break Some((
                                next_leaf.seal_id,
                                "the chain holds fewer postings than sealed",
                            ))
                        }
                    }
                }
            };
            match step.link {
                Some(next) => {
                    position += 1;
                    link = next;
                }
                None => {
                    break Some((
                        next_leaf.seal_id,
                        "a sealed posting no longer has exactly one counter entry",
                    ))
                }
            }
        };
        if let Some((seal, why)) = reason {
            if first.as_ref().is_none_or(|f| seal < f.seal) {
                first = Some(Unmatched {
                    seal,
                    player_id: Some(player_id.to_owned()),
                    reason: why.to_owned(),
                });
            }
        }
    }
    Ok((by_player.len() as u64, first))
}
