#!/usr/bin/env bash
# Usage: tests/bench/run.sh [--quick] [--import-only] [--build DIR] [--out DIR]
#
# The performance benchmark of issue #7, in one run on this machine: starts
# a throwaway PostgreSQL (TLS on, in a temporary directory, always stopped
# on exit), migrates it with DIR/daemon/branchd, makes certificates, writes
# a tenant with gendata.sh (plus a multi-tenant set), starts branchd
# (workers=2) and, for each scenario, loads the daemon with blbench and the
# database directly with pgbench (-M prepared, sslmode=require, the same
# client count, the same SQL: tests/bench/sql/). Prints one line per
# scenario:
#   scenario=X daemon_rps=... pgbench_tps=... ratio=... daemon_p99_ms=... pgbench_p99_ms=...
# then the physical references of issue 18 (pgbench alone, as branchd):
#   alloc_over_tpcb: alloc against pgbench's built-in tpcb-like at scale
#     CONNS (one branch row per client);
#   alloc_floor: what one steady-state allocation cannot avoid reading and
#     writing with this schema, in one statement (tests/bench/ref/
#     alloc_floor.sql, on a tenant "floor" of its own), printed as
#     alloc_floor_over_tpcb (the schema's writes against TPC-B's) and
#     alloc_over_floor (what the allocation's logic adds);
#   leads_over_select50: leads against a plain SELECT of the same 50 rows
#     (tests/bench/ref/select50.sql);
#   import: branchctl lead import of 100,000 leads (quick: 5,000) from a
#     CSV, leads per second from start to exit;
#   alloc_size: alloc on a tenant of 10x the branches (100,000; quick:
#     20,000) in the same shape against alloc on the bench tenant, both
#     with every pool allocated into once before (warm_pools), and the
#     first run on the large tenant before its pools were warmed, and one
#     with origins in as many regions (pools) as the bench tenant has;
#     both sides run twice, alternating, and the ratio is of the sums;
# then: alloc with many leads stored against few (two runs a side, the
#     ratio of the sums), alloc-batch leads/s
# against alloc, the daemon's CPU microseconds per request (ping, tree,
# alloc, leads, mixed: /proc/PID/stat over each measured window), full
# mutual-TLS handshakes per daemon core against what `openssl speed` says
# one core can do (formula below), resumed handshakes, the same loop at a
# script's pace (one thread, PACE_MS between connections: handshakes_paced),
# a script running branchctl CLI_RUNS times with full handshakes against
# resumed sessions (the daemon's CPU and the script's wall time, and the
# daemon's idle CPU per second measured just before, with the ratio net of
# it beside the target's raw one), ping with 2 workers against
# 1 (printed, no target: see RESULTS.md), and branchd's memory per idle
# mutual-TLS connection with ping p99 beside them, and what a bare libevent +
# OpenSSL server holds per idle connection (tls_idle_floor) against it.
#
#   --quick      2,000 branches, 10,000 then 100,000 leads, 100 extra
#                tenants, 2,000 idle connections, 4 s runs, 200 branchctl runs: about 3 minutes
#                on 2 cores. Default: 10,000 branches, 10,000 then 1,000,000
#                leads, 1,000 extra tenants of 50 branches, 10,000 idle
#                connections, 20 s runs.
#   --build DIR  the build to use (default build/; built if out of date)
#   --out DIR    keep the raw outputs there (blbench lines and JSON, pgbench
#                outputs, branchd's log)
#   --tls        only the TLS and connection figures: handshakes against the
#                openssl speed reference, branchctl runs full against
#                resumed, memory per idle connection, and their targets
#   --read-pool  only measure what the read pool (db_read_conninfo) takes off
#                the primary: a streaming standby of the bench cluster, then
#                the leads and mixed scenarios with branchd on the primary
#                alone and with its read pool on the standby; prints the
#                primary's CPU (its processes' user + system time, in cores)
#                and transactions per second for each:
#     read_pool scenario=X daemon_rps_off=... daemon_rps_on=... primary_cores_off=...
#               primary_cores_on=... standby_cores_on=... primary_xact_s_off=...
#               primary_xact_s_on=... primary_cpu_ms_per_1k_off=... ..._on=... cpu_per_request_ratio=...
#
# Environment: BENCH_CONNECTIONS (default 16) client connections on both
# sides, BENCH_DEPTH (default 1) requests in flight per blbench connection,
# BENCH_PING_DEPTH (default 32) requests in flight per connection for ping
# with 1 and 2 workers, BENCH_DURATION and BENCH_WARMUP (seconds) override
# the run lengths; BENCH_CLI_RUNS (default 1000, 200 in --quick) the
# branchctl runs of each kind.
# --import-only: the data set and the import scenario alone (the import
# line), for work on lead import.
# Loopback only; every run is bounded in time.

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=bench
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/bench
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
# shellcheck source=deploy/lib/pg.sh
. "$ROOT/deploy/lib/pg.sh"

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

