#!/usr/bin/env bash
# Sets up, builds and runs oncewallet (release build) with demo traffic on SQLite.
# The server reads its configuration from the environment (README, "Configuration");
# this script only picks defaults that suit a first look:
#   - RUST_LOG: one line per problem, not one per request (the demo sends ~20 a second);
#   - WALLET_ORPHAN_AFTER_SECS / WALLET_RECONCILE_INTERVAL_SECS: the demo's abandoned
#     rounds show up as pending rollbacks within minutes instead of half an hour.
# Set any of them yourself to override; WALLET_DEMO=0 turns the demo traffic off.
set -euo pipefail

cd "$(dirname "$0")/.."

scripts/setup.sh run
scripts/build-site.sh

export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
export RUST_LOG="${RUST_LOG:-info,server::http::request_id=warn}"
export WALLET_ORPHAN_AFTER_SECS="${WALLET_ORPHAN_AFTER_SECS:-120}"
export WALLET_RECONCILE_INTERVAL_SECS="${WALLET_RECONCILE_INTERVAL_SECS:-60}"
printf '==> run: cargo run --release -p server (the first release build takes 6-15 minutes on 2 cores)\n'
exec cargo run --release -p server
