# The peers of bench/envelope: HAProxy's jwt_verify, nginx + njs, Express,
# and the TLS terminators, with their keys and test tokens. Source it after
# lib.sh; it defines functions and globals only.
# shellcheck shell=bash

PEERS_DIR="$BENCH_DIR/peers"
# every user holds "user" (admins too: ["user","admin"]); HAProxy 2.6 can only
# read one array element, so the role checked is the first
ISSUER=portcullis AUDIENCE=portcullis-api ROLE=user

# Installs what the peers need beyond lib.sh's tools.
ensure_peer_tools() {
    local missing=()
    [[ -x /usr/sbin/haproxy ]] || command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
    [[ -e /usr/lib/nginx/modules/ngx_http_js_module.so ]] || missing+=(libnginx-mod-http-js)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    apt_install "${missing[@]}"
    command -v haproxy >/dev/null 2>&1 || PATH="$PATH:/usr/sbin"
    command -v node >/dev/null 2>&1 || die "node is not available (Node.js 20 runs the Express peer)"
    if [[ ! -d $PEERS_DIR/express/node_modules ]]; then
        log "npm ci in bench/peers/express"
        (cd "$PEERS_DIR/express" && npm ci --no-audit --no-fund --silent) >&2 || die "npm ci failed"
    fi
}

# make_keys: the ES256 and RS256 signing keys with their public halves, and
# the TLS certificate (ECDSA P-256, for 127.0.0.1 and localhost).
make_keys() {
    (
        cd "$WORK" &&
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out es256.key &&
            openssl pkey -in es256.key -pubout -out es256.pub &&
            openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rs256.key &&
            openssl pkey -in rs256.key -pubout -out rs256.pub &&
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
                -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
                -keyout tls.key -out tls.crt &&
            cat tls.crt tls.key >tls.pem
    ) >"$WORK/openssl.log" 2>&1 || die "openssl failed: $(tail -3 "$WORK/openssl.log")"
}

# mint_tokens: the peers' tokens (see peers/mint.js) in $WORK/token-*.
mint_tokens() {
    BENCH_JWT_SECRET=$SECRET BENCH_ISSUER=$ISSUER BENCH_AUDIENCE=$AUDIENCE BENCH_ROLE=$ROLE \
        node "$PEERS_DIR/mint.js" "$WORK" || die "minting the peers' tokens failed"
}

declare -A HAP_PORT
start_haproxy() {
    local alg
    for alg in hs256 es256 rs256 tls; do HAP_PORT[$alg]=$(free_port); done
    env -i PATH="$PATH" BENCH_WORK="$WORK" UP_PORT="$UP_PORT" BENCH_JWT_SECRET="$SECRET" \
        BENCH_ISSUER=$ISSUER BENCH_AUDIENCE=$AUDIENCE BENCH_ROLE=$ROLE \
        HAP_HS256_PORT="${HAP_PORT[hs256]}" HAP_ES256_PORT="${HAP_PORT[es256]}" \
        HAP_RS256_PORT="${HAP_PORT[rs256]}" HAP_TLS_PORT="${HAP_PORT[tls]}" \
        haproxy -db -f "$PEERS_DIR/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
    PIDS+=($!)
    HAP_PID=$!
    wait_http "http://127.0.0.1:${HAP_PORT[hs256]}/api/employees"
    log "haproxy pid $HAP_PID on :${HAP_PORT[hs256]} (HS256) :${HAP_PORT[es256]} (ES256) :${HAP_PORT[rs256]} (RS256) :${HAP_PORT[tls]} (TLS, HS256)"
}