QUICK=0
READ_POOL=0
IMPORT_ONLY=0
TLS_ONLY=0
BUILD=$ROOT/build
OUT=
while [[ $# -gt 0 ]]; do
    case $1 in
    --quick) QUICK=1 ;;
    --read-pool) READ_POOL=1 ;;
    --import-only) IMPORT_ONLY=1 ;;
    --tls) TLS_ONLY=1 ;;
    --build)
        [[ $# -ge 2 ]] || usage
        BUILD=$(realpath -m "$2")
        shift
        ;;
    --out)
        [[ $# -ge 2 ]] || usage
        OUT=$(realpath -m "$2")
        shift
        ;;
    *) usage ;;
    esac
    shift
done

if ((QUICK)); then
    BRANCHES=10 LEADS_SMALL=10000 LEADS_LARGE=100000 TENANTS=100 IDLE=2000 DURATION=4 WARMUP=1
    REQUEST_TIMEOUT=10 CLI_RUNS=200 SPEED_SECONDS=1 FLOOR_HANDSHAKES=200
else
    BRANCHES=50 LEADS_SMALL=10000 LEADS_LARGE=1000000 TENANTS=1000 IDLE=10000 DURATION=20 WARMUP=3
    REQUEST_TIMEOUT=30 CLI_RUNS=1000 SPEED_SECONDS=3 FLOOR_HANDSHAKES=1000
fi
CLI_RUNS=${BENCH_CLI_RUNS:-$CLI_RUNS}
# The paced handshake loop's pause (about one branchctl run's wall time on
# a quiet machine) and the window of the daemon's idle baseline.
PACE_MS=25 IDLE_WINDOW_S=$((QUICK ? 3 : 10))
REGIONS=20 CITIES=10 PROJECTS=50 BATCH=100 MIX_ALLOC=10
IMPORT_LEADS=$((QUICK ? 5000 : 100000))
DURATION=${BENCH_DURATION:-$DURATION}
WARMUP=${BENCH_WARMUP:-$WARMUP}
CONNS=${BENCH_CONNECTIONS:-16}
DEPTH=${BENCH_DEPTH:-1}
PING_DEPTH=${BENCH_PING_DEPTH:-32}
THREADS=$(nproc)
ADMIN=CN=bench-admin
PG_PASSWORD=bench-$RANDOM$RANDOM

TMP=
DAEMON_PID=
cleanup() {
    local rc=$?
    stop_daemon
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ -n $OUT ]]; then
            mkdir -p "$OUT"
            cp -r "$TMP/out/." "$OUT/" 2>/dev/null || true
        fi
        if [[ -d $TMP/standby ]]; then
            pg_stop "$TMP/standby" || pg_stop "$TMP/standby" immediate ||
                note "could not stop PostgreSQL in $TMP/standby"
        fi
        pg_stop "$TMP/pg" || pg_stop "$TMP/pg" immediate || note "could not stop PostgreSQL in $TMP/pg"
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build() {
    note "building $BUILD (branchd, blbench)"
    if ! quietly cmake -S "$ROOT" -B "$BUILD" ||
        ! quietly cmake --build "$BUILD" -j"$THREADS" --target branchd blbench branchctl tls_floor tls_idle_floor; then
        die "the build failed"
    fi
    BRANCHD=$BUILD/daemon/branchd
    BLBENCH=$BUILD/tests/bench/blbench
    BRANCHCTL=$BUILD/client/branchctl
    TLS_FLOOR=$BUILD/tests/bench/tls_floor
    TLS_IDLE_FLOOR=$BUILD/tests/bench/tls_idle_floor
}

# The temporary directory must be reachable by postgres when we are root.
make_tmp() {
    TMP=$(mktemp -d -t branchline-bench.XXXXXX)
    chmod 0711 "$TMP"
    if ! pg_reachable "$TMP"; then
        rmdir "$TMP"
        TMP=$(mktemp -d -p /tmp branchline-bench.XXXXXX)
        chmod 0711 "$TMP"
    fi
    mkdir -p "$TMP/out" "$TMP/pgbench"
}

# A self-signed certificate for PostgreSQL's TLS (pgbench's sslmode=require
# encrypts without verifying, as most direct clients do).
pg_tls_cert() {
    local dir=$TMP/pgtls
    pg_owned_dir "$dir" 0700
    quietly openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
        -subj /CN=127.0.0.1 -keyout "$dir/server.key" -out "$dir/server.crt"
    chmod 0600 "$dir/server.key"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$dir/server.key" "$dir/server.crt"
    fi
}

start_cluster() {
    PGPORT_BENCH=$(free_tcp_port)
    pg_tls_cert
    pg_init "$TMP/pg" "$TMP/sock" "$PGPORT_BENCH" \
        "max_connections = 300" "shared_buffers = 512MB" "synchronous_commit = off" \
        "ssl = on" "ssl_cert_file = '$TMP/pgtls/server.crt'" "ssl_key_file = '$TMP/pgtls/server.key'"
    pg_start "$TMP/pg" "$TMP/pg.log"
    pg_app_roles "$TMP/sock" "$PGPORT_BENCH" postgres
    pg_psql "$TMP/sock" "$PGPORT_BENCH" postgres \
        -c "ALTER ROLE branchd PASSWORD '$PG_PASSWORD'"
    pg_owned_database "$TMP/sock" "$PGPORT_BENCH" bench
    SUPER_CI="host=$TMP/sock port=$PGPORT_BENCH user=$(pg_superuser) dbname=bench"
    OWNER_CI="host=$TMP/sock port=$PGPORT_BENCH user=branchline_owner dbname=bench"
    APP_CI="host=$TMP/sock port=$PGPORT_BENCH user=branchd dbname=bench"
    TLS_CI="host=127.0.0.1 port=$PGPORT_BENCH user=branchd dbname=bench sslmode=require"
    quietly "$BRANCHD" migrate --conninfo "$OWNER_CI" || die "branchd migrate failed"
}

generate() {
    note "generating data: $TENANTS tenants of 50 branches, then $((REGIONS * CITIES * BRANCHES)) branches, $LEADS_SMALL leads"
    "$HERE/gendata.sh" "$SUPER_CI" tenants --count "$TENANTS" >&2
    "$HERE/gendata.sh" "$SUPER_CI" org --admin "$ADMIN" --regions "$REGIONS" --cities "$CITIES" \
        --branches "$BRANCHES" --projects "$PROJECTS" >&2
    "$HERE/gendata.sh" "$SUPER_CI" leads --count "$LEADS_SMALL" >&2
    "$HERE/gendata.sh" "$SUPER_CI" check --admin "$ADMIN" >&2
}

# ---- branchd ----------------------------------------------------------------------

# start_daemon WORKERS [CONFIG-LINE]
start_daemon() {
    local workers=$1 extra=${2:-} conf=$TMP/branchd.conf
    rm -f "$TMP/port"
    cat >"$conf" <<EOF
listen_address = 127.0.0.1
listen_port = 0
port_file = $TMP/port
tls_cert = $TMP/certs/server.crt
tls_key = $TMP/certs/server.key
tls_ca = $TMP/certs/ca.crt
db_conninfo = $APP_CI
workers = $workers
log_level = warn
# The bench measures throughput and memory per connection from one client
# identity and address: the per-tenant rate limit, the per-identity
# connection cap, the per-address handshake rate and the per-connection
# database queue (defences against abusive clients) would stop it first.
tenant_rate_limit = 0
max_connections_per_identity = 1000000
handshake_rate_per_addr = 0
db_queue_per_conn = 1000000
max_connections = $((IDLE + 1000))
$extra
EOF
    "$BRANCHD" --config "$conf" 2>>"$TMP/out/branchd.log" &
    DAEMON_PID=$!
    for _ in $(seq 1 300); do
        if [[ -s $TMP/port ]]; then
            SERVER=127.0.0.1:$(cat "$TMP/port")
            return 0
        fi
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 20 "$TMP/out/branchd.log" >&2
    die "branchd did not start"
}

stop_daemon() {
    if [[ -n $DAEMON_PID ]]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
        DAEMON_PID=
    fi
}

# ---- the two sides ----------------------------------------------------------------

# bounded SECONDS COMMAND...: runs COMMAND, killed if it takes a minute
# longer than the SECONDS (plus warm-up) it should.
bounded() {
    local limit
    limit=$(awk -v d="$1" -v w="$WARMUP" 'BEGIN { printf "%d\n", d + w + 60 }')
    shift
    timeout -k 5 "$limit" "$@"
}

# Before each measured run: no statement left running in the database from
# the run before (requests whose client gave up keep running in branchd, and
# a slow one would take database connections from the next scenario).
# Leftovers are cancelled; bounded at one minute.
quiesce() {
    local n
    for _ in $(seq 1 120); do
        n=$(psql "$SUPER_CI" -XAtc "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
                                    WHERE usename = 'branchd' AND state = 'active'")
        [[ $n == 0 ]] && return 0
        sleep 0.5
    done
    note "branchd's database sessions are still busy"
}

# The value of KEY in a key=value line.
kv() {
    sed -nE "s/.*(^| )$2=([^ ]*).*/\\2/p" <<<"$1" | head -n 1
}

# blbench NAME SCENARIO [ARGS...]: the measured run's summary line.
blbench() {
    local name=$1 scenario=$2 out
    shift 2
    out=$TMP/out/blbench-$name.txt
    quiesce
    bounded "$DURATION" "$BLBENCH" --server "$SERVER" --ca "$TMP/certs/ca.crt" \
        --cert "$TMP/certs/bench-admin.crt" --key "$TMP/certs/bench-admin.key" \
        --scenario "$scenario" --connections "$CONNS" \
        --depth "$DEPTH" --threads "$THREADS" --warmup "$WARMUP" --duration "$DURATION" \
        --timeout-ms $((REQUEST_TIMEOUT * 1000)) --json "$TMP/out/blbench.jsonl" \
        --param regions=$REGIONS --param cities=$CITIES --param branches=$BRANCHES --param projects=$PROJECTS --param batch=$BATCH \
        --param mix_alloc=$MIX_ALLOC --param tag="bb$name$RANDOM" --pid "$DAEMON_PID" "$@" >"$out" 2>&1 || true
    if grep -q '^error' "$out"; then
        note "blbench $name: $(grep '^error' "$out" | head -n 3 | tr '\n' ' ')"
    fi
    grep -m 1 'scenario=' "$out" || echo "scenario=$scenario rps=0 p99_ms=nan"
}

# pgbench NAME SCRIPT...: "tps p99_ms aborted_clients" of the measured run
# (after a warm-up run). A statement running longer than REQUEST_TIMEOUT
# is cancelled, as blbench gives up on an answer after that long: its
# client aborts and the figures cover what was done until then.
pgbench_run() {
    local name=$1 args=() tps p99 aborted warm f
    local out=$TMP/out/pgbench-$name.txt
    shift
    for f in "$@"; do
        # builtin:NAME is one of pgbench's own scripts (tpcb-like).
        if [[ $f == builtin:* ]]; then
            args+=(-b "${f#builtin:}")
        else
            args+=(-f "$HERE/sql/$f")
        fi
    done
    args+=(-n -M prepared -c "$CONNS" -j "$THREADS" -D "subject=$ADMIN" -D "regions=$REGIONS"
        -D "cities=$CITIES" -D "branches=$BRANCHES" -D "projects=$PROJECTS" -D "batch=$BATCH"
        -D leads_limit=50 -D "tag=pg$name$RANDOM")
    export PGPASSWORD=$PG_PASSWORD PGOPTIONS="-c statement_timeout=${REQUEST_TIMEOUT}s${PGBENCH_OPTIONS:+ $PGBENCH_OPTIONS}"
    warm=$(printf '%.0f' "$WARMUP")
    quiesce
    if ((warm > 0)); then
        bounded "$warm" pgbench "${args[@]}" -T "$warm" "$TLS_CI" >/dev/null 2>&1 || true
    fi
    rm -f "$TMP/pgbench/$name".*
    quiesce
    bounded "$DURATION" pgbench "${args[@]}" -T "$(printf '%.0f' "$DURATION")" \
        -l --log-prefix="$TMP/pgbench/$name" "$TLS_CI" >"$out" 2>&1 || true
    unset PGPASSWORD PGOPTIONS
    aborted=$(grep -c 'aborted in command' "$out" || true)
    if ((aborted > 0)); then
        note "pgbench $name: $aborted client(s) aborted: $(grep -m 1 'aborted in command' "$out")"
    fi
    tps=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$out" | tail -n 1)
    p99=$(cat "$TMP/pgbench/$name".* 2>/dev/null | awk '{ print $3 }' | sort -n |
        awk '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit }
               i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1
               printf "%.3f\n", v[i] / 1000 }')
    printf '%.1f %s %s\n' "${tps:-0}" "${p99:-nan}" "$aborted"
}

daemon_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
# The daemon's CPU seconds so far, exact: its threads' run times
# (schedstat, ns); from the 10 ms clock ticks when the kernel keeps none.
daemon_cpu_s() {
    cat "/proc/$DAEMON_PID/task/"*/schedstat 2>/dev/null | awk -v t="$(daemon_ticks)" -v hz="$(getconf CLK_TCK)" \
        '{ ns += $1; n++ } END { if (n) printf "%.6f\n", ns / 1e9; else printf "%.6f\n", t / hz }'
}
children_ticks() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f\n", a / b; else print "nan" }'
}

# target NAME VALUE >=|<=|1+- LIMIT: one line saying whether issue #7's
# target is met (1+- L: the ratio is within 1 - L .. 1 + L); a value that is
# not a number misses.
target() {
    local verdict
    verdict=$(awk -v v="$2" -v op="$3" -v l="$4" 'BEGIN {
        if (v !~ /^[0-9.]+$/) { print "missed"; exit }
        if (op == ">=") ok = v + 0 >= l + 0
        else if (op == "<=") ok = v + 0 <= l + 0
        else ok = v + 0 >= 1 - l && v + 0 <= 1 + l
        print ok ? "met" : "missed" }')
    echo "target=$1 value=$2 want=$3$4 $verdict"
    TARGETS+=("$verdict")
}

# scenario NAME SCRIPT...: both sides, one line.
scenario() {
    local name=$1 line pg
    shift
    line=$(blbench "$name" "$name")
    D_CPU_US[$name]=$(kv "$(grep -m 1 '^daemon_cpu ' "$TMP/out/blbench-$name.txt" || true)" daemon_cpu_us_per_req)
    D_RPS[$name]=$(kv "$line" rps)
    D_ITEMS[$name]=$(kv "$line" items_per_s)
    D_P99[$name]=$(kv "$line" p99_ms)
    if [[ $# -gt 0 ]]; then
        pg=$(pgbench_run "$name" "$@")
    else
        pg="n/a n/a 0"
    fi
    read -r pg_tps pg_p99 pg_aborted <<<"$pg"
    RATIO[$name]=n/a
    if [[ $pg_tps != n/a ]]; then
        RATIO[$name]=$(ratio "${D_RPS[$name]}" "$pg_tps")
    fi
    echo "scenario=$name daemon_rps=${D_RPS[$name]} pgbench_tps=$pg_tps" \
        "ratio=${RATIO[$name]} daemon_p99_ms=${D_P99[$name]}" \
        "pgbench_p99_ms=$pg_p99 daemon_errors=$(kv "$line" errors) daemon_lost=$(kv "$line" lost)" \
        "pgbench_aborted=$pg_aborted"
}

# 100 idle connections, then IDLE, each time with branchd's RSS and a ping
# load beside them (blbench --idle).
idle_run() {
    local out=$TMP/out/blbench-idle.txt
    quiesce
    bounded "$(awk -v d="$DURATION" 'BEGIN { print 2 * d + 120 }')" "$BLBENCH" --server "$SERVER" \
        --ca "$TMP/certs/ca.crt" --cert "$TMP/certs/bench-admin.crt" \
        --key "$TMP/certs/bench-admin.key" --scenario ping --connections "$CONNS" \
        --depth "$DEPTH" --threads "$THREADS" --warmup "$WARMUP" --duration "$DURATION" \
        --idle "100,$IDLE,100,$IDLE" --pid "$DAEMON_PID" --json "$TMP/out/blbench.jsonl" >"$out" 2>&1 ||
        note "blbench --idle: $(tail -n 2 "$out" | tr '\n' ' ')"
}

# ---- the physical references (issue 18) ------------------------------------------

# pgbench's own TPC-B-like tables in the bench database, at scale
# TPCB_SCALE = CONNS: one pgbench_branches row per client, so the 16
# clients' updates of a branch row collide only by chance (as allocations
# of different pools do), not all on one row. Readable and writable by the
# daemon's role, which runs it over TLS like every other pgbench run.
tpcb_setup() {
    TPCB_SCALE=$CONNS
    note "pgbench -i: tpcb-like tables at scale $TPCB_SCALE"
    pgbench -i -q -I dtGvp -s "$TPCB_SCALE" "$SUPER_CI" >"$TMP/out/pgbench-init.txt" 2>&1 ||
        die "pgbench -i failed: $(tail -n 3 "$TMP/out/pgbench-init.txt")"
    psql "$SUPER_CI" -XqAt -v ON_ERROR_STOP=1 \
        -c "GRANT SELECT, INSERT, UPDATE ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO branchd" ||
        die "could not grant the tpcb tables to branchd"
}

# reference NAME SCRIPT...: the pgbench side alone (no daemon scenario);
# sets REF_TPS[NAME] and prints one line.
reference() {
    local name=$1 pg
    shift
    pg=$(pgbench_run "$name" "$@")
    read -r pg_tps pg_p99 pg_aborted <<<"$pg"
    REF_TPS[$name]=$pg_tps
    echo "reference=$name pgbench_tps=$pg_tps pgbench_p99_ms=$pg_p99 pgbench_aborted=$pg_aborted"
}

# A second tenant "big" of 10 times the bench tenant's branches in the same
# shape (10x the regions of the same cities: a pool, one region and one
# project, keeps its size; only the tenant grows), with as many stored
# leads: 100,000 branches in a full run, 20,000 in a quick one.
size_setup() {
    BIG_REGIONS=$((REGIONS * 10))
    BIG_BRANCHES=$((BIG_REGIONS * CITIES * BRANCHES))
    note "generating tenant big: $BIG_BRANCHES branches, $LEADS_SMALL leads"
    "$HERE/gendata.sh" "$SUPER_CI" org --tenant big --admin CN=big-admin --regions "$BIG_REGIONS" \
        --cities "$CITIES" --branches "$BRANCHES" --projects "$PROJECTS" >&2
    "$HERE/gendata.sh" "$SUPER_CI" leads --tenant big --count "$LEADS_SMALL" >&2
}

# warm_pools SUBJECT REGIONS: one lead into every pool (region x project)
# of the subject's tenant, through api.lead_add as branchd (one statement
# per region), so that every pool has its members kept and its round
# started, as in a tenant that has been taking leads. The first allocation
# into a pool after data is generated (or after an organization change)
# reads its members from the organization and writes the whole pool; the
# later ones read one kept row and write O(1) rows. A 20 s alloc run
# allocates about as many leads as the 100,000-branch tenant has pools, so
# without this the size comparison would set first touches against the
# steady state.
warm_pools() {
    local subject=$1 regions=$2 tag=warm$RANDOM out=$TMP/out/warm-pools.txt
    awk -v s="$subject" -v r="$regions" -v p="$PROJECTS" -v tag="$tag" 'BEGIN {
        for (i = 1; i <= r; i++)
            printf "SELECT count(*) FROM generate_series(1, %d) AS p, LATERAL api.lead_add(" \
                "p_subject => '\''%s'\'', p_external_id => '\''%s-%d-'\'' || p, p_project => '\''p'\'' || p, " \
                "p_channel => '\''search'\'', p_origin => '\''r%d'\'', p_name => '\''Warm-up lead'\'', " \
                "p_phone => '\''2'\'' || lpad((%d * 100 + p)::text, 10, '\''0'\''), p_email => NULL, p_note => NULL);\n",
                p, s, tag, i, i, i
    }' | PGPASSWORD=$PG_PASSWORD psql "$APP_CI" -X -q -A -t -v ON_ERROR_STOP=1 >"$out" 2>&1 ||
        die "warming the pools of $subject failed: $(tail -n 3 "$out")"
}

# alloc on tenant big as its admin, before and after warm_pools; prints the
# alloc_size line against the bench tenant's alloc (small_alloc, measured
# after warm_pools too): ratio is the steady state, ratio_first_touch the
# run with most of big's pools touched for the first time.
alloc_size_run() {
    local cold warm cold_rps big same big2 line2 sum_big sum_small
    local big_cert=(--cert "$TMP/certs/big-admin.crt" --key "$TMP/certs/big-admin.key")
    cold=$(blbench alloc-big-first alloc "${big_cert[@]}" --param regions="$BIG_REGIONS")
    cold_rps=$(kv "$cold" rps)
    note "warming the $((BIG_REGIONS * PROJECTS)) pools of tenant big"
    warm_pools CN=big-admin "$BIG_REGIONS"
    warm=$(blbench alloc-big alloc "${big_cert[@]}" --param regions="$BIG_REGIONS")
    big=$(kv "$warm" rps)
    # Each side a second time, alternating (small, large, small, large):
    # two 20 s runs of the same scenario here differ by up to 20%, more
    # than the target's band, so the ratio is of the sums and the spread
    # of each side is printed beside it.
    SMALL_ALLOC2=$(kv "$(blbench alloc-small2 alloc)" rps)
    local small2=$SMALL_ALLOC2
    line2=$(blbench alloc-big2 alloc "${big_cert[@]}" --param regions="$BIG_REGIONS")
    big2=$(kv "$line2" rps)
    # The same tenant with origins in its first REGIONS regions only: as
    # many pools in use as on the bench tenant (its load spreads over 10x
    # the pools otherwise), so that the tenant's size is compared apart
    # from the size of the working set the load touches.
    same=$(blbench alloc-big-same alloc "${big_cert[@]}" --param regions="$REGIONS")
    sum_big=$(awk -v a="$big" -v b="$big2" 'BEGIN { printf "%.1f\n", a + b }')
    sum_small=$(awk -v a="$small_alloc" -v b="$small2" 'BEGIN { printf "%.1f\n", a + b }')
    SIZE_RATIO=$(ratio "$sum_big" "$sum_small")
    echo "alloc_size branches_small=$((REGIONS * CITIES * BRANCHES)) rps_small=$small_alloc,$small2" \
        "branches_large=$BIG_BRANCHES rps_large=$big,$big2 ratio=$SIZE_RATIO" \
        "ratio_pairs=$(ratio "$big" "$small_alloc"),$(ratio "$big2" "$small2")" \
        "small_spread=$(ratio "$small2" "$small_alloc") large_spread=$(ratio "$big2" "$big")" \
        "rps_large_first_touch=$cold_rps ratio_first_touch=$(ratio "$cold_rps" "$small_alloc")" \
        "rps_large_same_pools=$(kv "$same" rps) ratio_same_pools=$(ratio "$(kv "$same" rps)" "$small_alloc")" \
        "daemon_errors=$(kv "$warm" errors),$(kv "$line2" errors) daemon_errors_first_touch=$(kv "$cold" errors)" \
        "daemon_errors_same_pools=$(kv "$same" errors)"
}

# lead import of IMPORT_LEADS leads (random projects and origins, as the
# alloc scenario's) from one CSV through branchctl as the bench admin,
# timed from start to exit; then how many of them the database holds
# allocated to a branch (the same intake() as single adds places them).
import_run() {
    local csv=$TMP/import.csv out=$TMP/out/branchctl-import.txt tag=imp$RANDOM t0 t1 created allocated
    awk -v n="$IMPORT_LEADS" -v r="$REGIONS" -v p="$PROJECTS" -v tag="$tag" 'BEGIN {
        srand(); print "external_id,project,channel,origin,name,phone"
        for (i = 1; i <= n; i++)
            printf "%s-%d,p%d,search,r%d,Import lead %d,1%010.0f\n", tag, i, 1 + int(rand() * p),
                1 + int(rand() * r), i, int(rand() * 1e10) }' >"$csv"
    quiesce
    t0=$EPOCHREALTIME
    # A batch of 1,000 leads waits for the batches before it that hold the
    # same pools' locks: the answer may take longer than one request's limit.
    bounded 600 "$BUILD/client/branchctl" --timeout 600000 --server "$SERVER" --ca "$TMP/certs/ca.crt" \
        --cert "$TMP/certs/bench-admin.crt" --key "$TMP/certs/bench-admin.key" \
        lead import "$csv" >"$out" 2>&1 || note "branchctl lead import: $(tail -n 2 "$out" | tr '\n' ' ')"
    t1=$EPOCHREALTIME
    created=$(sed -nE 's/.*imported: ([0-9]+) created.*/\1/p' "$out" | tail -n 1)
    allocated=$(psql "$SUPER_CI" -XAtc "SELECT count(*) FROM branchline.leads WHERE external_id LIKE '$tag-%'
                                         AND branch_id IS NOT NULL AND status = 'allocated'")
    IMPORT_RATE=$(awk -v c="${created:-0}" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", c / (b - a) }')
    echo "import leads=$IMPORT_LEADS created=${created:-0} allocated=$allocated" \
        "seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }') leads_per_s=$IMPORT_RATE"
}

# select50 runs as branchd with the bench tenant set, as lead_list's own
# statements do after auth().
select50_reference() {
    local tenant
    tenant=$(psql "$SUPER_CI" -XAtc "SELECT id FROM branchline.tenants WHERE code = 'bench'")
    [[ $tenant =~ ^[0-9]+$ ]] || die "no bench tenant"
    PGBENCH_OPTIONS="-c branchline.tenant=$tenant" reference select50 ../ref/select50.sql
}

# The alloc_floor reference (tests/bench/ref/alloc_floor.sql) runs on a
# tenant of its own, "floor", of the bench tenant's shape, so that its
# writes (which keep no invariant: a random member gets each lead) touch
# no other scenario's pools or counters. Its pools are written warm, as
# allocations leave them, directly: each pool's kept members at the
# tenant's organization version (sql/schema/091), its round (090) and a
# lead_pool_state row in the round per member. Sets FLOOR_TENANT.
floor_setup() {
    note "generating tenant floor: $((REGIONS * CITIES * BRANCHES)) branches, its pools warm"
    "$HERE/gendata.sh" "$SUPER_CI" org --tenant floor --admin CN=floor-admin --regions "$REGIONS" \
        --cities "$CITIES" --branches "$BRANCHES" --projects "$PROJECTS" >&2
    FLOOR_TENANT=$(psql "$SUPER_CI" -XAtc "SELECT id FROM branchline.tenants WHERE code = 'floor'")
    [[ $FLOOR_TENANT =~ ^[0-9]+$ ]] || die "no floor tenant"
    psql "$SUPER_CI" -XqAt -v ON_ERROR_STOP=1 -v tid="$FLOOR_TENANT" >"$TMP/out/floor-setup.txt" 2>&1 <<'SQL' ||
BEGIN;
-- a region's pools: the branches under it handling the project (gendata
-- gives every branch a sales department and a capacity of 1 to 4)
INSERT INTO branchline.lead_pool_members (tenant_id, holder_id, project_id, org_version, branch_ids, paths, capacities)
SELECT r.tenant_id, r.id, bp.project_id, o.version,
       array_agg(b.id ORDER BY b.path), array_agg(b.path ORDER BY b.path), array_agg(bp.capacity ORDER BY b.path)
  FROM branchline.units r
  JOIN branchline.org_state o ON o.tenant_id = r.tenant_id
  JOIN branchline.units b ON b.tenant_id = r.tenant_id AND b.kind = 'branch' AND r.id = ANY (b.ancestors)
  JOIN branchline.branch_projects bp ON bp.tenant_id = b.tenant_id AND bp.branch_id = b.id AND bp.capacity > 0
 WHERE r.tenant_id = :tid AND r.kind = 'region'
 GROUP BY r.tenant_id, r.id, bp.project_id, o.version;
INSERT INTO branchline.lead_pool_rounds (tenant_id, holder_id, project_id, total, members, rotations)
SELECT k.tenant_id, k.holder_id, k.project_id, (SELECT sum(c) FROM unnest(k.capacities) c), cardinality(k.branch_ids), 0
  FROM branchline.lead_pool_members k WHERE k.tenant_id = :tid;
INSERT INTO branchline.lead_pool_state (tenant_id, holder_id, project_id, branch_id, credit, credit_scale, round_weight, picks)
SELECT k.tenant_id, k.holder_id, k.project_id, m.b, 0, r.total, m.c, 0
  FROM branchline.lead_pool_members k
  JOIN branchline.lead_pool_rounds r ON r.tenant_id = k.tenant_id AND r.holder_id = k.holder_id AND r.project_id = k.project_id
 CROSS JOIN LATERAL unnest(k.branch_ids, k.capacities) AS m (b, c)
 WHERE k.tenant_id = :tid;
COMMIT;
ANALYZE branchline.lead_pool_members, branchline.lead_pool_rounds, branchline.lead_pool_state;
SELECT count(*) || ' pools, ' || sum(cardinality(branch_ids)) || ' members'
  FROM branchline.lead_pool_members WHERE tenant_id = :tid;
SQL
        die "floor setup failed: $(tail -n 3 "$TMP/out/floor-setup.txt")"
}

# alloc_floor: the pgbench side alone, as branchd with the floor tenant
# set, beside alloc and tpcb of the same run; then that its writes were
# done (a statement whose pool read found nothing would insert nothing and
# look fast): the floor tenant's leads, picks and rotations agree.
alloc_floor_run() {
    local done_line
    PGBENCH_OPTIONS="-c branchline.tenant=$FLOOR_TENANT" reference alloc_floor ../ref/alloc_floor.sql
    done_line=$(psql "$SUPER_CI" -XAt -F ' ' -c "
        SELECT (SELECT count(*) FROM branchline.leads WHERE tenant_id = $FLOOR_TENANT),
               (SELECT sum(picks) FROM branchline.lead_pool_state WHERE tenant_id = $FLOOR_TENANT),
               (SELECT sum(rotations) FROM branchline.lead_pool_rounds WHERE tenant_id = $FLOOR_TENANT)")
    echo "alloc_floor alloc_rps=$small_alloc alloc_floor_tps=${REF_TPS[alloc_floor]} tpcb_tps=${REF_TPS[tpcb]}" \
        "alloc_floor_over_tpcb=$(ratio "${REF_TPS[alloc_floor]}" "${REF_TPS[tpcb]}")" \
        "alloc_over_floor=$(ratio "$small_alloc" "${REF_TPS[alloc_floor]}")" \
        "floor_leads_picks_rotations=$(tr ' ' / <<<"$done_line")"
}

# The read pool and the TLS figures, one file each.
# shellcheck source=tests/bench/run_read_pool.sh
source "$HERE/run_read_pool.sh"
# shellcheck source=tests/bench/run_tls.sh
source "$HERE/run_tls.sh"

# ---- the run ------------------------------------------------------------------------------

declare -A D_RPS D_ITEMS D_P99 D_CPU_US RATIO REF_TPS
TARGETS=()
"$ROOT/deploy/install-deps.sh" >/dev/null 2>&1 || note "install-deps.sh failed; going on with what is installed"
command -v pgbench >/dev/null || die "pgbench is not installed (postgresql-contrib / postgresql-client)"
build
make_tmp
start_cluster
quietly "$ROOT/deploy/dev-certs.sh" "$TMP/certs" bench-admin big-admin
generate
if ((!IMPORT_ONLY && !TLS_ONLY)); then # the SQL references only
    size_setup
    tpcb_setup
    floor_setup
fi
if [[ $EUID -eq 0 ]]; then
    ulimit -Hn $((IDLE * 2 + 1024)) 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)"
start_daemon 2
note "branchd pid $DAEMON_PID on $SERVER; $CONNS connections, depth $DEPTH, ${WARMUP}s warm-up, ${DURATION}s runs"

if ((IMPORT_ONLY)); then
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg);" \
        "import only: branches=$((REGIONS * CITIES * BRANCHES)) leads=$LEADS_SMALL quick=$QUICK"
    import_run
    exit 0
fi
if ((TLS_ONLY)); then
    tls_only_run
    exit 0
fi

if ((READ_POOL)); then
    note "starting a streaming standby for the read pool"
    start_standby
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg);" \
        "read pool: connections=$CONNS depth=$DEPTH duration_s=$DURATION warmup_s=$WARMUP" \
        "branches=$((REGIONS * CITIES * BRANCHES)) leads=$LEADS_SMALL quick=$QUICK"
    read_pool_compare leads
    read_pool_compare mixed
    exit 0
