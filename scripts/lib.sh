# Helpers shared by test.sh, bench.sh and profile.sh: sourced, not run.

# PostgreSQL refuses to run as root, so as root the cluster belongs to `postgres`.
as_pg_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A TCP port on 127.0.0.1 that nothing listens on (bash's /dev/tcp connects or fails),
# below the kernel's range for outgoing connections' local ports: a port there may be
# the local end of a connection, which nothing listens on and yet a server cannot bind
# (a PostgreSQL restore in the backup drill failed so once).
free_port() {
    local port attempt low=20000 high
    high="$(awk '{print $1 - 1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)"
    [ "$high" -gt "$((low + 1000))" ] || { low=10000; high=19999; }
    for attempt in $(seq 1 50); do
        port=$((low + RANDOM % (high - low + 1)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found after $attempt tries" >&2
    return 1
}

# Starts the server binary $1 on database URL $2 at a free port, logging to $3, with
# operator token $4, no demo traffic and any further VAR=value settings; sets server_pid
# and server_url and waits up to a minute for /healthz.
start_wallet() {
    local bin=$1 url=$2 log=$3 token=$4 port
    shift 4
    port="$(free_port)"
    server_url="http://127.0.0.1:$port"
    env DATABASE_URL="$url" LEPTOS_SITE_ADDR="127.0.0.1:$port" WALLET_OPERATOR_TOKEN="$token" \
        WALLET_DEMO=0 "$@" "$bin" >>"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 60); do
        curl -fsS -o /dev/null "$server_url/healthz" 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$log"; return 1; }
        sleep 1
    done
    echo "the server did not answer at $server_url" >&2
    return 1
}

# Stops the server start_wallet started.
stop_wallet() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# The newest PostgreSQL server binaries installed (Debian's postgresql package).
newest_pg_bin() {
    printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1
}

# Creates and starts a throwaway cluster in the new directory $1 on 127.0.0.1:$2 that
# allows $3 connections: loopback only, sockets inside $1, fsync on as in production.
# The parent of $1 must be a private temp dir: as root it is opened to `postgres`.
start_pg_cluster() {
    local dir=$1 port=$2 connections=$3 bin
    bin="$(newest_pg_bin)"
    [ -x "$bin/initdb" ] || { echo "no PostgreSQL server under /usr/lib/postgresql" >&2; return 1; }
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chmod 755 "$(dirname "$dir")"
        chown postgres: "$dir"
    fi
    echo "==> initdb $dir/data ($("$bin/postgres" --version))"
    as_pg_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
    echo "==> starting PostgreSQL on 127.0.0.1:$port"
    as_pg_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=$connections" \
        >/dev/null || { cat "$dir/server.log" >&2; return 1; }
}

# Stops the cluster in $1 if it runs; $2 is pg_ctl's shutdown mode (default fast).
stop_pg_cluster() {
    [ -f "$1/data/postmaster.pid" ] || return 0
    as_pg_owner "$(newest_pg_bin)/pg_ctl" -D "$1/data" -m "${2:-fast}" -w stop >/dev/null 2>&1 || true
}
