#!/usr/bin/env bash
# Usage: tests/bench/profile.sh [--build DIR] [--seconds S] [--out DIR] [--big N]
#
# Where alloc, lead import and lead list spend their time in PostgreSQL
# (issue 18): a throwaway cluster with pg_stat_statements (track = all: the
# statements inside the api functions too), track_functions = all and
# auto_explain (log_nested_statements, log_analyze, every statement of a
# sampled call), the bench tenant of gendata.sh (10,000 branches, 1,000
# pools of 50, 10,000 leads), then, as branchd over the Unix socket:
#   import-cold  one api.lead_import of 5,000 bench-like rows (random
#                projects and origins) while no pool has been allocated
#                into since the data was generated, rolled back;
#   alloc-cold   one api.lead_add into every pool (20 regions x 50
#                projects), one session: the first touch of each pool (its
#                members read from the organization and kept, its first
#                round started); this leaves every pool warm;
#   alloc-warm-sweep  the same sweep again: the same calls with every pool
#                warm, in the same conditions (one session, no contention);
#   big-cold, big-warm-sweep  with --big N: the same two sweeps over the
#                same 1,000 pools (regions r1..r20) of a second tenant of N
#                branches in the same shape (gendata.sh org --size N):
#                the first touch and the steady state against tenant size;
#   import-warm  the same import again, pools warm, rolled back;
#   import-floor what a set-based import cannot go below here: the same
#                5,000 leads and their events inserted by one
#                INSERT ... SELECT (with and without the explain), then
#                the pool state, round and day-count rows they imply by one
#                statement each, rolled back;
#   alloc        pgbench of tests/bench/sql/alloc.sql, 4 clients, S seconds
#                (default 10), pools warm: the steady state;
#   alloc-generic, import-warm-generic  the same with plan_cache_mode =
#                force_generic_plan: what planning on every call costs;
#   leads        the same for sql/leads.sql;
#   alloc-floor  pgbench of tests/bench/ref/alloc_floor.sql on the bench
#                tenant's warm pools, 4 clients, S seconds (last: its
#                writes keep no invariant);
#   cpu          with the statistics off, the cluster's CPU per transaction
#                (/proc: all its processes) for pgbench's tpcb-like, alloc,
#                alloc with generic plans and the alloc floor;
# while `perf record` samples the machine (when perf may; reported for
# postgres processes) during alloc and leads. Prints per part: the
# statements and functions by total time, in ms per call of the part's api
# function (per lead for an import) and as a share of that function's
# time; keeps the auto_explain plans of 8 calls of alloc and leads in
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

BUILD=$ROOT/build SECONDS_EACH=10 OUT='' BIG=''
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || usage
    case $1 in
    --build) BUILD=$(realpath -m "$2") ;;
    --seconds) SECONDS_EACH=$2 ;;
    --out) OUT=$(realpath -m "$2") ;;
    --big) BIG=$2 ;;
    *) usage ;;
    esac
    shift 2