fi

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg);" \
    "connections=$CONNS depth=$DEPTH duration_s=$DURATION branches=$((REGIONS * CITIES * BRANCHES))" \
    "leads=$LEADS_SMALL/$LEADS_LARGE quick=$QUICK"
scenario ping
scenario tree tree.sql
note "warming the $((REGIONS * PROJECTS)) pools of tenant bench"
warm_pools "$ADMIN" "$REGIONS"
scenario alloc alloc.sql
small_alloc=${D_RPS[alloc]}
reference tpcb builtin:tpcb-like
alloc_over_tpcb=$(ratio "$small_alloc" "${REF_TPS[tpcb]}")
echo "alloc_over_tpcb alloc_rps=$small_alloc tpcb_tps=${REF_TPS[tpcb]} tpcb_scale=$TPCB_SCALE ratio=$alloc_over_tpcb"
alloc_floor_run
alloc_size_run

note "adding leads up to $LEADS_LARGE"
"$HERE/gendata.sh" "$SUPER_CI" leads --count $((LEADS_LARGE - LEADS_SMALL)) >&2
# Stored leads only grow, so the two sides cannot alternate on one tenant:
# each side is two runs (the small side's are alloc and alloc-small2 above),
# and the ratio is of the sums, with each side's spread beside it. One run
# a side let a slow first run alone make the ratio (1.20 on 2026-12-03).
large_line=$(blbench alloc-large alloc)
large_alloc=$(kv "$large_line" rps)
large_alloc2=$(kv "$(blbench alloc-large2 alloc)" rps)
stored_ratio=$(ratio "$(awk -v a="$large_alloc" -v b="$large_alloc2" 'BEGIN { printf "%.1f\n", a + b }')" \
    "$(awk -v a="$small_alloc" -v b="$SMALL_ALLOC2" 'BEGIN { printf "%.1f\n", a + b }')")
