#!/usr/bin/env bash
# Usage: tests/sql/run.sh [SUPER_CONNINFO APP_CONNINFO]
#
# The database-level tests of the organization schema (sql/002_* onwards),
# without branchd: creates a fresh database, applies every sql/NNN_*.sql the
# way `branchd migrate` does (one transaction each, recorded in
# schema_migrations) as the owner role branchline_owner (created NOLOGIN if
# missing; no superuser, so FORCE ROW LEVEL SECURITY binds it as it would a
# production owner), bootstraps an operator as that owner, then
#   - check_contract.py: every organization operation of the protocol has
#     its api function, with the request's parameters and the result's columns
#   - test_org.sql, as the daemon's role: the organization end to end
#   - a concurrency test: several sessions changing one tree at once
#   - test_leads.sql, as the daemon's role (and as the owner for the sweep
#     with a faked clock): intake, allocation policies, caps, SLA, visibility
#   - lead concurrency: 16 sessions adding 5,000 leads to one pool (and the
#     same external ids) at once; two sweeps expiring the same 2,000 SLAs at
#     once; NOTIFY of allocations, only when committed
#   - test_scale.sql: 100,000 units (scale_fixture.sql); the lookups must be
#     index scans under row-level security; prints a few timings
# Exits non-zero on the first failure.
#
#   SUPER_CONNINFO  key=value libpq string of a superuser, e.g.
#                   "host=/tmp/pg port=5432 user=postgres"
#   APP_CONNINFO    the same for a login role that is a member of
#                   branchline_app and nothing more, e.g. "... user=branchd"
#   (" dbname=..." is appended to both.)
#
# Without arguments it starts a throwaway cluster of its own (initdb from the
# installed PostgreSQL, run as user postgres when we are root), creates the
# roles branchline_app and branchd, and removes everything on exit.
# KEEP_DB=1 keeps the test database for inspection.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DB=branchline_sqltest_$$
TMP=

die() { echo "run.sh: $*" >&2; exit 1; }

