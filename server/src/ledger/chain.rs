//! The tamper-evident trail: each player's ledger postings form a hash chain in commit
//! order. A posting's link is `SHA-256(previous link, the posting's content)`; it is
//! stored on the player's entry, and the player row keeps the head. Editing, deleting or
//! inserting a ledger entry behind the wallet's back breaks the chain, and
//! [`verify`] names the first link that no longer verifies.
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IsolationLevel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use sha2::{Digest, Sha256};

use crate::db::entities::{ledger_entry, player};
use crate::error::ServiceError;

/// The link before a player's first posting.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Players verified per page, and entries read per query.
const PAGE: u64 = 500;

/// What a posting commits to. Timestamps are left out: the databases store them at
/// different precisions, and the order of the chain already fixes the sequence.
pub struct Posting<'a> {
    pub wallet_tx_id: i64,
    pub player_account: &'a str,
    pub player_delta: i64,
    pub balance_after: i64,
    pub counter_account: &'a str,
    pub counter_delta: i64,
    pub currency: &'a str,
}

pub fn link(previous: &str, posting: &Posting<'_>) -> String {
    let content = format!(
        "v1|{previous}|{}|{}|{}|{}|{}|{}|{}",
        posting.wallet_tx_id,
        posting.player_account,
        posting.player_delta,
        posting.balance_after,
        posting.counter_account,
        posting.counter_delta,
        posting.currency
    );
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// The first place where the trail does not verify.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Break {
    pub player_id: String,
    /// The ledger entry whose link is wrong, or `None` when the head does not match.
    pub entry_id: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub players_checked: u64,
    pub postings_checked: u64,
    pub first_break: Option<Break>,
}

/// Where a verified stretch of a chain ends: the last entry whose link verified, and
/// that link. The reconciliation job keeps one per player as its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// 0 before the first posting.
    pub entry_id: i64,
    pub link: String,
}

impl Anchor {
    pub fn genesis() -> Anchor {
        Anchor {
            entry_id: 0,
            link: GENESIS.to_owned(),
        }
    }
}

/// The money on the postings a walk read, so that the reconciliation job checks the
/// ledger's sums on the postings it walks anyway instead of aggregating the whole ledger on
/// every run (docs/API.md, "Incremental runs").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// The sum of the player's entries up to the last posting read: the sum at the start
    /// point plus every amount walked.
    pub balance: i64,
    /// The first player entry whose `balance_after` is not that running sum (the start
    /// point's own entry included).
    pub first_wrong_balance: Option<i64>,
    /// Postings whose two entries do not sum to zero.
    pub unbalanced: Vec<Unbalanced>,
}

/// A posting whose player entry and counter entry do not sum to zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbalanced {
    pub entry_id: i64,
    pub wallet_transaction_id: i64,
    pub sum: i64,
}

/// The outcome of verifying one player's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chain {
    /// Every link from the start point verified and the last one is the player's head.
    Verified {
        end: Anchor,
        postings: u64,
        money: Tally,
    },
    Broken {
        found: Break,
        postings: u64,
    },
}

/// Walks every player's chain; stops at the first break. Reads in several queries: run it
/// in a snapshot (a repeatable-read transaction) when postings may arrive meanwhile, or
/// a posting committed between two reads looks like a head that does not match.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Report, ServiceError> {
    let mut report = Report::default();
    let mut after = String::new();
    loop {
        let players = player::Entity::find()
            .filter(player::Column::Id.gt(after.as_str()))
            .order_by_asc(player::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = players.last() else {
            return Ok(report);
        };
        after = last.id.clone();
        for player in &players {
            report.players_checked += 1;
            match verify_player(db, player, &Anchor::genesis(), 0).await? {
                Chain::Verified { postings, .. } => report.postings_checked += postings,
                Chain::Broken { found, postings } => {
                    report.postings_checked += postings;
                    report.first_break = Some(found);
                    return Ok(report);
                }
            }
        }
    }
}

/// Verifies one player's chain from `from` (the genesis, or a checkpoint verified before)
/// to the head on the player row, and adds up the money on the way from `balance_at_from`,
/// the sum of the player's entries up to `from` (0 at the genesis). From a checkpoint, the
/// checkpointed entry must still carry its link and that balance after it; entries before
/// it are not read again.
pub async fn verify_player(
    db: &impl ConnectionTrait,
    player: &player::Model,
    from: &Anchor,
    balance_at_from: i64,
) -> Result<Chain, ServiceError> {
    let account = super::accounts::player_account(&player.id);
    let mut postings = 0;
    let broken = |entry_id: Option<i64>, reason: &str, postings: u64| Chain::Broken {
        found: Break {
            player_id: player.id.clone(),
            entry_id,
            reason: reason.to_owned(),
        },
        postings,
    };
    let mut money = Tally {
        balance: balance_at_from,
        ..Tally::default()
    };
    if from.entry_id > 0 {
        let anchor = ledger_entry::Entity::find_by_id(from.entry_id)
            .one(db)
            .await?
            .filter(|entry| {
                entry.account == account && entry.chain_hash.as_deref() == Some(from.link.as_str())
            });
        let Some(anchor) = anchor else {
            return Ok(broken(
                Some(from.entry_id),
                "the last verified entry was changed or removed",
                0,
            ));
        };
        if anchor.balance_after_minor != Some(balance_at_from) {
            money.first_wrong_balance = Some(anchor.id);
        }
    }
    let mut chain = ChainReader::new(&account, from);
    let mut previous = from.clone();
    loop {
        let steps = chain.next_page(db).await?;
        if steps.is_empty() {
            break;
        }
        for step in steps {
            postings += 1;
            let Some(expected) = step.link else {
                return Ok(broken(
                    Some(step.entry.id),
                    "the posting does not have exactly one counter entry",
                    postings,
                ));
            };
            if step.entry.chain_hash.as_deref() != Some(expected.as_str()) {
                return Ok(broken(
                    Some(step.entry.id),
                    "the entry's link does not match its content and predecessor",
                    postings,
                ));
            }
            money.balance += step.entry.amount_minor;
            if step.entry.balance_after_minor != Some(money.balance) {
                money.first_wrong_balance.get_or_insert(step.entry.id);
            }
            let sum = step.entry.amount_minor + step.counter_delta;
            if sum != 0 {
                money.unbalanced.push(Unbalanced {
                    entry_id: step.entry.id,
                    wallet_transaction_id: step.entry.wallet_transaction_id,
                    sum,
                });
            }
            previous = Anchor {
                entry_id: step.entry.id,
                link: expected,
            };
        }
    }
    let head = player.ledger_head.as_deref().unwrap_or(GENESIS);
    if head != previous.link {
        return Ok(broken(
            None,
            "the player's chain head does not match the last entry",
            postings,
        ));
    }
    Ok(Chain::Verified {
        end: previous,
        postings,
        money,
    })
}

