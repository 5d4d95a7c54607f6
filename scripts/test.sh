#!/usr/bin/env bash
# Runs every test, as CI does (a clean clone, as root, on 2 cores):
#   0. cargo fmt --check and cargo clippy -D warnings; promtool over ops/
#   1. cargo test on SQLite (the default database)
#   2. cargo test again against a throwaway PostgreSQL 15 cluster, then the PostgreSQL
#      backup-and-restore drill (scripts/pg-backup-drill.sh)
#   3. the browser tests: the real server binary, driven by Playwright in Chromium
#   4. the OpenAPI document against the real server: Schemathesis, every check, over the
#      operator API and the (signed) wallet API
# PostgreSQL and the server are stopped on exit, whatever happens.
set -euo pipefail

cd "$(dirname "$0")/.."
repo_root="$PWD"
source scripts/lib.sh

section() { printf '\n======== %s ========\n' "$*"; }

# One set of cargo flags for every step, so that the second pass and the server binary
# reuse the first pass's build. The hydrate-only `frontend` crate stays out: built
# for the host in the same invocation it would switch on Leptos's `hydrate` feature
# next to `ssr` for the whole workspace.
cargo_test=(cargo test --workspace --exclude frontend --no-fail-fast)

server_bin="${CARGO_TARGET_DIR:-target}/debug/server"
tmp_root="$(mktemp -d -t oncewallet-test.XXXXXX)"
pg_dir=""
server_pid=""