done
[[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
[[ -z $BIG || ($BIG =~ ^[1-9][0-9]*$ && $((BIG % 500)) -eq 0) ]] || die "--big must be a positive multiple of 500"

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
    "pg_stat_statements.track = all" "pg_stat_statements.max = 10000" "pg_stat_statements.track_planning = on" \
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
if [[ -n $BIG ]]; then
    "$HERE/gendata.sh" "$SUPER_CI" org --tenant big --admin CN=big-admin --size "$BIG" >&2
    "$HERE/gendata.sh" "$SUPER_CI" leads --tenant big --count 10000 >&2
fi

TENANT=$(psql "$SUPER_CI" -XAtc "SELECT id FROM branchline.tenants WHERE code = 'bench'")
[[ $TENANT =~ ^[0-9]+$ ]] || die "no bench tenant"
REGIONS=20 PROJECTS=50 IMPORT_LEADS=5000
PGB_VARS=(-D subject=CN=bench-admin -D "regions=$REGIONS" -D cities=10 -D branches=50 -D "projects=$PROJECTS"
    -D leads_limit=50)

reset_stats() {
    psql "$SUPER_CI" -XqAtc "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
}

# report PART FUNCTION [UNITS]: the statements and functions since the
# last reset_stats, in ms per call of api.FUNCTION (per UNITS when given:
# the leads of an import) and as a share of api.FUNCTION's total time.
# Nested statements are inside their callers' figures (a function's
# statement inside the statement that called it), so shares add up to more
# than 100%; a function's self time is its own and includes the planning of
# its statements, which the statements' ms_per do not (plan_ms_per, plans_per:
# pg_stat_statements.track_planning; a PL/pgSQL statement whose custom plans
# look cheaper than its generic one is planned again on every execution).
report() {
    local part=$1 fn=$2 units=${3:-0}
    # a session's counters reach the shared statistics as it ends
    sleep 1
    psql "$SUPER_CI" -XA -F ' | ' -v ON_ERROR_STOP=1 -v part="$part" -v fn="$fn" -v units="$units" <<'SQL'
SELECT calls AS fn_calls, round(total_time::numeric, 1) AS fn_ms,
       CASE WHEN :units > 0 THEN :units ELSE calls END AS per
  FROM pg_stat_user_functions WHERE schemaname = 'api' AND funcname = :'fn' \gset
\echo == :part: api.:fn :fn_calls calls, :fn_ms ms in all; figures per :per (ms_per, calls_per) and share of api.:fn (pct)
SELECT round((total_exec_time / :per)::numeric, 4) AS ms_per, round((100 * total_exec_time / :fn_ms)::numeric, 1) AS pct,
       round(calls::numeric / :per, 2) AS calls_per, round((total_plan_time / :per)::numeric, 4) AS plan_ms_per,
       round(plans::numeric / :per, 2) AS plans_per, toplevel AS top,
       left(regexp_replace(query, '\s+', ' ', 'g'), 120) AS statement
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench') AND calls > 0
   AND query !~* 'pg_stat_(statements_)?reset'
 ORDER BY total_exec_time DESC LIMIT 25;
SELECT schemaname || '.' || funcname AS function, round(calls::numeric / :per, 2) AS calls_per,
       round((self_time / :per)::numeric, 4) AS self_ms_per, round((total_time / :per)::numeric, 4) AS total_ms_per,
       round((100 * self_time / :fn_ms)::numeric, 1) AS self_pct
  FROM pg_stat_user_functions WHERE calls > 0 ORDER BY self_time DESC LIMIT 20;
SQL
}

# profile NAME SCRIPT [FUNCTION]: pgbench of SCRIPT (tests/bench/sql/, or
# ../ref/), 4 clients, SECONDS_EACH, with perf; reported per call of
# api.FUNCTION (without one: the statements only).
profile() {
    local name=$1 script=$2 fn=${3:-} perf_pid=
    local args=(-n -M prepared -c 4 -j 2 -f "$HERE/sql/$script" "${PGB_VARS[@]}" -D "tag=prof$name$RANDOM")
    # warm-up: past the fifth call of each session, so PL/pgSQL's plans are generic as in branchd
    pgbench "${args[@]}" -t 20 "$APP_CI" >/dev/null 2>&1 || die "pgbench $name failed"
    reset_stats
    # System-wide (the backends are forked after it starts), reported for
    # the postgres processes alone; flat: PostgreSQL has no frame pointers.
    if perf record -a -o "$TMP/perf-$name.data" -- sleep "$SECONDS_EACH" \
        >/dev/null 2>"$TMP/perf-$name.err" & then
        perf_pid=$!
    fi
    pgbench "${args[@]}" -T "$SECONDS_EACH" "$APP_CI" >"$TMP/pgbench-$name.txt" 2>&1 || true
    [[ -z $perf_pid ]] || wait "$perf_pid" || note "perf record failed: $(tail -n 1 "$TMP/perf-$name.err")"
    echo "== $name: $(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$TMP/pgbench-$name.txt") tps (4 clients, load average $(cut -d ' ' -f 1 /proc/loadavg))"
    if [[ -n $fn ]]; then
        report "$name" "$fn"
    else
        sleep 1
        psql "$SUPER_CI" -XA -F ' | ' -c "
            SELECT calls, round(mean_exec_time::numeric, 4) AS mean_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 120) AS statement
              FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench') AND calls > 0 AND toplevel
             ORDER BY total_exec_time DESC LIMIT 3"
    fi
    if [[ -s $TMP/perf-$name.data ]]; then
        perf report -i "$TMP/perf-$name.data" --comm postgres --sort dso,symbol --stdio 2>/dev/null |
            grep -E '^ +[0-9]' | head -n 20 || true  # head closes the pipe early
    fi
}

