//! Seals of the trail: on a schedule and on demand, a Merkle root over every player's
//! chain head and posting count, signed with an Ed25519 key that lives outside the
//! database, stored in the database and appended to a file. Someone who can write the
//! database can recompute every link of the hash chain (`ledger::chain`) after editing an entry;
//! they cannot sign a new seal. Design and file formats: docs/TRAIL.md.
pub mod cli;
pub mod key;
pub mod make;
pub mod merkle;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use key::SealKey;
pub use make::{recent, seal_now, spawn_schedule, SealError};

/// The hourly default of `WALLET_SEAL_INTERVAL_SECS`.
pub const DEFAULT_INTERVAL_SECS: u64 = 3600;

/// One seal, as appended to the seal file (one JSON object per line) and kept in
/// `trail_seals.record`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealRecord {
    /// Numbered from 1 without gaps.
    pub seal: i64,
    /// RFC 3339, UTC, milliseconds.
    pub sealed_at: String,
    /// Players with at least one posting, and the postings of all of them.
    pub players: i64,
    pub postings: i64,
    /// The Merkle root of the leaves (`merkle`), hex.
    pub root: String,
    /// The digest of the seal before ([`SealRecord::digest`]); the genesis link for seal 1.
    /// A seal removed from the file shows as a gap in this chain.
    pub previous: String,
    /// The public key that signed it, hex.
    pub public_key: String,
    /// Ed25519 over [`SealRecord::message`], hex.
    pub signature: String,
}

impl SealRecord {
    /// What the signature covers: every field but the key and the signature.
    pub fn message(&self) -> String {
        format!(
            "oncewallet-seal-v1|{}|{}|{}|{}|{}|{}",
            self.seal, self.sealed_at, self.players, self.postings, self.root, self.previous
        )
    }

    /// What the next seal names as `previous`.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.message().as_bytes());
        hasher.update(b"|");
        hasher.update(self.signature.as_bytes());
        hex::encode(hasher.finalize())
    }

    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("a seal record serialises")
    }
}

/// The server's sealing settings; `None` in the state when no key is given.
#[derive(Clone)]
pub struct Sealing {
    pub key: Arc<SealKey>,
    /// The file every seal is appended to.
    pub file: PathBuf,
    /// `None`: only on demand.
    pub interval: Option<Duration>,
    /// One seal at a time in this process (several processes race on the seal's number).
    pub(crate) running: Arc<tokio::sync::Mutex<()>>,
}

impl Sealing {
    pub fn new(key: SealKey, file: PathBuf, interval: Option<Duration>) -> Sealing {
        Sealing {
            key: Arc::new(key),
            file,
            interval,
            running: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}