cleanup() {
    local status=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        echo "==> stopping the server (pid $server_pid)"
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$pg_dir" ] && [ -f "$pg_dir/data/postmaster.pid" ]; then
        echo "==> stopping PostgreSQL"
        stop_pg_cluster "$pg_dir" immediate
    fi
    rm -rf "$tmp_root"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls a URL until it answers 200, for at most $2 seconds.
wait_for_http() {
    local url=$1 limit_s=$2 waited_s=0
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
            echo "the server exited before answering $url" >&2
            return 1
        fi
        if [ "$waited_s" -ge "$limit_s" ]; then
            echo "no answer from $url after ${limit_s}s" >&2
            return 1
        fi
        sleep 1
        waited_s=$((waited_s + 1))
    done
}

# Each suite runs even when an earlier one failed, so one CI run reports them all.
results=()
failed=0
record() {
    local name=$1 status=$2
    if [ "$status" -eq 0 ]; then
        results+=("$name: ok")
    else
        results+=("$name: FAILED (exit $status)")
        failed=1
    fi
}

rust_tests_on_sqlite() {
    (unset ONCEWALLET_TEST_PG_URL; "${cargo_test[@]}")
}

rust_tests_on_postgres() {
    local pg_port
    pg_dir="$tmp_root/postgres"
    pg_port="$(free_port)"
    # Each test creates its own database, so allow more connections than the default.
    start_pg_cluster "$pg_dir" "$pg_port" 200 || return 1
    local status=0
    ONCEWALLET_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres" \
        "${cargo_test[@]}" || status=$?
    echo "==> stopping PostgreSQL"
    stop_pg_cluster "$pg_dir"
    pg_dir=""
    return "$status"
}

# Starts the server binary on a fresh SQLite database in $tmp_root/$1 on a free port,
# with operator token $2 and any further VAR=value settings; sets server_pid, server_dir
# and server_url, and waits until it answers.
start_test_server() {
    local name=$1 token=$2 port
    shift 2
    if [ ! -x "$server_bin" ]; then
        cargo build -p server --bin server || return 1
    fi
    port="$(free_port)"
    server_dir="$tmp_root/$name"
    server_url="http://127.0.0.1:$port"
    mkdir -p "$server_dir"
    echo "==> starting $server_bin on 127.0.0.1:$port (SQLite in $server_dir)"
    env DATABASE_URL="sqlite://$server_dir/wallet.db?mode=rwc" \
        LEPTOS_SITE_ADDR="127.0.0.1:$port" \
        LEPTOS_SITE_ROOT="$repo_root/target/site" \
        WALLET_OPERATOR_TOKEN="$token" \
        WALLET_DEMO=0 \
        WALLET_RECONCILE_INTERVAL_SECS=0 \
        WALLET_MFA_REQUIRED=0 \
        "$@" "$server_bin" >"$server_dir/server.log" 2>&1 &
    server_pid=$!
    wait_for_http "$server_url/healthz" 60 || { cat "$server_dir/server.log"; return 1; }
}

# Stops the server start_test_server started, showing its log's end if $1 (a suite's
# status) is not 0; returns $1.
stop_test_server() {
    local status=$1
    if [ "$status" -ne 0 ]; then
        echo "==> server log (last 50 lines):"
        tail -n 50 "$server_dir/server.log"
    fi
    echo "==> stopping the server"
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    return "$status"
}

browser_tests() {
    # The binary the integration tests ran (CARGO_BIN_EXE_server): asking cargo test for
    # it is a no-op after the runs above, where `cargo build` would relink the server
    # crate with the dev rather than the test feature set.
    "${cargo_test[@]}" --no-run || return 1
    start_test_server end2end end2end-operator-token \
        WALLET_ADMIN_PASSWORD="end2end-admin-password" \
        WALLET_ORPHAN_AFTER_SECS=1 \
        WALLET_REFUND_APPROVAL_ABOVE="EUR=50.00" \
        WALLET_WEBHOOK_DEAD_AFTER_SECS=3 \
        WALLET_VALKYRIE_API_KEY="end2end-pam-key" \
        RUST_LOG="${RUST_LOG:-info}" || return 1
    echo "==> server is up"
    local status=0
    (cd end2end && BASE_URL="$server_url" OPERATOR_TOKEN="end2end-operator-token" \
        PAM_API_KEY="end2end-pam-key" \
        ADMIN_PASSWORD="end2end-admin-password" npx --no-install playwright test) || status=$?
    echo "==> page screenshots: end2end/test-results/screenshots/"
    stop_test_server "$status"
}

# Schemathesis, pinned, in its own virtual environment under the cache directory (made
# once; PyPI is the only network it needs).
schemathesis_version=4.32.5
schemathesis_venv="${XDG_CACHE_HOME:-$HOME/.cache}/oncewallet/schemathesis-$schemathesis_version"

install_schemathesis() {
    if "$schemathesis_venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$schemathesis_version"; then
        echo "==> schemathesis $schemathesis_version present ($schemathesis_venv)"
        return 0
    fi
    echo "==> installing schemathesis $schemathesis_version from PyPI into $schemathesis_venv"
    rm -rf "$schemathesis_venv"
    python3 -m venv "$schemathesis_venv" || return 1
    "$schemathesis_venv/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$schemathesis_version" || return 1
}

# One operator API call with the test server's token; prints the answer's body.
operator_call() {
    local method=$1 path=$2 body=$3
    curl -fsS -X "$method" -H "Authorization: Bearer $operator_token" \
        -H 'Content-Type: application/json' -d "$body" "$base_url$path"
}

# Runs Schemathesis with every check over the operations whose path matches $1; any
# finding fails it. The examples per operation keep the suite to a few minutes on 2 cores.
run_schemathesis() {
    local paths=$1
    shift
    # From the temp dir: Schemathesis keeps its cache in the working directory.
    (cd "$tmp_root" && "$@" "$schemathesis_venv/bin/schemathesis" \
        --config-file "$repo_root/scripts/schemathesis.toml" run \
        "$base_url/api-docs/openapi.json" --url "$base_url" \
        --checks all --include-path-regex "$paths" \
        --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" --seed "${SCHEMATHESIS_SEED:-1}" \
        -H "Authorization: Bearer $operator_token" --no-color)
}

openapi_tests() {
    install_schemathesis || return 1
    operator_token="openapi-operator-token"
    start_test_server openapi "$operator_token" \
        WALLET_ADMIN_PASSWORD="openapi-admin-password" \
        RUST_LOG="${RUST_LOG:-warn}" || return 1
    base_url=$server_url
    local status=0 hooks="$repo_root/scripts/schemathesis_hooks.py"
    echo "==> Schemathesis over the operator API"
    run_schemathesis '^/operator/' env SCHEMATHESIS_HOOKS="$hooks" || status=$?
    # The wallet API's provider, player and session are made after the operator run, which
    # changes providers it finds. The hooks sign every request with the key and send the
    # well-formed player fields as this player.
    echo "==> a provider, a player with money and a session for the wallet API"
    local secret session_token="" made=0
    secret="openapi-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    operator_call PUT /operator/v1/providers/openapi-provider \
        "{\"name\":\"OpenAPI check\",\"keys\":[{\"key_id\":\"openapi-key\",\"secret\":\"$secret\"}]}" >/dev/null &&
    operator_call PUT /operator/v1/players/openapi-player '{"currency":"EUR"}' >/dev/null &&
    operator_call POST /operator/v1/players/openapi-player/adjustments \
        '{"adjustment_id":"openapi-deposit","direction":"CREDIT","amount":{"value":"100000000","currency":"EUR","scale":2}}' >/dev/null &&
    session_token="$(operator_call POST /operator/v1/sessions \
        '{"player_id":"openapi-player","provider_id":"openapi-provider","game_id":"openapi-game","ttl_seconds":86400}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["session_token"])')" &&
    made=1
    if [ "$made" -eq 1 ]; then
        echo "==> Schemathesis over the wallet API (signed by scripts/schemathesis_hooks.py)"
        run_schemathesis '^/wallet/' env SCHEMATHESIS_HOOKS="$hooks" \
            WALLET_KEY_ID=openapi-key WALLET_KEY_SECRET="$secret" WALLET_PLAYER_ID=openapi-player \
            WALLET_GAME_ID=openapi-game WALLET_SESSION_TOKEN="$session_token" || status=$?
    else
        echo "could not make the wallet API's provider, player and session" >&2
        status=1
    fi
    stop_test_server "$status"
}

started_s=$SECONDS

# Without these nothing else can run: they stop the script on failure.
section "setup"
scripts/setup.sh test
section "build the site (wasm + css)"
scripts/build-site.sh

section "formatting and lints (cargo fmt --check, cargo clippy -D warnings)"
status=0
{ cargo fmt --all -- --check && cargo clippy --all-targets -- -D warnings; } || status=$?
record "cargo fmt and clippy" "$status"

section "ops/: alert rules, scrape job and dashboard queries (promtool)"
status=0; scripts/check-ops.sh || status=$?; record "ops files (promtool)" "$status"

section "cargo test on SQLite"
status=0; rust_tests_on_sqlite || status=$?; record "cargo test on SQLite" "$status"

section "cargo test on PostgreSQL"
status=0; rust_tests_on_postgres || status=$?; record "cargo test on PostgreSQL" "$status"

section "PostgreSQL backup and restore drill (docs/OPERATIONS.md)"
status=0; scripts/pg-backup-drill.sh "$server_bin" || status=$?; record "PostgreSQL backup drill" "$status"

section "browser tests (Playwright + Chromium)"
status=0; browser_tests || status=$?; record "browser tests" "$status"

section "OpenAPI document (Schemathesis, both APIs)"
status=0; openapi_tests || status=$?; record "OpenAPI document (Schemathesis)" "$status"

section "summary"
printf '  %s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
    echo "test.sh: FAILED after $((SECONDS - started_s))s"
    exit 1
fi
echo "test.sh: all suites passed in $((SECONDS - started_s))s"
