#!/usr/bin/env bash
# The soak (docs/RELIABILITY.md, "The soak"): the release server under steady mixed
# traffic (bets, wins, rollbacks, closes, 5 % sent twice) at half the capacity measured
# just before, for an hour by default, on a SQLite file and a throwaway PostgreSQL cluster
# that start with a million transactions of history (`server seed`), as a wallet in
# service does: on an empty file the first minutes would measure a database that fits in
# any cache against one twenty times its size. Every minute it samples the server's RSS, open files and database size beside
# the minute's throughput and p99, and it ends with the bench's full verification
# (balances against the model, reconciliation, the ledger's invariants).
#
#   scripts/soak.sh [sqlite|postgres|both|together] [MINUTES]
#                                                         (SKIP_BUILD=1: no cargo build;
#                                                         SOAK_HISTORY=N: N transactions of
#                                                         history first, 0 for none)
#
# `both` soaks one engine after the other; `together` soaks both at once, each measuring
# its capacity beside the other and running at half of it (together about half of the
# machine), in half the time.
#
# Verdict: the mean RSS and the mean p99 of the last ten minutes within 10 % of the first
# ten after a minute of warm-up (runs under 25 minutes compare the first and last third).
# Tables and the verdict go to target/soak/<engine>.txt. Not part of scripts/test.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/lib.sh
engines=${1:-both}
# The commit the soak started from (the binary's, unless SKIP_BUILD kept an older one);
# read now, since commits made during a two-hour run would otherwise name the table.
build="$(git rev-parse --short HEAD)${SKIP_BUILD:+ (SKIP_BUILD: target/release/server as last built)}"
minutes=${2:-60}
clients=64
players=2000
history=${SOAK_HISTORY:-1000000}
bin=target/release/server
token=soak-operator-token
out=target/soak
tmp_root="$(mktemp -d -t oncewallet-soak.XXXXXX)"
server_pid=""
bench_pid=""
pg_dir=""

cleanup() {
    local status=$?
    for pid in "$bench_pid" "$server_pid" "${sqlite_soak:-}" "${postgres_soak:-}" "${follow:-}"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    [ -z "$pg_dir" ] || stop_pg_cluster "$pg_dir"
    rm -rf "$tmp_root"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case "$minutes" in '' | *[!0-9]*) echo "MINUTES: a whole number" >&2; exit 2 ;; esac
case "$history" in '' | *[!0-9]*) echo "SOAK_HISTORY: a whole number" >&2; exit 2 ;; esac
[ "$minutes" -ge 3 ] || { echo "MINUTES: at least 3" >&2; exit 2; }


# The database's size in bytes: SQLite's file and WAL, or PostgreSQL's database.
database_bytes() {
    local url=$1
    if [ "${url#sqlite:}" != "$url" ]; then
        local file=${url#sqlite://}
        file=${file%%\?*}
        echo $(( $(stat -c %s "$file") + $(stat -c %s "$file-wal" 2>/dev/null || echo 0) ))
    else
        as_pg_owner "$(newest_pg_bin)/psql" -X -At -h 127.0.0.1 -p "$pg_port" -U postgres -d wallet \
            -c "SELECT pg_database_size('wallet')"
    fi
}

soak() {
    local engine=$1 url=$2 capacity rate status=0
    local log="$tmp_root/$engine-bench.log" samples="$tmp_root/$engine-samples.txt"
    echo "======== $engine: capacity, then $minutes min at half of it ========"
    if [ "$history" -gt 0 ]; then
        echo "seeding $history transactions of history"
        "$bin" seed --database-url "$url" --transactions "$history" --run-tag soak-history \
            >"$tmp_root/$engine-seed.log" 2>&1 || { cat "$tmp_root/$engine-seed.log" >&2; return 1; }
        # The first reconciliation is a full pass; made here, as a wallet in service made it
        # long ago, so that the soak's own runs are the incremental ones of every day.
        "$bin" reconcile --database-url "$url" >"$tmp_root/$engine-reconcile.log" 2>&1 ||
            { cat "$tmp_root/$engine-reconcile.log" >&2; return 1; }
    fi
    # With `together`, each engine waits here for the other, so that both measure their
    # capacity, and soak, beside each other.
    touch "$tmp_root/ready-$engine"
    if [ "$engines" = together ]; then
        until [ -e "$tmp_root/ready-sqlite" ] && [ -e "$tmp_root/ready-postgres" ]; do sleep 1; done
    fi
    start_wallet "$bin" "$url" "$tmp_root/$engine-server.log" "$token" \
        WALLET_ADMIN_PASSWORD="soak-admin-password" RUST_LOG=warn
    target=$server_url
    capacity="$("$bin" bench --target "$target" --operator-token "$token" --clients "$clients" \
        --players "$players" --scenario mixed --duration 20 |
        sed -n 's/^mixed .*(\([0-9]*\) operations\/s).*/\1/p')" || true
    if [ -z "$capacity" ]; then
        echo "could not measure the capacity" >&2
        stop_wallet
        return 1
    fi
    rate=$((capacity / 2))
    echo "capacity (mixed, $clients clients): $capacity operations/s; the soak runs at $rate"
    "$bin" bench --target "$target" --operator-token "$token" --clients "$clients" \
        --players "$players" --scenario mixed --duration "$((minutes * 60))" --rate "$rate" \
        --report-every 60 --database-url "$url" >"$log" 2>&1 &
    bench_pid=$!
    : >"$samples"
    # Minutes are counted from the end of provisioning, as the bench's windows are.
    until grep -q '^provisioned' "$log" 2>/dev/null; do
        kill -0 "$bench_pid" 2>/dev/null || break
        sleep 1
    done
    for minute in $(seq 1 "$minutes"); do
        sleep 60
        kill -0 "$bench_pid" 2>/dev/null || break
        printf '%s %s %s %s\n' "$minute" \
            "$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")" \
            "$(find "/proc/$server_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)" \
            "$(database_bytes "$url")" >>"$samples"
        # Anonymous (heap) against file-backed (binary, shared libraries) memory: which
        # of the two grows says where to look.
        echo "minute $minute: $(grep '^window' "$log" | tail -n 1) RSS $(tail -n 1 "$samples" | awk '{printf "%.0f MB", $2 / 1024}')" \
            "($(awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "anon %.1f MB, file %.1f MB", a / 1024, f / 1024}' "/proc/$server_pid/status"))"
    done
    wait "$bench_pid" || status=$?
    bench_pid=""
    stop_wallet
    summarise "$engine" "$log" "$samples" "$capacity" "$rate" >"$out/$engine.txt"
    sed -n '/^verification/,$p' "$log" >>"$out/$engine.txt"
    cat "$out/$engine.txt"
    [ "$status" -eq 0 ] && grep -q "^verdict: steady" "$out/$engine.txt"
}

