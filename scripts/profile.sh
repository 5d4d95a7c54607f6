#!/usr/bin/env bash
# Where the time goes during one bench scenario, as docs/PERFORMANCE.md reports it:
#
#   scripts/profile.sh [sqlite|postgres] [first|replay|hot|mixed]
#
# Starts the release server (target/release/server, built by scripts/bench.sh) on a fresh
# database, loads it with `server bench` (64 clients, 14 s), and in the middle of the run
# prints the cores used by the wallet, the load generator and (PostgreSQL) the database's
# processes over 5 s, then `perf record -g` of the wallet for 5 s, top symbols first.
# perf comes from Debian's linux-perf; without it only the core counts are printed.
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/lib.sh
engine=${1:-sqlite}
scenario=${2:-first}
bin=target/release/server
[ -x "$bin" ] || { echo "no $bin: run scripts/bench.sh (or cargo build --release -p server) first" >&2; exit 1; }
tmp_root="$(mktemp -d -t oncewallet-profile.XXXXXX)"
server_pid=""

cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    stop_pg_cluster "$tmp_root/pg"
    rm -rf "$tmp_root"
}
trap cleanup EXIT

port="$(free_port)"
case "$engine" in
    sqlite) url="sqlite://$tmp_root/wallet.db?mode=rwc" ;;
    postgres)
        pg_port="$(free_port)"
        start_pg_cluster "$tmp_root/pg" "$pg_port" 300 >/dev/null
        url="postgres://postgres@127.0.0.1:$pg_port/postgres"
        ;;
    *) echo "engine: sqlite or postgres" >&2; exit 2 ;;
esac

DATABASE_URL="$url" LEPTOS_SITE_ADDR="127.0.0.1:$port" WALLET_OPERATOR_TOKEN=profile-token \
WALLET_ADMIN_PASSWORD=profile-admin-password WALLET_DEMO=0 WALLET_RECONCILE_INTERVAL_SECS=0 \
RUST_LOG=warn "$bin" >"$tmp_root/server.log" 2>&1 &
server_pid=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp_root/server.log"; exit 1; }
    sleep 0.5
done
"$bin" bench --target "http://127.0.0.1:$port" --operator-token profile-token --clients 64 \
    --duration 14 --scenario "$scenario" --players 2000 >"$tmp_root/bench.log" 2>&1 &
bench_pid=$!
sleep 5   # provisioning, and the scenario under way

# CPU ticks (user + system) of the given processes, from /proc/PID/stat.
ticks() { cat "$@" 2>/dev/null | awk '{ sum += $14 + $15 } END { print sum + 0 }'; }
db_stats() { for pid in $(pgrep -u postgres -x postgres 2>/dev/null); do echo "/proc/$pid/stat"; done; }
before=("$(ticks "/proc/$server_pid/stat")" "$(ticks "/proc/$bench_pid/stat")" "$(ticks $(db_stats))")
started=$EPOCHREALTIME
sleep 5
after=("$(ticks "/proc/$server_pid/stat")" "$(ticks "/proc/$bench_pid/stat")" "$(ticks $(db_stats))")
awk -v s="$started" -v e="$EPOCHREALTIME" -v hz="$(getconf CLK_TCK)" -v engine="$engine" \
    -v w=$((after[0] - before[0])) -v b=$((after[1] - before[1])) -v d=$((after[2] - before[2])) \
    -v cores="$(nproc)" \
    'BEGIN { t = (e - s) * hz; printf "cores used over 5 s: wallet %.2f, load generator %.2f", w / t, b / t;
             if (engine == "postgres") printf ", PostgreSQL %.2f", d / t; print " (of " cores ")" }'
if command -v perf >/dev/null; then
    perf record -F 499 -g -p "$server_pid" -o "$tmp_root/perf.data" -- sleep 5 >/dev/null 2>&1
fi
wait "$bench_pid" || true
grep -E "^($scenario|verification)" "$tmp_root/bench.log"
if [ -f "$tmp_root/perf.data" ]; then
    echo "==> the wallet's hottest symbols (perf, no children):"
    perf report -i "$tmp_root/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -25 | cut -c1-120
fi
