#!/usr/bin/env bash
# Usage: tests/bench/profile.sh [--build DIR] [--seconds S] [--out DIR]
#
# Where alloc and lead list spend their time in PostgreSQL (issue 18): a
# throwaway cluster with pg_stat_statements (track = all: the statements
# inside the api functions too) and auto_explain (log_nested_statements,
# log_analyze, every statement of a sampled call), the bench tenant of
# gendata.sh (10,000 branches, 10,000 leads), then pgbench as branchd over
# the Unix socket running tests/bench/sql/alloc.sql, then sql/leads.sql, for
# S seconds each (default 10) with 4 clients, while `perf record -g` samples
# the machine (when perf may; reported for postgres processes). Prints per scenario: the
# statements by total time (calls, mean ms, share of the scenario's time)
# and perf's top symbols; keeps the auto_explain plans of one call in
# DIR/explain-SCENARIO.txt when --out is given.
# Loopback only; the cluster is stopped and removed on exit.

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=profile
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

BUILD=$ROOT/build SECONDS_EACH=10 OUT=
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || usage
    case $1 in
    --build) BUILD=$(realpath -m "$2") ;;
    --seconds) SECONDS_EACH=$2 ;;
    --out) OUT=$(realpath -m "$2") ;;
    *) usage ;;
    esac
    shift 2
done
[[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"

TMP=
cleanup() {
    local rc=$?
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ -n $OUT ]]; then
            mkdir -p "$OUT"
            cp "$TMP"/explain-* "$TMP"/perf-*.txt "$OUT/" 2>/dev/null || true
        fi
        pg_stop "$TMP/pg" || pg_stop "$TMP/pg" immediate || note "could not stop PostgreSQL in $TMP/pg"
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

quietly cmake --build "$BUILD" -j2 --target branchd || die "the build failed"
TMP=$(mktemp -d -p /tmp branchline-profile.XXXXXX)
chmod 0711 "$TMP"
PORT=$(free_tcp_port)
pg_init "$TMP/pg" "$TMP/sock" "$PORT" "shared_buffers = 256MB" "synchronous_commit = off" \
    "shared_preload_libraries = 'pg_stat_statements,auto_explain'" \
    "pg_stat_statements.track = all" "pg_stat_statements.max = 10000" \
    "auto_explain.log_min_duration = 0" "auto_explain.log_nested_statements = on" \
    "auto_explain.log_analyze = on" "auto_explain.log_buffers = on" "auto_explain.log_timing = on" \
    "auto_explain.sample_rate = 0" "track_functions = all" "log_line_prefix = '%p '"
pg_start "$TMP/pg" "$TMP/pg.log"
pg_app_roles "$TMP/sock" "$PORT" postgres
pg_psql "$TMP/sock" "$PORT" postgres -c "CREATE DATABASE bench"
SUPER_CI="host=$TMP/sock port=$PORT user=$(pg_superuser) dbname=bench"
APP_CI="host=$TMP/sock port=$PORT user=branchd dbname=bench"
quietly "$BUILD/daemon/branchd" migrate --conninfo "$SUPER_CI" || die "branchd migrate failed"
psql "$SUPER_CI" -Xqc "CREATE EXTENSION pg_stat_statements"
"$HERE/gendata.sh" "$SUPER_CI" org >&2
"$HERE/gendata.sh" "$SUPER_CI" leads --count 10000 >&2

# profile NAME SCRIPT
profile() {
    local name=$1 script=$2 perf_pid=
    local args=(-n -M prepared -c 4 -j 2 -f "$HERE/sql/$script" -D subject=CN=bench-admin -D regions=20
        -D cities=10 -D branches=50 -D projects=50 -D leads_limit=50 -D "tag=prof$name$RANDOM")
    # warm-up: past the fifth call of each session, so PL/pgSQL's plans are generic as in branchd
    pgbench "${args[@]}" -t 20 "$APP_CI" >/dev/null 2>&1 || die "pgbench $name failed"
    psql "$SUPER_CI" -XqAtc "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
    # System-wide (the backends are forked after it starts), reported for
    # the postgres processes alone; flat: PostgreSQL has no frame pointers.
    if perf record -a -o "$TMP/perf-$name.data" -- sleep "$SECONDS_EACH" \
        >/dev/null 2>"$TMP/perf-$name.err" & then
        perf_pid=$!
    fi
    pgbench "${args[@]}" -T "$SECONDS_EACH" "$APP_CI" >"$TMP/pgbench-$name.txt" 2>&1 || true
    [[ -z $perf_pid ]] || wait "$perf_pid" || note "perf record failed: $(tail -n 1 "$TMP/perf-$name.err")"
    echo "== $name: $(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$TMP/pgbench-$name.txt") tps (4 clients, load average $(cut -d ' ' -f 1 /proc/loadavg))"
    psql "$SUPER_CI" -XA -F ' | ' -c "
        SELECT round((100 * total_exec_time / sum(total_exec_time) FILTER (WHERE toplevel) OVER ())::numeric, 1) AS pct_of_top,
               toplevel AS top, calls, round((total_exec_time / calls)::numeric, 3) AS mean_ms,
               left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement
          FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench') AND calls > 0
         ORDER BY total_exec_time DESC LIMIT 18"
    psql "$SUPER_CI" -XA -F ' | ' -c "
        SELECT funcname, calls, round((self_time / calls)::numeric, 3) AS self_ms,
               round((total_time / calls)::numeric, 3) AS total_ms
          FROM pg_stat_user_functions WHERE calls > 0 ORDER BY self_time DESC LIMIT 12"
    if [[ -s $TMP/perf-$name.data ]]; then
        perf report -i "$TMP/perf-$name.data" --comm postgres --sort dso,symbol --stdio 2>/dev/null |
            grep -E '^ +[0-9]' | head -n 20 || true  # head closes the pipe early
    fi
}

# auto_explain of 8 calls of each in one session (from the sixth on,
# PL/pgSQL runs generic plans, as in branchd's long-lived sessions).
explain_one() {
    local name=$1 script=$2 from
    from=$(wc -l <"$TMP/pg.log")
    psql "$SUPER_CI" -Xqc "ALTER SYSTEM SET auto_explain.sample_rate = 1" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    pgbench -n -M prepared -c 1 -t 8 -f "$HERE/sql/$script" -D subject=CN=bench-admin -D regions=20 \
        -D cities=10 -D branches=50 -D projects=50 -D leads_limit=50 -D "tag=expl$name$RANDOM" \
        "$APP_CI" >/dev/null 2>&1 || true
    psql "$SUPER_CI" -Xqc "ALTER SYSTEM SET auto_explain.sample_rate = 0" -c "SELECT pg_reload_conf()" >/dev/null
    tail -n +"$((from + 1))" "$TMP/pg.log" >"$TMP/explain-$name.txt"
    echo "== $name: auto_explain of 8 calls: $(grep -c 'duration:' "$TMP/explain-$name.txt") statements logged" \
        "(slowest: $(grep -oE 'duration: [0-9.]+ ms' "$TMP/explain-$name.txt" | sort -k2 -g | tail -n 1))"
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
profile alloc alloc.sql
profile leads leads.sql
explain_one alloc alloc.sql
explain_one leads leads.sql
