#!/usr/bin/env bash
# Sets up, builds and runs oncewallet (release build) on this machine.
# The server reads its configuration from the environment: DATABASE_URL (default a
# SQLite file under ./data), LEPTOS_SITE_ADDR (default 127.0.0.1:3000),
# WALLET_OPERATOR_TOKEN (generated and printed when unset), RUST_LOG, and
# LEPTOS_SITE_ROOT (default target/site, where build-site.sh writes the bundle).
set -euo pipefail

cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build-site.sh

export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
export RUST_LOG="${RUST_LOG:-info}"
printf '==> run: cargo run --release -p server\n'
exec cargo run --release -p server