# alloc_sweep PART [SUBJECT TENANT]: one api.lead_add into every pool
# (region x project) of regions r1..rREGIONS, as SUBJECT (default the
# bench admin), in one session, in region and project order. The first sweep is the
# first touch of each pool since the data was generated (members read from
# the organization and kept, a first round started, the pool's rows written
# once) and leaves every pool warm; a second one is the same calls warm.
alloc_sweep() {
    local part=$1 subject=${2:-CN=bench-admin} tenant=${3:-$TENANT} r p t0 t1
    reset_stats
    t0=$EPOCHREALTIME
    for r in $(seq 1 "$REGIONS"); do
        for p in $(seq 1 "$PROJECTS"); do
            printf "SELECT count(*) FROM api.lead_add('%s', '%s-%d-%d', 'p%d', 'search', 'r%d', 'Bench lead', '1%010d', NULL, NULL);\n" \
                "$subject" "$part" "$r" "$p" "$p" "$r" "$((RANDOM * 32768 + RANDOM))"
        done
    done | psql "$APP_CI" -XqAt -v ON_ERROR_STOP=1 >/dev/null || die "the pool sweep failed"
    t1=$EPOCHREALTIME
    echo "== $part: $((REGIONS * PROJECTS)) calls, one per pool, one session, in" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }') (load average $(cut -d ' ' -f 1 /proc/loadavg));" \
        "pools with kept members and a round now:" \
        "$(psql "$SUPER_CI" -XAtc "SELECT (SELECT count(*) FROM branchline.lead_pool_members WHERE tenant_id = $tenant)
                                   || ' and ' || (SELECT count(*) FROM branchline.lead_pool_rounds WHERE tenant_id = $tenant)")"
    report "$part" lead_add
}

# The import's rows, the same in every session (setseed): bench-like, as
# run.sh's import scenario writes them (random projects and origins).
IMPORT_ROWS="SELECT setseed(0.18);
CREATE TEMP TABLE import_rows AS
SELECT jsonb_agg(jsonb_build_object('external_id', 'imp-' || i, 'project', 'p' || (1 + floor(random() * $PROJECTS))::int,
                                    'channel', 'search', 'origin', 'r' || (1 + floor(random() * $REGIONS))::int,
                                    'name', 'Import lead ' || i,
                                    'phone', '1' || lpad(floor(random() * 1e10)::bigint::text, 10, '0')) ORDER BY i) AS rows
  FROM generate_series(1, $IMPORT_LEADS) i;"

# import_profile PART: one api.lead_import of the rows, rolled back (the
# pools stay as they were), reported per lead.
import_profile() {
    local part=$1 out
    reset_stats
    out=$(psql "$APP_CI" -XAt -v ON_ERROR_STOP=1 2>&1 <<SQL
$IMPORT_ROWS
BEGIN;
\\timing on
SELECT string_agg(result || ' ' || n, ', ') FROM (
    SELECT x.result || '/' || x.status AS result, count(*) AS n
      FROM api.lead_import('CN=bench-admin', (SELECT rows FROM import_rows), 1) x GROUP BY 1) y;
\\timing off
ROLLBACK;
SQL
    ) || die "the import failed: $out"
    echo "== $part: $IMPORT_LEADS leads, $(grep -E '/' <<<"$out" | head -n 1)," \
        "$(sed -nE 's/^Time: ([0-9.]+) ms.*/\1 ms/p' <<<"$out" | head -n 1) (load average $(cut -d ' ' -f 1 /proc/loadavg))"
    report "$part" lead_import "$IMPORT_LEADS"
}

