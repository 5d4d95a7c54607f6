//! SeaORM entities, one per table of `migrations/`. Kept apart from the domain code: these
//! are the rows as stored, the domain types are what the code reasons with.
pub mod approval_request;
pub mod attempt;
pub mod attempt_counter;
pub mod discrepancy;
pub mod game_session;
pub mod ledger_entry;
pub mod pam_bet_ref;
pub mod player;
pub mod provider;
pub mod provider_key;
pub mod provider_report;
pub mod reconciliation_run;
pub mod round;
pub mod staff_audit;
pub mod staff_session;
pub mod staff_user;
pub mod tombstone;
pub mod trail_checkpoint;
pub mod trail_seal;
pub mod trail_seal_leaf;
pub mod wallet_transaction;
pub mod webhook;
pub mod webhook_delivery;