echo "alloc_stored leads_small=$LEADS_SMALL rps_small=$small_alloc,$SMALL_ALLOC2 leads_large=$LEADS_LARGE" \
    "rps_large=$large_alloc,$large_alloc2 ratio=$stored_ratio" \
    "small_spread=$(ratio "$SMALL_ALLOC2" "$small_alloc") large_spread=$(ratio "$large_alloc2" "$large_alloc")"

scenario leads leads.sql
select50_reference
leads_over_select50=$(ratio "${D_RPS[leads]}" "${REF_TPS[select50]}")
echo "leads_over_select50 leads_rps=${D_RPS[leads]} select50_tps=${REF_TPS[select50]} ratio=$leads_over_select50"
scenario alloc-batch alloc-batch.sql
batch_ratio=$(ratio "${D_ITEMS[alloc-batch]}" "$large_alloc")
echo "alloc_batch leads_per_s=${D_ITEMS[alloc-batch]} alloc_leads_per_s=$large_alloc ratio=$batch_ratio"
import_run
scenario mixed tree.sql@45 leads.sql@45 alloc.sql@$MIX_ALLOC
echo "daemon_cpu_us_per_req ping=${D_CPU_US[ping]:-nan} tree=${D_CPU_US[tree]:-nan}" \
    "alloc=${D_CPU_US[alloc]:-nan} leads=${D_CPU_US[leads]:-nan} mixed=${D_CPU_US[mixed]:-nan}"

