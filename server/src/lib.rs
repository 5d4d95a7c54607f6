//! oncewallet: a casino wallet whose money operations count exactly once.
pub mod config;
pub mod db;
pub mod docs_ui;
pub mod domain;
pub mod error;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod ledger;
pub mod openapi;
pub mod operator;
pub mod site;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod trace;
pub mod wallet;