# What a set-based import cannot go below with this schema: the same leads
# (projects and origins resolved, each given a random member of its pool's
# kept members, as allocated) and their events inserted by one
# INSERT ... SELECT, every index of leads and lead_events paid; with the
# explain of the pool's size on each event (built once per pool), without
# it, and with the pool state, round and day-count rows the leads imply
# (one statement each, aggregated per row). Each rolled back.
FLOOR_WITH='WITH input AS (
    SELECT x.n, x.e ->> '\''external_id'\'' AS external_id, x.e ->> '\''name'\'' AS name, x.e ->> '\''phone'\'' AS phone,
           u.id AS holder_id, j.id AS project_id
      FROM import_rows r CROSS JOIN LATERAL jsonb_array_elements(r.rows) WITH ORDINALITY AS x (e, n)
      JOIN branchline.units u ON u.tenant_id = branchline.current_tenant() AND u.path = '\''/'\'' || (x.e ->> '\''origin'\'') || '\''/'\''
      JOIN branchline.projects j ON j.tenant_id = branchline.current_tenant() AND j.code = x.e ->> '\''project'\''
), pool AS (
    SELECT k.tenant_id, k.holder_id, k.project_id, k.branch_ids,
           (SELECT jsonb_agg(jsonb_build_array(y.b, y.w, 0, 0.5, false, '\'''\'') ORDER BY y.o)
              FROM unnest(k.branch_ids, k.capacities) WITH ORDINALITY AS y (b, w, o)) AS explain
      FROM branchline.lead_pool_members k
     WHERE k.tenant_id = branchline.current_tenant()
       AND (k.holder_id, k.project_id) IN (SELECT i.holder_id, i.project_id FROM input i)
), lead AS (
    INSERT INTO branchline.leads (tenant_id, external_id, project_id, channel, origin_id, holder_id, branch_id,
                                  status, policy, name, phone, phone_key, created_at, allocated_at)
    SELECT p.tenant_id, i.external_id, i.project_id, '\''search'\'', i.holder_id, i.holder_id,
           p.branch_ids[1 + i.n % cardinality(p.branch_ids)], '\''allocated'\'', '\''weighted'\'', i.name, i.phone,
           right(i.phone, 10), now(), now()
      FROM input i JOIN pool p ON p.holder_id = i.holder_id AND p.project_id = i.project_id
     ORDER BY i.n
    RETURNING tenant_id, id, holder_id, project_id, branch_id
), event AS (
    INSERT INTO branchline.lead_events (tenant_id, lead_id, at, kind, to_branch_id, principal, policy, explain)
    SELECT l.tenant_id, l.id, now(), '\''allocated'\'', l.branch_id, '\''CN=bench-admin'\'', '\''weighted'\'', EXPLAIN_VALUE
      FROM lead l JOIN pool p ON p.holder_id = l.holder_id AND p.project_id = l.project_id
)'
FLOOR_COUNTERS=', state AS (
    UPDATE branchline.lead_pool_state s
       SET picks = s.picks + c.n, allocated = s.allocated + c.n, open_leads = s.open_leads + c.n
      FROM (SELECT l.tenant_id, l.holder_id, l.project_id, l.branch_id, count(*) AS n FROM lead l GROUP BY 1, 2, 3, 4) c
     WHERE s.tenant_id = c.tenant_id AND s.holder_id = c.holder_id AND s.project_id = c.project_id
       AND s.branch_id = c.branch_id
), round AS (
    UPDATE branchline.lead_pool_rounds r SET rotations = r.rotations + c.n
      FROM (SELECT l.tenant_id, l.holder_id, l.project_id, count(*) AS n FROM lead l GROUP BY 1, 2, 3) c
     WHERE r.tenant_id = c.tenant_id AND r.holder_id = c.holder_id AND r.project_id = c.project_id
), day AS (
    INSERT INTO branchline.lead_day_counts AS d (tenant_id, branch_id, day, project_id, holder_id, received)
    SELECT l.tenant_id, l.branch_id, branchline.local_day(now()), l.project_id, l.holder_id, count(*)
      FROM lead l GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, branch_id, day, project_id, holder_id) DO UPDATE SET received = d.received + excluded.received
)'
import_floor() {
    local out with_explain without_explain
    with_explain=${FLOOR_WITH//EXPLAIN_VALUE/p.explain}
    without_explain=${FLOOR_WITH//EXPLAIN_VALUE/NULL::jsonb}
    out=$(psql "$APP_CI" -XAt -v ON_ERROR_STOP=1 2>&1 <<SQL
$IMPORT_ROWS
BEGIN;
SELECT set_config('branchline.tenant', '$TENANT', true);
SAVEPOINT s;
\\timing on
$with_explain SELECT 'leads_events ' || count(*) FROM lead;
\\timing off
ROLLBACK TO s;
\\timing on
$without_explain SELECT 'leads_events_no_explain ' || count(*) FROM lead;
\\timing off
ROLLBACK TO s;
\\timing on
$with_explain $FLOOR_COUNTERS SELECT 'leads_events_counters ' || count(*) FROM lead;
\\timing off
ROLLBACK;
SQL
    ) || die "the import floor failed: $out"
    echo "== import-floor: $IMPORT_LEADS leads, one statement each, rolled back (load average $(cut -d ' ' -f 1 /proc/loadavg))"
    awk -v n="$IMPORT_LEADS" '/^leads_/ { what = $1; rows = $2 }
        /^Time: / { printf "%s rows=%s ms=%.1f ms_per_lead=%.4f leads_per_s=%.0f\n", what, rows, $2, $2 / n, n * 1000 / $2 }' <<<"$out"
}

# CPU ticks of the cluster so far: the postmaster, its live processes, and
# (through the postmaster's cutime and cstime) the ones that exited.
pg_ticks() {
    local pm p
    pm=$(head -n 1 "$TMP/pg/postmaster.pid")
    {
        awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
        for p in $(pgrep -P "$pm"); do
            awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true
        done
    } | awk '{ s += $1 } END { print s + 0 }'
}

# cpu_one NAME ARGS...: pgbench ARGS (4 clients, SECONDS_EACH, after 20
# transactions per client), the cluster's CPU per transaction in its window.
cpu_one() {
    local name=$1 t0 t1 n
    shift
    pgbench -n -M prepared -c 4 -j 2 "$@" -t 20 "$APP_CI" >/dev/null 2>&1 || die "pgbench $name failed"
    sleep 0.5
    t0=$(pg_ticks)
    pgbench -n -M prepared -c 4 -j 2 "$@" -T "$SECONDS_EACH" "$APP_CI" >"$TMP/pgbench-cpu-$name.txt" 2>&1 || true
    sleep 0.5
    t1=$(pg_ticks)
    n=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$TMP/pgbench-cpu-$name.txt")
    awk -v name="$name" -v n="${n:-0}" -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v s="$SECONDS_EACH" \
        'BEGIN { printf "cpu %s transactions=%d tps=%.1f postgres_cpu_ms_per_xact=%.3f postgres_cores=%.2f\n",
                 name, n, n / s, (n > 0 ? t / hz * 1000 / n : 0), t / hz / s }'
}

# The cluster's CPU per transaction (all its processes: backends, WAL
# writer, autovacuum) for alloc (warm pools), alloc with generic plans, the
# alloc floor and pgbench's tpcb-like (scale 4: one branch row per client),
# with pg_stat_statements, track_functions and auto_explain off, 4 clients
# over the Unix socket: what one allocation costs the database, against
# what a TPC-B transaction does, whatever else loads the machine.
cpu_part() {
    note "pgbench -i: tpcb-like tables at scale 4"
    pgbench -i -q -I dtGvp -s 4 "$SUPER_CI" >"$TMP/pgbench-init.txt" 2>&1 || die "pgbench -i failed"
    psql "$SUPER_CI" -XqAt -v ON_ERROR_STOP=1 \
        -c "GRANT SELECT, INSERT, UPDATE ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO branchd" \
        -c "ALTER SYSTEM SET pg_stat_statements.track = 'none'" -c "ALTER SYSTEM SET track_functions = 'none'" \
        -c "ALTER SYSTEM SET pg_stat_statements.track_planning = off" -c "SELECT pg_reload_conf()" >/dev/null
    echo "== cpu: tracking off, 4 clients, ${SECONDS_EACH} s each (load average $(cut -d ' ' -f 1 /proc/loadavg))"
    cpu_one tpcb -b tpcb-like
    cpu_one alloc -f "$HERE/sql/alloc.sql" "${PGB_VARS[@]}" -D "tag=cpua$RANDOM"
    PGOPTIONS="-c plan_cache_mode=force_generic_plan" cpu_one alloc-generic -f "$HERE/sql/alloc.sql" "${PGB_VARS[@]}" \
        -D "tag=cpug$RANDOM"
    PGOPTIONS="-c branchline.tenant=$TENANT" cpu_one alloc-floor -f "$HERE/ref/alloc_floor.sql" "${PGB_VARS[@]}" \
        -D "tag=cpuf$RANDOM"
}

# auto_explain of 8 calls of each in one session (from the sixth on,
# PL/pgSQL runs generic plans, as in branchd's long-lived sessions).
explain_one() {
    local name=$1 script=$2 from
    from=$(wc -l <"$TMP/pg.log")
    psql "$SUPER_CI" -Xqc "ALTER SYSTEM SET auto_explain.sample_rate = 1" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    pgbench -n -M prepared -c 1 -t 8 -f "$HERE/sql/$script" "${PGB_VARS[@]}" -D "tag=expl$name$RANDOM" \
        "$APP_CI" >/dev/null 2>&1 || true
    psql "$SUPER_CI" -Xqc "ALTER SYSTEM SET auto_explain.sample_rate = 0" -c "SELECT pg_reload_conf()" >/dev/null
    tail -n +"$((from + 1))" "$TMP/pg.log" >"$TMP/explain-$name.txt"
    echo "== $name: auto_explain of 8 calls: $(grep -c 'duration:' "$TMP/explain-$name.txt") statements logged" \
        "(slowest: $(grep -oE 'duration: [0-9.]+ ms' "$TMP/explain-$name.txt" | sort -k2 -g | tail -n 1))"
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
import_profile import-cold
alloc_sweep alloc-cold
# the same sweep again: every pool warm, in the same conditions
alloc_sweep alloc-warm-sweep
if [[ -n $BIG ]]; then
    big_tenant=$(psql "$SUPER_CI" -XAtc "SELECT id FROM branchline.tenants WHERE code = 'big'")
    alloc_sweep big-cold CN=big-admin "$big_tenant"
    alloc_sweep big-warm-sweep CN=big-admin "$big_tenant"
fi
import_profile import-warm
import_floor
profile alloc alloc.sql lead_add
# The same with every plan generic (plan_cache_mode; statements planned once
# per session): how much of the steady state is planning.
PGOPTIONS="-c plan_cache_mode=force_generic_plan" profile alloc-generic alloc.sql lead_add
PGOPTIONS="-c plan_cache_mode=force_generic_plan" import_profile import-warm-generic
profile leads leads.sql lead_list
explain_one alloc alloc.sql
explain_one leads leads.sql
# last: its writes keep no invariant of the bench tenant's pools
PGOPTIONS="-c branchline.tenant=$TENANT" profile alloc-floor ../ref/alloc_floor.sql
cpu_part
