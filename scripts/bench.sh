#!/usr/bin/env bash
# Measures the wallet as docs/PERFORMANCE.md reports it: a release build of the server on a
# fresh SQLite file and on a throwaway PostgreSQL cluster (durable settings: SQLite WAL with
# every commit fsynced before it is answered, PostgreSQL's defaults with fsync on), each loaded by `server bench`
# with every scenario and the database's own baseline in the same run.
#
#   scripts/bench.sh [CLIENTS] [SECONDS] [sqlite|postgres|both]     (SKIP_BUILD=1: no cargo build)
#   ROUNDS=N (default 3): the scenarios and /healthz run N times in turn, SECONDS each
#       (default 5), and are judged by their totals, so that the machine's drift from one
#       minute to the next weighs on every scenario alike (docs/PERFORMANCE.md).
#   AT_SCALE=1000000 scripts/bench.sh ...   first seeds each database with that many
#       transactions and times reconciliation, verify-trail and the console's queries on
#       it, then runs the load against the seeded database (about 4.5 GB per million).
#
# Figures go to target/bench/<engine>.json and the terminal; the server's peak RSS is
# printed after each run. Not part of scripts/test.sh: it takes minutes and timings on a
# shared machine are noisy (compare the same-run ratios, not absolute figures).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/lib.sh
clients=${1:-64}
seconds=${2:-5}
rounds=${ROUNDS:-3}
engines=${3:-both}
out=target/bench
bin=target/release/server
token=bench-operator-token
tmp_root="$(mktemp -d -t oncewallet-bench.XXXXXX)"
server_pid=""
pg_dir=""

cleanup() {
    local status=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [ -z "$pg_dir" ] || stop_pg_cluster "$pg_dir"
    rm -rf "$tmp_root"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts the release server on $1 (DATABASE_URL) and waits for /healthz.
start_server() {
    start_wallet "$bin" "$1" "$tmp_root/server.log" "$token" \
        WALLET_ADMIN_PASSWORD="bench-admin-password" WALLET_RECONCILE_INTERVAL_SECS=0 RUST_LOG=warn
    target=$server_url
}

stop_server() {
    echo "server peak RSS: $(grep VmHWM "/proc/$server_pid/status" | awk '{print $2, $3}')"
    stop_wallet
}

# Runs "$@" and prints how long it took under the label $1.
timed() {
    local label=$1 started=$EPOCHREALTIME
    shift
    "$@"
    awk -v a="$started" -v b="$EPOCHREALTIME" -v l="$label" 'BEGIN { printf "==> %s: %.2f s\n", l, b - a }'
}

# The figures at scale: seed, reconciliation (the first run walks every hash chain, the
# second only what changed, --full all of them again), verify-trail, the console.
at_scale() {
    local url=$1
    echo "======== $AT_SCALE transactions ========"
    timed "seed" "$bin" seed --database-url "$url" --transactions "$AT_SCALE"
    DATABASE_URL="$url" timed "reconcile, first run" "$bin" reconcile
    DATABASE_URL="$url" timed "reconcile, incremental" "$bin" reconcile
    DATABASE_URL="$url" timed "reconcile --full" "$bin" reconcile --full
    DATABASE_URL="$url" timed "verify-trail" "$bin" verify-trail
    "$bin" bench console --database-url "$url" --repeat 5
}

bench() {
    local engine=$1 url=$2
    [ -z "${AT_SCALE:-}" ] || at_scale "$url"
    echo "======== $engine: $clients clients, $rounds rounds of $seconds s per scenario ========"
    start_server "$url"
    "$bin" bench --target "$target" --operator-token "$token" --clients "$clients" \
        --duration "$seconds" --rounds "$rounds" --scenario all --database-url "$url" --baseline \
        --json "$out/$engine.json" || status=$?
    stop_server
}

start_postgres() {
    local port
    pg_dir="$tmp_root/postgres"
    port="$(free_port)"
    start_pg_cluster "$pg_dir" "$port" 300
    as_pg_owner "$(newest_pg_bin)/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE wallet"
    pg_url="postgres://postgres@127.0.0.1:$port/wallet"
}

# SKIP_BUILD=1 measures the release binary as it is.
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p server
mkdir -p "$out"
status=0
if [ "$engines" != postgres ]; then
    bench sqlite "sqlite://$tmp_root/wallet.db?mode=rwc"
fi
if [ "$engines" != sqlite ]; then
    start_postgres
    bench postgres "$pg_url"
fi
exit "$status"
