#!/usr/bin/env bash
# Measures the wallet as the issue's first figures were taken: pre-signed requests sent
# by wrk (a load generator in C), 64 connections, the release build, durable settings,
# each figure beside its floor measured in the same run (docs/PERFORMANCE.md, "Measured
# with wrk").
#
#   scripts/wrk.sh [sqlite|postgres|both] [SECONDS]      (SKIP_BUILD=1: no cargo build)
#
# SECONDS (default 10) per pass, at most 100: the bets' signatures last five minutes and
# `first` and `replay` send the same ones.
#
# For each engine, on a fresh database: `server bench presign` provisions 10,000 players
# and writes signed bets; wrk sends each once (`first`), then the ones it sent again
# (`replay`), then bets on one player (`hot`), then loads /healthz, and the wallet's own
# counts of first executions and replays must match what wrk sent; `server bench
# --scenario all --baseline` then runs this binary's own load generator on the same
# binary with a fresh database, with the engine's floor (the wallet's writes on one synchronous SQLite
# connection, or pgbench TPC-B). Prints each rate, wrk's p50 and p99, the CPU per request
# of the wallet and of wrk, wrk's ratios and the bench's beside them. Installs wrk from
# Debian if missing.
# Not part of scripts/test.sh: timings on a shared machine are noisy.
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/lib.sh
engines=${1:-both}
seconds=${2:-10}
usage() { echo "usage: scripts/wrk.sh [sqlite|postgres|both] [SECONDS, 1-100]" >&2; exit 2; }
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] && [ "$seconds" -le 100 ] || usage
case "$engines" in
    sqlite | postgres | both) ;;
    *) usage ;;
esac
connections=64
bin=target/release/server
token=wrk-operator-token
tmp_root="$(mktemp -d -t oncewallet-wrk.XXXXXX)"
server_pid=""
pg_dir=""

cleanup() {
    local status=$?
    [ -z "$server_pid" ] || stop_wallet
    [ -z "$pg_dir" ] || stop_pg_cluster "$pg_dir"
    rm -rf "$tmp_root"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! command -v wrk >/dev/null; then
    echo "==> installing wrk (Debian)"
    sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    sudo_if_needed apt-get install -y -qq wrk >/dev/null ||
        { sudo_if_needed apt-get update -qq && sudo_if_needed apt-get install -y -qq wrk >/dev/null; }
fi
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p server

# wrk's "Requests/sec" line, as a number.
rate_of() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
# Fails the run when wrk saw an answer that was not 2xx or 3xx, or a socket error.
clean_or_fail() {
    if grep -E 'Non-2xx or 3xx responses|Socket errors' "$1"; then
        echo "wrk: $2 had failed requests (above); the figures do not count" >&2
        exit 1
    fi
}

# The wallet's own count of bets answered 200 with outcome $1 (FIRST or REPLAY), from /metrics.
bets_answered() {
    curl -fsS "$server_url/metrics" | awk -v outcome="outcome=\"$1\"" '
        /^oncewallet_requests_total\{endpoint="\/wallet\/v1\/bet"/ && index($0, outcome) && /status="200"/ { n += $NF }
        END { print n + 0 }'
}
# The lines each wrk thread sent, one number a line (the Lua script prints them).
sent_per_thread() { awk '/^presigned thread/ { gsub(",", "", $5); print $5 }' "$1"; }
# wrk's count of the requests it sent, over its threads.
sent_by_wrk() { sent_per_thread "$1" | awk '{ n += $1 } END { print n + 0 }'; }
# Fails unless the wallet answered between $3 - $connections - 1 and $3 more bets with outcome
# $1 than the $2 it had answered before: wrk stops with up to one request a connection in
# flight, and before starting it asks its first thread's script for one request it never
# sends (to check the request's format), which that thread counted as sent.
answered_as() {
    local n
    n=$(($(bets_answered "$1") - $2))
    if [ "$n" -gt "$3" ] || [ "$n" -lt $(($3 - connections - 1)) ]; then
        echo "wrk sent $3 bets, the wallet answered $n with outcome $1" >&2
        exit 1
    fi
    echo "the wallet answered $n bets with outcome $1 (wrk sent $3)"
}

# CPU seconds the wallet's process has used (its /metrics).
wallet_cpu() { curl -fsS "$server_url/metrics" | awk '/^process_cpu_seconds_total / { print $2 }'; }
# CPU seconds PostgreSQL's server and its backends have used (0 without a cluster): the
# postmaster and its children, from /proc, in clock ticks of 1/100 s.
database_cpu() {
    local postmaster
    postmaster=$( [ -n "$pg_dir" ] && head -1 "$pg_dir/data/postmaster.pid" 2>/dev/null || true)
    [ -n "$postmaster" ] || { echo 0; return; }
    # Fields 14 and 15 are utime and stime; counted from the field after the ")" that ends
    # the command name.
    for pid in "$postmaster" $(pgrep -P "$postmaster"); do
        sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null
    done | awk '{ n += $12 + $13 } END { print n / 100 }'
}
# CPU seconds of this shell's finished children (wrk among them) in bash's `times` output $1
# (`times` must run in this shell itself, not in a command substitution's copy of it).
children_cpu() {
    awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] } print n }' "$1"
}