tls_handshakes
tls_branchctl

# ping with 1 and 2 workers, pipelined (PING_DEPTH requests in flight per
# connection) so that one worker is saturated; with each run, the CPU the
# daemon and blbench used, in cores (blbench shares this machine's cores).
# Not in a subshell: it restarts the daemon (DAEMON_PID). Sets PW_LINE.
ping_workers_run() {
    local workers=$1 line t0 t1 c0 c1
    stop_daemon
    start_daemon "$workers"
    t0=$(daemon_ticks)
    c0=$(children_ticks)
    line=$(blbench "ping-${workers}workers" ping --depth "$PING_DEPTH")
    t1=$(daemon_ticks)
    c1=$(children_ticks)
    PW_LINE="$line daemon_cores=$(cores "$t0" "$t1") blbench_cores=$(cores "$c0" "$c1")"
}
cores() {
    awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" -v s="$((DURATION + WARMUP))" \
        'BEGIN { printf "%.2f\n", (b - a) / hz / s }'
}
ping_workers_run 2
two_line=$PW_LINE
ping_workers_run 1
one_line=$PW_LINE
workers_ratio=$(ratio "$(kv "$two_line" rps)" "$(kv "$one_line" rps)")
echo "ping_workers depth=$PING_DEPTH rps_2=$(kv "$two_line" rps) rps_1=$(kv "$one_line" rps)" \
    "ratio=$workers_ratio daemon_cores_2=$(kv "$two_line" daemon_cores)" \
    "daemon_cores_1=$(kv "$one_line" daemon_cores) blbench_cores_2=$(kv "$two_line" blbench_cores)" \
    "blbench_cores_1=$(kv "$one_line" blbench_cores) machine_cores=$(nproc)"

