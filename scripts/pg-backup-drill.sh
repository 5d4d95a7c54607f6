#!/usr/bin/env bash
# Proves docs/OPERATIONS.md's PostgreSQL backup procedure on a throwaway cluster:
#   1. a cluster with WAL archiving, the wallet on it, simulated providers playing;
#   2. a base backup (pg_basebackup) taken while they play, and more play after it;
#   3. the cluster thrown away; a new one restored from the base backup and the WAL
#      archive (recovery to the end of the archive), a server started on it;
#   4. checks: every transaction committed before the backup began and every one in the
#      archive is there, the ledger's hash chains verify, reconciliation finds nothing
#      critical.
#
#   scripts/pg-backup-drill.sh [SERVER_BIN]      (default target/debug/server)
#
# Run by scripts/test.sh; needs Debian's postgresql (scripts/setup.sh test installs it).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/lib.sh
server_bin=${1:-${CARGO_TARGET_DIR:-target}/debug/server}
pg_bin="$(newest_pg_bin)"
tmp_root="$(mktemp -d -t oncewallet-pg-drill.XXXXXX)"
token=drill-operator-token
server_pid=""
sim_pid=""
clusters=()

cleanup() {
    local status=$?
    for pid in "$sim_pid" "$server_pid"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    for dir in "${clusters[@]}"; do stop_pg_cluster "$dir" immediate; done
    rm -rf "$tmp_root"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A new directory that the cluster's owner may write.
owned_dir() {
    mkdir -p "$1"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$1"; fi
}

psql_at() { as_pg_owner "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" "${@:3}"; }

# Starts the server on database URL $1; sets server_pid and server_url.
start_server() {
    start_wallet "$server_bin" "$1" "$tmp_root/server.log" "$token" \
        WALLET_RECONCILE_INTERVAL_SECS=0 RUST_LOG=warn
}

# Every transaction's key, sorted, from the cluster on port $1.
keys() {
    psql_at "$1" wallet -At -c "SELECT scope || ' ' || transaction_id FROM wallet_transactions ORDER BY 1"
}

echo "==> [1/4] a cluster with WAL archiving"
live="$tmp_root/live"
port="$(free_port)"
start_pg_cluster "$live" "$port" 100
clusters+=("$live")
archive="$live/archive"
as_pg_owner mkdir -p "$archive"
psql_at "$port" postgres -c "ALTER SYSTEM SET archive_mode = on" \
    -c "ALTER SYSTEM SET archive_command = 'test ! -f $archive/%f && cp %p $archive/%f'"
as_pg_owner "$pg_bin/pg_ctl" -D "$live/data" -l "$live/server.log" -w restart -m fast >/dev/null
psql_at "$port" postgres -c "CREATE DATABASE wallet"
start_server "postgres://postgres@127.0.0.1:$port/wallet"
echo "==> simulated providers play for 12 s"
"$server_bin" simulate --target "$server_url" --operator-token "$token" --rate 40 \
    --duration 12 --seed 7 --no-discrepancies --report-every 60 >"$tmp_root/simulate.log" 2>&1 &
sim_pid=$!
sleep 4

echo "==> [2/4] base backup while they play"
keys "$port" >"$tmp_root/before.txt"
owned_dir "$tmp_root/base"
as_pg_owner "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres \
    -D "$tmp_root/base" -X stream -c fast 2>&1 | sed 's/^/    /'
echo "    $(wc -l <"$tmp_root/before.txt") transactions committed before the backup began"
wait "$sim_pid" || { echo "the simulator found a difference:"; tail -n 30 "$tmp_root/simulate.log"; exit 1; }
sim_pid=""
stop_wallet
psql_at "$port" postgres -c "SELECT pg_switch_wal()" >/dev/null
# The last segment reaches the archive within a few seconds.
segment="$(psql_at "$port" postgres -At -c "SELECT pg_walfile_name(pg_current_wal_lsn())")"
archived=0
for _ in $(seq 1 30); do
    last_archived="$(psql_at "$port" postgres -At -c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")"
    if [[ "$last_archived" > "$segment" || "$last_archived" == "$segment" ]]; then
        archived=1
        break
    fi
    psql_at "$port" postgres -c "SELECT pg_switch_wal()" >/dev/null
    sleep 1
done
[ "$archived" -eq 1 ] || { echo "the WAL archive did not catch up within 30 s" >&2; exit 1; }
keys "$port" >"$tmp_root/after.txt"
echo "    $(wc -l <"$tmp_root/after.txt") transactions when the cluster was lost"
stop_pg_cluster "$live" immediate

echo "==> [3/4] restore: the base backup, the WAL archive, recovery to its end"
restored="$tmp_root/restored"
owned_dir "$restored"
as_pg_owner cp -a "$tmp_root/base" "$restored/data"
as_pg_owner chmod 700 "$restored/data"
as_pg_owner rm -f "$restored/data/postmaster.pid"
as_pg_owner sh -c "echo \"restore_command = 'cp $archive/%f %p'\" >> '$restored/data/postgresql.auto.conf'"
as_pg_owner sh -c "echo \"archive_mode = off\" >> '$restored/data/postgresql.auto.conf'"
as_pg_owner touch "$restored/data/recovery.signal"
rport="$(free_port)"
clusters+=("$restored")
as_pg_owner "$pg_bin/pg_ctl" -D "$restored/data" -l "$restored/server.log" -w -t 120 start \
    -o "-c listen_addresses=127.0.0.1 -p $rport -k $restored" >/dev/null ||
    { cat "$restored/server.log"; exit 1; }
for _ in $(seq 1 60); do
    [ "$(psql_at "$rport" postgres -At -c "SELECT pg_is_in_recovery()")" = "f" ] && break
    sleep 1
done
start_server "postgres://postgres@127.0.0.1:$rport/wallet"
echo "    a server answers on the restored cluster"

echo "==> [4/4] checks"
keys "$rport" >"$tmp_root/restored.txt"
missing_before="$(comm -23 "$tmp_root/before.txt" "$tmp_root/restored.txt" | wc -l)"
missing_after="$(comm -23 "$tmp_root/after.txt" "$tmp_root/restored.txt" | wc -l)"
echo "    restored $(wc -l <"$tmp_root/restored.txt") transactions; missing from before the backup: $missing_before; missing of the archive's: $missing_after"
[ "$missing_before" -eq 0 ] && [ "$missing_after" -eq 0 ] || exit 1
url="postgres://postgres@127.0.0.1:$rport/wallet"
"$server_bin" verify-trail --database-url "$url" >/dev/null
"$server_bin" reconcile --full --database-url "$url" >/dev/null
echo "pg-backup-drill: the restored cluster holds everything and verifies"