# The second nginx: njs verifying HS256, and TLS termination in front of
# the upstream and in front of portcullis's plain listener.
EDGE_NJS="" EDGE_TLS_UP="" EDGE_TLS_GW=""
start_edge_nginx() {
    EDGE_NJS=$(free_port) EDGE_TLS_UP=$(free_port) EDGE_TLS_GW=$(free_port)
    local dir="$WORK/edge"
    mkdir -p "$dir/logs" "$dir/tmp"
    cat >"$dir/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_js_module.so;
worker_processes auto;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    js_import jwt from $PEERS_DIR/jwt.js;
    js_set \$jwt_sub jwt.sub;
    js_var \$jwt_roles;
    upstream employees { server 127.0.0.1:$UP_PORT; keepalive 256; }
    upstream gateway { server 127.0.0.1:${GW_PORT[hs]}; keepalive 256; }
    ssl_certificate $WORK/tls.crt;
    ssl_certificate_key $WORK/tls.key;
    ssl_protocols TLSv1.3;
    server {
        listen 127.0.0.1:$EDGE_NJS;
        set \$jwt_secret "$SECRET";
        set \$jwt_issuer $ISSUER;
        set \$jwt_audience $AUDIENCE;
        set \$jwt_role $ROLE;
        location /api/ {
            set \$user \$jwt_sub;
            if (\$user = "") { return 401; }
            proxy_set_header X-User-Id \$user;
            proxy_set_header X-User-Roles \$jwt_roles;
            proxy_set_header Authorization "";
            proxy_pass http://employees/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {
        listen 127.0.0.1:$EDGE_TLS_UP ssl;
        location /api/ {
            proxy_pass http://employees/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {
        listen 127.0.0.1:$EDGE_TLS_GW ssl;
        location / {
            proxy_pass http://gateway;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto https;
        }
    }
}
CONF
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/logs/stdout.log" 2>&1 &
    PIDS+=($!)
    EDGE_PID=$!
    wait_http "http://127.0.0.1:$EDGE_NJS/api/employees"
    log "nginx (njs :$EDGE_NJS, TLS → upstream :$EDGE_TLS_UP, TLS → portcullis :$EDGE_TLS_GW) pid $EDGE_PID"
}
edge_pids() { echo "$EDGE_PID" $(ps -o pid= --ppid "$EDGE_PID"); }

# start_express NAME WORKERS: the Express peer, one process or a cluster.
declare -A EX_PORT EX_PID
start_express() {
    local name=$1 workers=$2 port
    port=$(free_port)
    env -i PATH="$PATH" NODE_ENV=production BENCH_JWT_SECRET="$SECRET" BENCH_ISSUER=$ISSUER \
        BENCH_AUDIENCE=$AUDIENCE BENCH_ROLE=$ROLE \
        node "$PEERS_DIR/express/server.js" "$port" "http://127.0.0.1:$UP_PORT" "$workers" \
        >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    EX_PID[$name]=$!
    EX_PORT[$name]=$port
    wait_http "http://127.0.0.1:$port/api/employees"
    log "express ($workers process(es)) pid ${EX_PID[$name]} on :$port"
}
express_pids() { echo "${EX_PID[$1]}" $(ps -o pid= --ppid "${EX_PID[$1]}" || true); }

# expect_status WANT WHAT URL [curl args…]: one request, or die.
expect_status() {
    local want=$1 what=$2 url=$3 got
    shift 3
    got=$(curl -sk -o /dev/null --max-time 5 -w '%{http_code}' "$@" "$url") || true
    [[ $got == "$want" ]] || die "$what: $url answered $got, not $want"
}

# check_refusals NAME URL GOOD FORGED EXPIRED [OTHER]: before NAME is
# timed, it must let the good token through and refuse a missing, forged
# and expired one (and OTHER: a valid token of another algorithm).
check_refusals() {
    local name=$1 url=$2 token
    expect_status 200 "$name with a good token" "$url" -H "Authorization: Bearer $3"
    expect_status 401 "$name without a token" "$url"
    for token in "$4" "$5" ${6:+"$6"}; do
        expect_status 401 "$name with a bad token" "$url" -H "Authorization: Bearer $token"
    done
}