stop_daemon
start_daemon 2
tls_idle

target tree_ratio "${RATIO[tree]}" ">=" 2.0
target leads_ratio "${RATIO[leads]}" ">=" 0.8
target alloc_ratio "${RATIO[alloc]}" ">=" 0.8
target alloc_over_tpcb "$alloc_over_tpcb" ">=" 0.5
target leads_over_select50 "$leads_over_select50" ">=" 0.5
target alloc_batch_over_alloc "$batch_ratio" ">=" 3.0
target alloc_large_over_small "$stored_ratio" "1+-" 0.15
target alloc_big_tenant_over_small "$SIZE_RATIO" "1+-" 0.15
target import_leads_per_s "$IMPORT_RATE" ">=" 10000
target idle_conns_held "$(kv "$many" idle)" ">=" "$IDLE"
target rss_per_idle_conn_kib "$per_conn" "<=" 20
target ping_p99_idle_ratio "$idle_ratio" "<=" 1.5
target handshakes_per_core_over_openssl "$hs_ratio" ">=" 0.7
target branchctl_full_over_resumed_cpu "$cli_ratio" ">=" 2.0
# ping with 2 workers against 1 is printed (ping_workers) but is no target:
# on 2 cores shared with the load generator it cannot be shown (RESULTS.md).
missed=0
for verdict in "${TARGETS[@]}"; do
    [[ $verdict == met ]] || missed=$((missed + 1))
done
echo "run.sh: $((${#TARGETS[@]} - missed)) targets met, $missed missed"