/// One posting of a chain as read back: the player's entry, its counter entry's amount,
/// and the link that their content and the computed link before it give (`None` when the
/// posting does not have exactly one counter entry, where the walk stops; the amount is 0
/// then).
pub struct Step {
    pub entry: ledger_entry::Model,
    pub counter_delta: i64,
    pub link: Option<String>,
}

/// Reads a player's chain page by page from an anchor, computing each link from the
/// postings' content, never from the links stored beside them: what the stored links say
/// is for the caller to compare.
pub struct ChainReader {
    account: String,
    previous: Anchor,
    more: bool,
}

impl ChainReader {
    pub fn new(account: &str, from: &Anchor) -> ChainReader {
        ChainReader {
            account: account.to_owned(),
            previous: from.clone(),
            more: true,
        }
    }

    /// The next postings in commit order; empty once the chain ends (or stopped at a
    /// posting without exactly one counter entry).
    pub async fn next_page(
        &mut self,
        db: &impl ConnectionTrait,
    ) -> Result<Vec<Step>, ServiceError> {
        if !self.more {
            return Ok(Vec::new());
        }
        let entries = ledger_entry::Entity::find()
            .filter(ledger_entry::Column::Account.eq(self.account.as_str()))
            .filter(ledger_entry::Column::Id.gt(self.previous.entry_id))
            .order_by_asc(ledger_entry::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        // A short page is the last one: no query for the empty page after it.
        self.more = entries.len() as u64 == PAGE;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let tx_ids: Vec<i64> = entries.iter().map(|e| e.wallet_transaction_id).collect();
        let counters = ledger_entry::Entity::find()
            .filter(ledger_entry::Column::WalletTransactionId.is_in(tx_ids))
            .filter(ledger_entry::Column::Account.ne(self.account.as_str()))
            .all(db)
            .await?;
        let mut steps = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut counter = counters
                .iter()
                .filter(|c| c.wallet_transaction_id == entry.wallet_transaction_id);
            let (Some(counter), None) = (counter.next(), counter.next()) else {
                self.more = false;
                steps.push(Step {
                    entry,
                    counter_delta: 0,
                    link: None,
                });
                return Ok(steps);
            };
            let expected = link(
                &self.previous.link,
                &Posting {
                    wallet_tx_id: entry.wallet_transaction_id,
                    player_account: &entry.account,
                    player_delta: entry.amount_minor,
                    balance_after: entry.balance_after_minor.unwrap_or_default(),
                    counter_account: &counter.account,
                    counter_delta: counter.amount_minor,
                    currency: &entry.currency,
                },
            );
            self.previous = Anchor {
                entry_id: entry.id,
                link: expected.clone(),
            };
            steps.push(Step {
                entry,
                counter_delta: counter.amount_minor,
                link: Some(expected),
            });
        }
        Ok(steps)
    }
}

/// A read-only transaction that sees one state of the database for all its reads, so a
/// chain and its head are read as they were at one moment while postings go on.
/// (SQLite's read transactions are snapshots anyway; PostgreSQL needs REPEATABLE READ.)
pub async fn snapshot(store: &crate::db::Store) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    match store.engine() {
        crate::db::Engine::Postgres => {
            store
                .reader()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await
        }
        crate::db::Engine::Sqlite => store.reader().begin().await,
    }
}

/// `server verify-trail`: walks the whole trail, prints the report as JSON, and exits
/// with 1 when a link does not verify.
pub async fn run_cli(database_url: &str) -> anyhow::Result<i32> {
    let store = crate::db::Store::connect(database_url, Default::default()).await?;
    let db = snapshot(&store).await?;
    let report = verify(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(match &report.first_break {
        None => {
            eprintln!(
                "trail verified: {} players, {} postings",
                report.players_checked, report.postings_checked
            );
            0
        }
        Some(found) => {
            eprintln!(
                "trail BROKEN for player {} at entry {:?}: {}",
                found.player_id, found.entry_id, found.reason
            );
            1
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posting(delta: i64) -> Posting<'static> {
        Posting {
            wallet_tx_id: 7,
            player_account: "player:p",
            player_delta: delta,
            balance_after: 100,
            counter_account: "provider:x:EUR",
            counter_delta: -delta,
            currency: "EUR",
        }
    }

    #[test]
    fn links_depend_on_content_and_predecessor() {
        let a = link(GENESIS, &posting(5));
        assert_eq!(a.len(), 64);
        assert_eq!(a, link(GENESIS, &posting(5)));
        assert_ne!(a, link(GENESIS, &posting(6)));
        assert_ne!(a, link(&a, &posting(5)));
    }
}
