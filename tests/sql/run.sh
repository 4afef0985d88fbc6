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
psql "$SUPER dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/scale_fixture.sql" >/dev/null
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/test_scale.sql" | sed 's/^/test_scale.sql: /'
echo "run.sh: all SQL tests passed"
