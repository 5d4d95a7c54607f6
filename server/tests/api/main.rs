//! The wallet's integration tests: one binary, one module per feature. Every test starts
//! the real server on port 0 with a fresh database (SQLite, or PostgreSQL when
//! `ONCEWALLET_TEST_PG_URL` is set) and talks to it over HTTP like a provider would.

mod helpers;

mod accounts;
mod approvals;
mod auth;
mod backup;
mod bad_input;
mod balance;
mod bench;
mod bet;
mod cli;
mod concurrency;
mod console;
mod counters;
mod crash;
mod dashboard;
mod durability;
mod events;
mod examples;
mod exports;
mod findings_api;
mod full_disk;
mod headers;
mod hostile;
mod lookups;
mod metrics;
mod mfa;
mod model;
mod node;
mod nodes;
mod operator;
mod outage;
mod pam;
mod pam_workload;
mod pg_cluster;
mod process;
mod reconcile;
mod refunds;
mod rollback;
mod rounds;
mod seals;
mod secrets;
mod seed;
mod sessions;
mod simulate;
mod staff;
mod statements;
mod trail;
mod win;
mod workload;