# Runs wrk with the given arguments into file $1, then prints the CPU each request cost
# the wallet and wrk (the machine's two cores carry both).
run_wrk() {
    local out=$1 wallet_before database_before requests
    shift
    wallet_before=$(wallet_cpu)
    database_before=$(database_cpu)
    times >"$tmp_root/times.before"
    wrk -t2 -c"$connections" -d"${seconds}s" "$@" >"$out"
    times >"$tmp_root/times.after"
    requests=$(awk '/requests in/ { print $1 }' "$out")
    awk -v w="$(wallet_cpu)" -v w0="$wallet_before" -v g="$(children_cpu "$tmp_root/times.after")" \
        -v g0="$(children_cpu "$tmp_root/times.before")" -v d="$(database_cpu)" -v d0="$database_before" \
        -v n="$requests" -v what="$(basename "$out" .txt)" 'BEGIN {
        printf "%s: cpu per request: wallet %.1f µs, wrk %.1f µs", what, (w - w0) * 1e6 / n, (g - g0) * 1e6 / n
        if (d > 0) printf ", PostgreSQL %.1f µs", (d - d0) * 1e6 / n
        printf "\n" }' \
        >>"$out"
    clean_or_fail "$out" "$(basename "$out" .txt)"
}

# Sends the pre-signed bets under prefix $1 with wrk, at most $3 lines of each file per
# pass (0: all), into $2.
send_presigned() {
    run_wrk "$2" --latency -s scripts/wrk/presigned.lua "$server_url" -- "$1" "$3"
}

# Fails when a pass that should send each line once started a file again.
sent_each_once() {
    if grep '^presigned thread' "$1" | grep -vq 'wrapped 0$'; then
        echo "wrk: $(basename "$1" .txt) ran out of pre-signed bets; raise the bets a second in measure()" >&2
        exit 1
    fi
}