# The minute-by-minute table and the verdict.
summarise() {
    local engine=$1 log=$2 samples=$3 capacity=$4 rate=$5
    sed -n 's/^window [0-9]* s: \([0-9]*\) requests\/s, p50 [0-9.]* ms, p99 \([0-9.]*\) ms.*/\1 \2/p' "$log" |
        awk '{print $1, $2}' >"$tmp_root/$engine-windows.txt"
    echo "soak on $engine: $minutes min of mixed traffic at $rate operations/s (capacity $capacity), $clients clients, $players players, $history transactions of history first, release build $build"
    # Row by row: window n and sample n cover the same minute.
    paste -d ' ' "$tmp_root/$engine-windows.txt" "$samples" | awk 'NF == 6' | awk '
        BEGIN { print "minute | requests/s | p99 ms | RSS MB | open files | database MB" }
        { n++; rps[n]=$1; p99[n]=$2; rss[n]=$4/1024; db[n]=$6/1e6
          printf "%d | %.0f | %.1f | %.1f | %d | %.1f\n", $3, $1, $2, rss[n], $5, db[n] }
        END {
            span = (n >= 25) ? 10 : int((n - 1) / 3)
            if (span < 1) { print "verdict: too short to judge"; exit }
            for (i = 2; i < 2 + span; i++) { rss_a += rss[i]; p99_a += p99[i] }
            for (i = n - span + 1; i <= n; i++) { rss_b += rss[i]; p99_b += p99[i] }
            rss_a /= span; rss_b /= span; p99_a /= span; p99_b /= span
            drift_rss = (rss_b - rss_a) / rss_a * 100; drift_p99 = (p99_b - p99_a) / p99_a * 100
            printf "first %d min after warm-up: RSS %.1f MB, p99 %.1f ms; last %d min: RSS %.1f MB (%+.1f %%), p99 %.1f ms (%+.1f %%)\n", span, rss_a, p99_a, span, rss_b, drift_rss, p99_b, drift_p99
            steady = (drift_rss <= 10 && drift_rss >= -10 && drift_p99 <= 10 && drift_p99 >= -10)
            print (steady ? "verdict: steady (both within 10 %)" : "verdict: DRIFTED (over 10 %)")
        }'
}

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p server
mkdir -p "$out"
status=0
# One engine's soak in a subshell of its own (for `together`), which stops its own server
# and load if it ends early.
soak_apart() {
    (
        trap 'for pid in "$bench_pid" "$server_pid"; do [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; done' EXIT
        soak "$@" || exit 1
    )
}

start_postgres() {
    pg_dir="$tmp_root/postgres"
    pg_port="$(free_port)"
    start_pg_cluster "$pg_dir" "$pg_port" 300
    as_pg_owner "$(newest_pg_bin)/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE wallet"
}

case "$engines" in
sqlite | postgres | both | together) ;;
*) echo "engine: sqlite, postgres, both or together" >&2; exit 2 ;;
esac
if [ "$engines" = together ]; then
    start_postgres
    soak_apart sqlite "sqlite://$tmp_root/wallet.db?mode=rwc" >"$tmp_root/sqlite.out" 2>&1 &
    sqlite_soak=$!
    soak_apart postgres "postgres://postgres@127.0.0.1:$pg_port/wallet" >"$tmp_root/postgres.out" 2>&1 &
    postgres_soak=$!
    tail -n +1 -f "$tmp_root/sqlite.out" "$tmp_root/postgres.out" &
    follow=$!
    wait "$sqlite_soak" || status=1
    wait "$postgres_soak" || status=1
    kill "$follow" 2>/dev/null || true
    exit "$status"
fi
if [ "$engines" != postgres ]; then
    soak sqlite "sqlite://$tmp_root/wallet.db?mode=rwc" || status=1
    # An hour at these rates leaves a file of about 20 GB; PostgreSQL's hour needs the disk.
    rm -f "$tmp_root"/wallet.db "$tmp_root"/wallet.db-wal "$tmp_root"/wallet.db-shm
fi
if [ "$engines" != sqlite ]; then
    start_postgres
    soak postgres "postgres://postgres@127.0.0.1:$pg_port/wallet" || status=1
fi
exit "$status"