as_pg() {
    if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

cleanup() {
    if [[ -n ${SUPER:-} && ${KEEP_DB:-0} != 1 ]]; then
        psql "$SUPER dbname=postgres" -qXc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    fi
    if [[ -n $TMP ]]; then
        as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -m fast stop >/dev/null 2>&1 || true
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

start_cluster() {
    PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
    [[ -x $PGBIN/initdb ]] || PGBIN=$(pg_config --bindir)
    TMP=$(mktemp -d /tmp/branchline-sqltest.XXXXXX)
    chmod 755 "$TMP"
    [[ $EUID -eq 0 ]] && chown postgres: "$TMP"
    local port=$((20000 + RANDOM % 20000)) user=postgres
    [[ $EUID -eq 0 ]] || user=$(id -un)
    as_pg "$PGBIN/initdb" -D "$TMP/data" -U "$user" -A trust -E UTF8 --no-locale >"$TMP/initdb.log" 2>&1 ||
        { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
    as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w \
        -o "-p $port -k $TMP -c listen_addresses=''" start >/dev/null ||
        { cat "$TMP/server.log" >&2; die "the server did not start"; }
    SUPER="host=$TMP port=$port user=$user"
    APP="host=$TMP port=$port user=branchd"
    psql "$SUPER dbname=postgres" -qX -v ON_ERROR_STOP=1 <<'EOF'
CREATE ROLE branchline_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE branchd LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE branchline_app;
EOF
}

# psql as the owner role: the superuser's connection, SET ROLE.
as_owner() {
    psql "$SUPER dbname=$DB" -qX -v ON_ERROR_STOP=1 -c "SET ROLE $OWNER" -c "SET client_min_messages = warning" "$@"
}

# Applies every migration like daemon/migrate.c: BEGIN, the whole file as one
# query string, the schema_migrations row, COMMIT.
migrate() {
    local f name
    as_owner -c "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    for f in "$ROOT"/sql/[0-9][0-9][0-9]_*.sql; do
        name=$(basename "$f" .sql)
        as_owner -c BEGIN -c "$(cat "$f")" \
            -c "INSERT INTO schema_migrations (version, name) VALUES (${name:0:3}, '$name')" -c COMMIT ||
            die "migration $name failed"
    done
}

# Sessions that change one tenant's tree at the same time: two move their
# city back and forth between regions, four add branches under those cities
# at whichever path they guess (an add that looks for the city where it just
# left fails with NOT_FOUND, as it should), and all race to add the same
# branch. Afterwards exactly one racer succeeded, every successful add is
# there, and every unit's path and ancestors agree with its parent's: an add
# that resolved its parent before a move committed would break that.
concurrency() {
    local s i from to movers=() others=() added
    for s in 1 2; do
        for i in $(seq 1 20); do
            if ((i % 2)); then from=ra; to=rb; else from=rb; to=ra; fi
            echo "SELECT id FROM api.unit_move('CN=race-admin', '$from/c$s', '$to');"
        done >"$WORK/mover$s.sql"
        psql "$APP dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -f "$WORK/mover$s.sql" >/dev/null &
        movers+=($!)
    done
    for s in 1 2 3 4; do
        for i in $(seq 1 20); do
            echo "SELECT 'added' FROM api.unit_add('CN=race-admin', 'ra/c$((s % 2 + 1))/a$s-$i', 'branch', 'A', NULL);"
            echo "SELECT 'added' FROM api.unit_add('CN=race-admin', 'rb/c$((s % 2 + 1))/b$s-$i', 'branch', 'B', NULL);"
        done >"$WORK/adder$s.sql"
        psql "$APP dbname=$DB" -qXAt -f "$WORK/adder$s.sql" >"$WORK/adder$s.out" 2>/dev/null &
        others+=($!)
        psql "$APP dbname=$DB" -qXAt \
            -c "SELECT 'added' FROM api.unit_add('CN=race-admin', 'ra/same', 'branch', 'Same', NULL)" \
            >"$WORK/race$s.out" 2>/dev/null &
        others+=($!)
    done
    for s in "${movers[@]}"; do wait "$s" || die "concurrency: a move failed"; done
    for s in "${others[@]}"; do wait "$s" || true; done
    [[ $(cat "$WORK"/race*.out | grep -c added) == 1 ]] ||
        die "concurrency: $(cat "$WORK"/race*.out | grep -c added) sessions added the same unit, expected 1"
    added=$(cat "$WORK"/adder*.out | grep -c added || true)
    psql "$SUPER dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -v added="$added" <<'EOF' || die "concurrency: the tree is inconsistent"
SELECT count(*) = 0 AS consistent FROM branchline.units u
  JOIN branchline.units p ON p.tenant_id = u.tenant_id AND p.id = u.parent_id
 WHERE u.path <> p.path || u.code || '/' OR u.ancestors <> p.ancestors || p.id \gset
SELECT count(*) AS branches FROM branchline.units u JOIN branchline.tenants t ON t.id = u.tenant_id
 WHERE t.code = 'race' AND u.kind = 'branch' \gset
\if :consistent
\else
\warn 'units disagree with their parent'
SELECT 1/0;
\endif
SELECT :branches = :added + 1 AS all_there \gset
\if :all_there
\else
\warn :branches 'branches, expected' :added '+ 1'
SELECT 1/0;
\endif
EOF
}

# 16 sessions add 5,000 leads to tenant lconc's pool at once (12 one lead
# per statement, 4 by imports of 25), each also adding the same ten
# external ids. Afterwards: 5,010 leads, one allocation each, one creation
# of each shared id, counters equal to the rows they count, and the shares
# of the pool within one lead of its weights (1..5): the pool lock
# serialized every decision.
lead_concurrency() {
    local c i pids=() created
    for c in $(seq 1 16); do
        {
            for i in $(seq 1 10); do
                echo "SELECT 'same-$i ' || created FROM api.lead_add('CN=lconc-admin', 'same-$i', 'k', 'search', NULL, NULL, NULL, NULL, NULL);"
            done
            if ((c <= 12)); then
                for i in $(seq "$c" 16 5000); do
                    echo "SELECT id FROM api.lead_add('CN=lconc-admin', 'k-$i', 'k', 'search', NULL, NULL, NULL, NULL, NULL);"
                done
            else
                seq "$c" 16 5000 | xargs -n 25 | while read -r batch; do
                    # shellcheck disable=SC2086
                    printf "SELECT count(*) FROM api.lead_import('CN=lconc-admin', '[%s]', 1);\n" \
                        "$(printf '{"external_id": "k-%s", "project": "k", "channel": "search"},' $batch | sed 's/,$//')"
                done
            fi
        } >"$WORK/lead$c.sql"
    done
    for c in $(seq 1 16); do
        psql "$APP dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -f "$WORK/lead$c.sql" >"$WORK/lead$c.out" &
        pids+=($!)
    done
    for c in "${pids[@]}"; do wait "$c" || die "lead concurrency: a session failed"; done
    created=$(cat "$WORK"/lead*.out | grep -c '^same-[0-9]* true$' || true)
    [[ $created == 10 ]] || die "lead concurrency: the shared external ids were created $created times, expected 10"
    psql "$SUPER dbname=$DB" -qXAt -v ON_ERROR_STOP=1 <<'EOF' || die "lead concurrency: counts disagree"
SELECT id AS t FROM branchline.tenants WHERE code = 'lconc' \gset
SELECT count(*) = 5010 AS all_leads FROM branchline.leads WHERE tenant_id = :t \gset
\if :all_leads
\else
\warn 'expected 5010 leads'
SELECT 1/0;
\endif
SELECT count(*) = 0 AS once FROM branchline.leads l
 WHERE l.tenant_id = :t
   AND (SELECT count(*) FROM branchline.lead_events e WHERE e.tenant_id = l.tenant_id AND e.lead_id = l.id) <> 1 \gset
\if :once
\else
\warn 'a lead was not allocated exactly once'
SELECT 1/0;
\endif
WITH leads_at AS (SELECT branch_id, count(*) AS n FROM branchline.leads WHERE tenant_id = :t GROUP BY 1),
     days AS (SELECT branch_id, sum(received) AS n FROM branchline.lead_day_counts WHERE tenant_id = :t GROUP BY 1)
SELECT count(*) = 5 AND bool_and(s.allocated = r.n AND s.open_leads = r.n AND d.n = r.n) AS counters,
       max(abs(r.n - 5010 * bp.capacity / 15.0)) < 1 AS fair
  FROM branchline.lead_pool_state s
  JOIN leads_at r USING (branch_id)
  JOIN days d USING (branch_id)
  JOIN branchline.branch_projects bp ON bp.tenant_id = s.tenant_id AND bp.branch_id = s.branch_id
 WHERE s.tenant_id = :t \gset
\if :counters
\else
\warn 'per-branch counters differ from the rows'
SELECT 1/0;
\endif
\if :fair
\else
\warn 'the shares strayed by a lead or more'
SELECT 1/0;
\endif
EOF
}

# Two sessions sweep as the owner at once, 20 times each, with a clock 10
# minutes ahead: tenant lsw's 2,000 leads with a 5-minute SLA are each
# reallocated exactly once, whichever session took them.
sweep_concurrency() {
    local s i pids=()
    for s in 1 2; do
        {
            echo "SET ROLE $OWNER;"
            for i in $(seq 1 20); do
                echo "SELECT reallocated FROM branchline.sweep_at(150, now() + interval '10 minutes');"
            done
        } >"$WORK/sweep$s.sql"
        psql "$SUPER dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -f "$WORK/sweep$s.sql" >"$WORK/sweep$s.out" &
        pids+=($!)
    done
    for s in "${pids[@]}"; do wait "$s" || die "sweep concurrency: a sweep failed"; done
    psql "$SUPER dbname=$DB" -qXAt -v ON_ERROR_STOP=1 <<'EOF' || die "sweep concurrency: a lead was handled twice or not at all"
SELECT id AS t FROM branchline.tenants WHERE code = 'lsw' \gset
SELECT count(*) = 2000 AND bool_and(n = 1) AS once
  FROM (SELECT l.id, count(e.id) AS n FROM branchline.leads l
          LEFT JOIN branchline.lead_events e ON e.tenant_id = l.tenant_id AND e.lead_id = l.id AND e.kind = 'reallocated'
         WHERE l.tenant_id = :t GROUP BY l.id) x \gset
\if :once
\else
\warn 'expected one reallocation per lead'
SELECT 1/0;
\endif
EOF
    echo "run.sh: two concurrent sweeps reallocated $(awk '{n += $1} END {print n}' "$WORK/sweep1.out")" \
         "and $(awk '{n += $1} END {print n}' "$WORK/sweep2.out") leads, each exactly once"
}

# A session LISTENing on branchline_leads hears a committed allocation with
# the payload the daemon parses (tenant, lead, status, project, branch,
# tab-separated), and nothing of a rolled-back one.
notify_allocations() {
    local out tenant lead
    out=$(psql "$APP dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -c "LISTEN branchline_leads" \
        -c "SELECT id FROM api.tenant_list('CN=operator') WHERE code = 'lconc'" \
        -c "SELECT id || E'\t' || status || E'\t' || project || E'\t' || branch_path
              FROM api.lead_add('CN=lconc-admin', 'notify-1', 'k', 'search', NULL, NULL, NULL, NULL, NULL)" \
        -c "BEGIN" \
        -c "SELECT 'rolled back ' || id FROM api.lead_add('CN=lconc-admin', 'notify-2', 'k', 'search', NULL, NULL, NULL, NULL, NULL)" \
        -c "ROLLBACK" -c "SELECT 'done'")
    tenant=$(sed -n 1p <<<"$out")
    lead=$(sed -n 2p <<<"$out")
    grep -qF "with payload \"$tenant	$lead\"" <<<"$out" || die "notify: no notification of \"$lead\" in: $out"
    grep -q '^rolled back' <<<"$out" || die "notify: the rolled-back add did not run: $out"
    [[ $(grep -c 'Asynchronous notification' <<<"$out") == 1 ]] || die "notify: expected one notification: $out"
}

if [[ $# -eq 2 ]]; then
    SUPER=$1
    APP=$2
elif [[ $# -eq 0 ]]; then
    start_cluster
else
    die "usage: tests/sql/run.sh [SUPER_CONNINFO APP_CONNINFO]"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; cleanup' EXIT

OWNER=branchline_owner
psql "$SUPER dbname=postgres" -qX -v ON_ERROR_STOP=1 >/dev/null <<EOF
SET client_min_messages = warning;
DO \$\$
BEGIN
    CREATE ROLE $OWNER NOLOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object THEN
    NULL; -- made by an earlier (or a concurrent) run
END
\$\$;
CREATE DATABASE $DB OWNER $OWNER;
GRANT CONNECT, TEMPORARY ON DATABASE $DB TO branchline_app;
EOF
migrate
as_owner -At -c "SELECT role FROM api.bootstrap_operator('CN=operator')" \
    -c "SELECT role FROM api.bootstrap_operator('CN=operator')" >/dev/null
python3 "$HERE/check_contract.py" "$ROOT/proto/branchline.proto" "$APP dbname=$DB"
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/test_org.sql"
concurrency
echo "run.sh: concurrency test passed"
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -v app="$APP dbname=$DB" -v super="$SUPER dbname=$DB" \
    -v owner="$OWNER" -f "$HERE/test_leads.sql"
lead_concurrency
echo "run.sh: lead concurrency test passed"
sweep_concurrency
notify_allocations
echo "run.sh: lead notification test passed"
psql "$SUPER dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/scale_fixture.sql" >/dev/null
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/test_scale.sql" | sed 's/^/test_scale.sql: /'
echo "run.sh: all SQL tests passed"