measure() {
    local engine=$1 url=$2 bench_url=$3 requests
    echo "======== $engine: wrk, $connections connections, $seconds s ========"
    start_wallet "$bin" "$url" "$tmp_root/server.log" "$token" \
        WALLET_ADMIN_PASSWORD="wrk-admin-password" WALLET_RECONCILE_INTERVAL_SECS=0 RUST_LOG=warn
    # Enough bets that `first` never runs out: 40,000 a second is past both engines here.
    requests=$((40000 * seconds))
    "$bin" bench presign --target "$server_url" --operator-token "$token" \
        --requests "$requests" --files 2 --out "$tmp_root/bets"
    send_presigned "$tmp_root/bets" "$tmp_root/first.txt" 0
    sent_each_once "$tmp_root/first.txt"
    answered_as FIRST 0 "$(sent_by_wrk "$tmp_root/first.txt")"
    # Replays: each thread's lines up to the fewest one thread sent, less the requests that
    # may still have been in flight when wrk stopped (they may not have been executed).
    local sent
    sent=$(sent_per_thread "$tmp_root/first.txt" | sort -n | head -1)
    send_presigned "$tmp_root/bets" "$tmp_root/replay.txt" $((sent - connections))
    answered_as REPLAY 0 "$(sent_by_wrk "$tmp_root/replay.txt")"
    # One hot player: every bet on the same balance.
    local before
    before=$(bets_answered FIRST)
    "$bin" bench presign --target "$server_url" --operator-token "$token" --players 1 \
        --requests "$requests" --files 2 --out "$tmp_root/hot"
    send_presigned "$tmp_root/hot" "$tmp_root/hot.txt" 0
    sent_each_once "$tmp_root/hot.txt"
    answered_as FIRST "$before" "$(sent_by_wrk "$tmp_root/hot.txt")"
    run_wrk "$tmp_root/healthz.txt" "$server_url/healthz"
    echo "server peak RSS: $(grep VmHWM "/proc/$server_pid/status" | awk '{print $2, $3}')"
    stop_wallet
    # The bench on a fresh database too, so that both load generators start from the same.
    start_wallet "$bin" "$bench_url" "$tmp_root/server.log" "$token" \
        WALLET_ADMIN_PASSWORD="wrk-admin-password" WALLET_RECONCILE_INTERVAL_SECS=0 RUST_LOG=warn
    "$bin" bench --target "$server_url" --operator-token "$token" --clients "$connections" \
        --duration "$seconds" --scenario all --database-url "$bench_url" --baseline \
        --json "$tmp_root/bench.json" >"$tmp_root/bench.txt" || { cat "$tmp_root/bench.txt"; exit 1; }
    stop_wallet
    local first replay hot healthz floor bench_first
    first=$(rate_of "$tmp_root/first.txt")
    hot=$(rate_of "$tmp_root/hot.txt")
    replay=$(rate_of "$tmp_root/replay.txt")
    healthz=$(rate_of "$tmp_root/healthz.txt")
    bench_first=$(grep -E '^first +[0-9]+ clients' "$tmp_root/bench.txt" | awk '{ print $6 }')
    case "$engine" in
        sqlite) floor=$(grep -oE 'one synchronous connection: [0-9.]+' "$tmp_root/bench.txt" | awk '{ print $NF }') ;;
        postgres) floor=$(grep -oE 'pgbench[^:]*: [0-9.]+ t' "$tmp_root/bench.txt" | head -1 | awk '{ print $(NF-1) }') ;;
    esac
    cat "$tmp_root"/{first,replay,hot,healthz}.txt | grep 'cpu per request'
    echo "wrk first:   $first bets/s, $(grep '^presigned latency' "$tmp_root/first.txt" | cut -d: -f2-)"
    echo "wrk replay:  $replay replays/s, $(grep '^presigned latency' "$tmp_root/replay.txt" | cut -d: -f2-)"
    echo "wrk hot:     $hot bets/s, $(grep '^presigned latency' "$tmp_root/hot.txt" | cut -d: -f2-)"
    echo "wrk /healthz: $healthz requests/s"
    echo "server bench first (its own load generator, fresh database): $bench_first bets/s"
    echo "floor ($engine): ${floor:-?}/s"
    awk -v f="$first" -v r="$replay" -v h="$healthz" -v b="${floor:-0}" -v o="$hot" 'BEGIN {
        if (b > 0) printf "ratio wrk first / engine floor: %.2f\n", f / b
        printf "ratio wrk replay / wrk /healthz: %.2f\n", r / h
        printf "ratio wrk hot / wrk first: %.2f\n", o / f }'
    echo "server bench's own figures and ratios (fresh database, same binary):"
    grep -E '^(first|subscribed|replay|hot|mixed) +[0-9]+ clients|GET /healthz|^ratio ' \
        "$tmp_root/bench.txt" | sed 's/^/  /'
}

if [ "$engines" != postgres ]; then
    measure sqlite "sqlite://$tmp_root/wallet.db?mode=rwc" "sqlite://$tmp_root/bench.db?mode=rwc"
fi
if [ "$engines" != sqlite ]; then
    pg_dir="$tmp_root/postgres"
    port="$(free_port)"
    start_pg_cluster "$pg_dir" "$port" 300
    for database in wallet bench; do
        as_pg_owner "$(newest_pg_bin)/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE $database"
    done
    measure postgres "postgres://postgres@127.0.0.1:$port/wallet" "postgres://postgres@127.0.0.1:$port/bench"
fi
