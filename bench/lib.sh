# Shared by bench/run and bench/profile: tools, build, processes, users,
# sessions, wrk. Source it; it defines functions and a few globals only.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
export BENCH_LUA="$BENCH_DIR/lua"
: "${CARGO_TARGET_DIR:=$REPO/target}"
export CARGO_TARGET_DIR
BIN="$CARGO_TARGET_DIR/release/portcullis"

# wrk settings shared by every measured run
THREADS=2
CONNS=32
DURATION=${BENCH_DURATION:-5}   # override only for a quick smoke test
# a request slower than this would be dropped from wrk's latency record
WRK_TIMEOUT=10s

PIDS=()        # every process we started, killed by id on exit
WORK=""        # the temporary directory of this run

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] FAILED: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: installs the Debian packages named, if any (needs
# root or sudo).
apt_install() {
    (($#)) || return 0
    log "installing $*"
    local sudo=""
    [[ $(id -u) == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}

# Installs the Debian packages that are missing (needs root or sudo).
ensure_tools() {
    local missing=() cmd pkg
    for pair in nginx:nginx wrk:wrk sqlite3:sqlite3 perf:linux-perf chrt:util-linux \
        curl:curl python3:python3; do
        cmd=${pair%%:*} pkg=${pair#*:}
        if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$cmd ]]; then
            missing+=("$pkg")
        fi
    done
    apt_install "${missing[@]}"
    if ! command -v nginx >/dev/null 2>&1; then PATH="$PATH:/usr/sbin"; fi
    for cmd in nginx wrk sqlite3 curl python3 chrt; do
        command -v "$cmd" >/dev/null 2>&1 || die "$cmd is not available"
    done
}

build_release() {
    log "cargo build --release --locked (target $CARGO_TARGET_DIR)"
    (cd "$REPO" && cargo build --release --locked --quiet --bins --example bare_proxy) ||
        die "release build failed"
    [[ -x $BIN ]] || die "no binary at $BIN"
}

# Kills every process we started (by pid), gently first.
stop_all() {
    local pid alive
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        alive=0
        for pid in "${PIDS[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    # anything else still running below this script (a foreground wrk, curl
    # or xargs cut short by the watchdog or ^C): by pid, deepest first; the
    # helpers that listed them have exited by then and are skipped
    local rest=() pid
    mapfile -t rest < <(descendants $$)
    for pid in "${rest[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
}

# The pids of every process below $1, deepest first, from one ps snapshot.
descendants() {
    local table
    table=$(ps -eo pid=,ppid=) || return 0
    awk -v root="$1" '{ parent[$1] = $2 }
        END {
            for (p in parent) {
                q = p; d = 0
                while ((q in parent) && q != root && d < 64) { q = parent[q]; d++ }
                if (q == root && p != root) print d, p
            }
        }' <<<"$table" | sort -rn | cut -d' ' -f2
}

# Drops a pid that has been waited for, so stop_all never signals a reused pid.
forget_pid() {
    local keep=() pid
    for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
}

make_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX") || die "mktemp failed"
    chmod 755 "$WORK"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL [seconds]: until the URL answers at all (any status).
wait_http() {
    local url=$1 limit=${2:-20} i
    for ((i = 0; i < limit * 10; i++)); do
        if curl -sk -o /dev/null --max-time 1 "$url"; then return 0; fi
        sleep 0.1
    done
    die "nothing answers at $url after ${limit}s"
}

# A clean environment for our binary: nothing from the caller's PORTCULLIS_*,
# RUST_LOG or a .env (it runs in $WORK, which has none).
portcullis_env() {
    env -i PATH="$PATH" HOME="$HOME" "$@"
}

UP_PORT="" NGINX_PORT=""
start_upstream() {
    UP_PORT=$(free_port)
    (cd "$WORK" && exec env -i PATH="$PATH" "$BIN" upstream-demo --bind "127.0.0.1:$UP_PORT") \
        >"$WORK/upstream.log" 2>&1 &
    PIDS+=($!)
    UP_PID=$!
    wait_http "http://127.0.0.1:$UP_PORT/employees"
    log "upstream-demo pid $UP_PID on :$UP_PORT"
}

start_nginx() {
    NGINX_PORT=$(free_port)
    mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
    cat >"$WORK/nginx/nginx.conf" <<EOF
# a plain keep-alive reverse proxy, for comparison
worker_processes auto;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    upstream employees {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /api/ {
            proxy_pass http://employees/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" \
        >"$WORK/nginx/logs/stdout.log" 2>&1 &
    PIDS+=($!)
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NGINX_PORT/api/employees"
    log "nginx pid $NGINX_PID on :$NGINX_PORT ($(nginx_pids | wc -w) processes)"
}

# The floor: examples/bare_proxy.rs, actix-web + awc with nothing else.
BARE_PORT=""
start_bare() {
    BARE_PORT=$(free_port)
    "$CARGO_TARGET_DIR/release/examples/bare_proxy" "127.0.0.1:$BARE_PORT" \
        "http://127.0.0.1:$UP_PORT" >"$WORK/bare.log" 2>&1 &
    PIDS+=($!)
    BARE_PID=$!
    wait_http "http://127.0.0.1:$BARE_PORT/api/employees"
    log "bare actix-web + awc proxy pid $BARE_PID on :$BARE_PORT"
}

# The nginx master and its workers.
nginx_pids() {
    echo "$NGINX_PID" $(ps -o pid= --ppid "$NGINX_PID")
}

# start_gateway NAME KEY_ENV=VALUE [ENV=VALUE]...: a `portcullis serve`
# with its own database; sets GW_PORT[NAME], GW_PID[NAME], GW_DB[NAME].
# With PORTCULLIS_TLS_CERT among the settings it is waited for over https.
declare -A GW_PORT GW_PID GW_DB
start_gateway() {
    local name=$1 port db
    shift
    port=$(free_port)
    db="$WORK/$name.db"
    (cd "$WORK" && exec env -i PATH="$PATH" HOME="$HOME" \
        DATABASE_URL="$db" \
        PORTCULLIS_BIND="127.0.0.1:$port" \
        PORTCULLIS_UPSTREAM="http://127.0.0.1:$UP_PORT" \
        PORTCULLIS_COOKIE_SECURE=false \
        PORTCULLIS_STATIC_DIR="$REPO/static" \
        PORTCULLIS_TRUSTED_PROXIES=127.0.0.1 \
        "$@" \
        "$BIN" serve) >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    GW_PID[$name]=$!
    GW_PORT[$name]=$port
    GW_DB[$name]=$db
    local scheme=http
    [[ $* == *PORTCULLIS_TLS_CERT=* ]] && scheme=https
    wait_http "$scheme://127.0.0.1:$port/healthz"
    log "gateway $name pid ${GW_PID[$name]} on :$port"
}

PASSWORD=""
# add_users NAME PREFIX COUNT: COUNT admin users PREFIX0000… in the
# gateway's database, through the CLI, two at a time.
add_users() {
    local name=$1 prefix=$2 count=$3
    seq -f "$prefix%04g" 0 $((count - 1)) |
        xargs -P2 -I{} sh -c 'printf "%s\n" "$1" | env -i PATH="$PATH" DATABASE_URL="$2" \
            "$3" user add "$4" --role admin --password-stdin >/dev/null' _ \
            "$PASSWORD" "${GW_DB[$name]}" "$BIN" {} ||
        die "portcullis user add failed"
}

# login NAME USER [SCHEME]: prints the access token.
login() {
    local port=${GW_PORT[$1]} token
    token=$(curl -sfk --max-time 10 -H 'Content-Type: application/json' \
        -d "{\"username\":\"$2\",\"password\":\"$PASSWORD\"}" \
        "${3:-http}://127.0.0.1:$port/auth/login" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
        die "login of $2 at gateway $1 failed"
    [[ -n $token ]] || die "no access token for $2"
    printf '%s' "$token"
}

# make_sessions NAME PREFIX USERS COUNT FILE: COUNT logins round-robin over
# the users, two at a time; FILE gets one refresh cookie value per line.
make_sessions() {
    local name=$1 prefix=$2 users=$3 count=$4 file=$5
    seq 0 $((count - 1)) |
        xargs -P2 -I{} sh -c '
            user=$(printf "%s%04d" "$1" $(( $2 % $3 )))
            curl -s --max-time 20 -o /dev/null -D - -H "Content-Type: application/json" \
                -d "{\"username\":\"$user\",\"password\":\"$4\"}" \
                "http://127.0.0.1:$5/auth/login" |
            sed -n "s/^[Ss]et-[Cc]ookie: portcullis_refresh=\([^;]*\);.*/\1/p"' _ \
            "$prefix" {} "$users" "$PASSWORD" "${GW_PORT[$name]}" >"$file"
    local got
    got=$(grep -c . "$file")
    ((got == count)) || die "only $got of $count logins gave a refresh cookie"
}

# CPU time of the given pids (all threads), in clock ticks: prints
# "user system".
cpu_split() {
    local user=0 sys=0 pid fields f
    for pid in "$@"; do
        fields=$(sed 's/^.*) //' "/proc/$pid/stat") || die "no process $pid"
        read -r -a f <<<"$fields"
        # after "pid (comm) ": state is f[0], utime f[11], stime f[12]
        user=$((user + f[11])) sys=$((sys + f[12]))
    done
    echo "$user $sys"
}

# CPU time (clock ticks, user + system) of the given pids.
cpu_ticks() {
    local u s
    read -r u s < <(cpu_split "$@")
    echo $((u + s))
}

# settle PID...: waits (at most 10 s) until the processes are nearly idle,
# so work a previous run left behind (abandoned requests the server still
# finishes) does not leak into the next run.
settle() {
    local before after
    for _ in $(seq 40); do
        before=$(cpu_ticks "$@")
        sleep 0.25
        after=$(cpu_ticks "$@")
        if ((after - before <= 2)); then return 0; fi
    done
    log "  (still busy after 10 s, going on)"
}

# run_wrk LOGFILE [wrk args…]: runs wrk with the shared settings and prints
# the BENCHJSON object its Lua done() wrote.
run_wrk() {
    local logfile=$1
    shift
    wrk -t"$THREADS" --timeout "$WRK_TIMEOUT" "$@" >"$logfile" 2>&1 ||
        die "wrk failed: $(tail -3 "$logfile")"
    local json
    json=$(sed -n 's/^BENCHJSON //p' "$logfile")
    [[ -n $json ]] || die "wrk printed no result: $(tail -3 "$logfile")"
    printf '%s' "$json"
}
