#!/usr/bin/env bash
# Usage: tests/upgrade/run.sh BRANCHD SUPER_CONNINFO OWNER_CONNINFO
#
# Upgrades from each release of sql/BASELINE with today's `branchd migrate`
# and checks that nothing is lost (sql/README.md):
#   - takes the release's sql/ from git and migrates a new database with it
#     exactly as that release's migrate did (each file in its own
#     transaction, recorded in schema_migrations);
#   - fills it through the release's api (fill_0_1.sql: every lead status
#     and queue, history, audit, policies, caps, ...);
#   - hands it to branchline_owner (deploy/owner-handover.sql: that release
#     was migrated as a superuser), as an upgraded installation does before
#     today's migrate, which runs as the owner;
#   - `branchd migrate --dry-run` prints what it would do and changes
#     nothing; then `branchd migrate` upgrades it;
#   - (a) pg_dump --schema-only equals a fresh install's; (b) every table of
#     the release has the same rows (count and checksum over the release's
#     columns) and the api answers the same about them (api_answers.sql);
#     (c) a second migrate changes neither the dump nor the data;
# and, on the migrate command itself: a dry run on an empty database creates
# nothing; a database recording a migration newer than the binary knows is
# refused and left as it was.
#
#   BRANCHD         the branchd binary to test
#   SUPER_CONNINFO  key=value libpq string of a superuser (" dbname=..." is
#                   appended); the roles of deploy/app-roles.sql must exist,
#                   as tests/run.sh creates them.
#   OWNER_CONNINFO  the same for branchline_owner: every migrate of today's
#                   branchd runs as it, on databases it owns.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[[ $# -eq 3 ]] || { echo "usage: $0 BRANCHD SUPER_CONNINFO OWNER_CONNINFO" >&2; exit 2; }
BRANCHD=$1
SUPER=$2
OWNER=$3
WORK=$(mktemp -d -t branchline-upgrade.XXXXXX)
DBS=()

die() {
    echo "FAIL: $*" >&2
    exit 1
}

cleanup() {
    local db
    for db in "${DBS[@]}"; do
        psql "$SUPER dbname=postgres" -qX -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# new_db NAME [OWNER]: an empty database, dropped on exit; the superuser's
# unless OWNER is given (a release's set-up created it as the superuser).
new_db() {
    DBS+=("$1")
    psql "$SUPER dbname=postgres" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $1${2:+ OWNER $2}" >/dev/null
}

psql_db() {
    local db=$1
    shift
    psql "$SUPER dbname=$db" -qXAt -v ON_ERROR_STOP=1 "$@"
}

migrate() {
    "$BRANCHD" migrate --conninfo "$OWNER dbname=$1" "${@:2}"
}

# apply_0_1 DB DIR: DIR/sql/NNN_*.sql as 0.1's `branchd migrate` applied
# them: schema_migrations first, then each file in its own transaction with
# its row.
apply_0_1() {
    local db=$1 f name
    psql_db "$db" -c "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    for f in "$2"/sql/[0-9][0-9][0-9]_*.sql; do
        name=$(basename "$f" .sql)
        psql_db "$db" -c "SET client_min_messages = warning" -c BEGIN -c "$(cat "$f")" \
            -c "INSERT INTO schema_migrations (version, name) VALUES (${name:0:3}, '$name')" -c COMMIT >/dev/null ||
            die "0.1's migration $name failed"
    done
}

# schema DB OUT: the schema as pg_dump writes it, without the lines that
# differ between any two dumps (the \restrict key, versions).
schema() {
    pg_dump --schema-only "$SUPER dbname=$1" |
        grep -vE '^\\(un)?restrict |^-- Dumped (from|by) ' >"$2" ||
        die "pg_dump of $1 failed"
}

# data_query DB OUT: one query per table of DB (every schema but the
# catalogs) counting its rows and hashing them over the columns it has now:
# run before and after an upgrade, it ignores what the upgrade adds
# (columns, tables, schema_migrations rows) and sees every row and value
# that was there.
data_query() {
    psql_db "$1" >"$2" <<'SQL'
SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(r, E''\n'' ORDER BY r), '''')) FROM (SELECT ROW(%s)::text AS r FROM %I.%I%s) x;',
              c.table_schema || '.' || c.table_name,
              string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal_position),
              c.table_schema, c.table_name,
              CASE WHEN c.table_name = 'schema_migrations'
                   THEN format(' WHERE version <= %s', (SELECT max(version) FROM schema_migrations)) ELSE '' END)
  FROM information_schema.columns c
  JOIN information_schema.tables t USING (table_schema, table_name)
 WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
 GROUP BY c.table_schema, c.table_name
 ORDER BY 1;
SQL
}

# state DB QUERY OUT: the data (per table: name, rows, checksum) and the
# api's answers.
state() {
    psql_db "$1" -F ' ' -f "$2" >"$3"
    psql_db "$1" -F ' ' -f "$HERE/api_answers.sql" >>"$3"
}

same() {
    diff -u "$1" "$2" >"$WORK/diff" || { head -60 "$WORK/diff" >&2; die "$3"; }
}

# clear_of_midnight: waits out a tenant's midnight (fill_0_1.sql's tenants
# are in Asia/Shanghai and UTC) when one is under UPGRADE_MARGIN_S away.
# A fill leaves a lead waiting at its pool's daily cap; migrate settles
# every tenant at now() (I2), so a new day between the fill and the
# comparisons rightly drains that lead, and "every row is still there"
# would fail (it did once, at 16:00 UTC: midnight in Shanghai).
UPGRADE_MARGIN_S=${UPGRADE_MARGIN_S:-180}
clear_of_midnight() {
    local left
    left=$(psql "$SUPER dbname=postgres" -qXAt -v ON_ERROR_STOP=1 -c "
        SELECT ceil(min(extract(epoch FROM date_trunc('day', now() AT TIME ZONE z) + interval '1 day'
                                           - now() AT TIME ZONE z)))::int
          FROM unnest(ARRAY['Asia/Shanghai', 'UTC']) AS z")
    if ((left < UPGRADE_MARGIN_S)); then
        echo "--- a tenant's day ends in ${left}s: waiting for the next one"
        sleep $((left + 2))
    fi
}

TESTS=0
case_() {
    TESTS=$((TESTS + 1))
    echo "--- $1"
}

upgrade_from() {
    local release=$1 commit=$2 tag=${1//./_}
    local old=$WORK/$release up=upgrade_${tag}_$$ fresh=fresh_${tag}_$$
    mkdir -p "$old"
    clear_of_midnight
    git -C "$ROOT" archive "$commit" sql | tar -x -C "$old" ||
        die "cannot read sql/ of $release ($commit) from git: the upgrade test needs the repository's history (not a shallow clone)"

    case_ "$release: migrated with $release's SQL as the superuser, filled through its api, handed to the owner"
    new_db "$up"
    apply_0_1 "$up" "$old"
    psql_db "$up" -f "$HERE/fill_0_1.sql" >/dev/null
    for status in allocated contacted won lost waiting unroutable; do
        [[ $(psql_db "$up" -c "SELECT count(*) FROM branchline.leads WHERE status = '$status'") -gt 0 ]] ||
            die "the fill left no $status lead"
    done
    [[ $(psql_db "$up" -c "SELECT count(*) FROM branchline.leads WHERE duplicate_of IS NOT NULL") -gt 0 ]] ||
        die "the fill left no duplicate"
    psql_db "$up" -f "$ROOT/deploy/owner-handover.sql" >/dev/null
    data_query "$up" "$WORK/data.sql"
    state "$up" "$WORK/data.sql" "$WORK/before"
    schema "$up" "$WORK/schema-before"

    case_ "$release: migrate --dry-run says what it would do and changes nothing"
    out=$(migrate "$up" --dry-run) || die "dry run failed: $out"
    [[ $out == *"would drop"*"of the api and re-create it"* ]] || die "dry run said: $out"
    [[ $out == *"nothing was changed"* ]] || die "dry run said: $out"
    state "$up" "$WORK/data.sql" "$WORK/after-dry-run"
    same "$WORK/before" "$WORK/after-dry-run" "the dry run changed the data"
    schema "$up" "$WORK/schema-after-dry-run"
    same "$WORK/schema-before" "$WORK/schema-after-dry-run" "the dry run changed the schema"

    case_ "$release: upgraded, its schema is a fresh install's (every object the owner's)"
    migrate "$up" >/dev/null 2>"$WORK/migrate.err" || die "migrate failed: $(cat "$WORK/migrate.err")"
    new_db "$fresh" branchline_owner
    migrate "$fresh" >/dev/null 2>&1 || die "migrating a fresh database failed"
    schema "$up" "$WORK/schema-upgraded"
    schema "$fresh" "$WORK/schema-fresh"
    same "$WORK/schema-fresh" "$WORK/schema-upgraded" "the upgraded schema differs from a fresh install's"

    case_ "$release: every row is still there and the api answers the same"
    state "$up" "$WORK/data.sql" "$WORK/after"
    same "$WORK/before" "$WORK/after" "the upgrade changed the data or the api's answers"

    case_ "$release: a second migrate changes nothing"
    out=$(migrate "$up" 2>/dev/null) || die "the second migrate failed"
    [[ $out == *"0 migration(s) applied"* ]] || die "the second migrate said: $out"
    schema "$up" "$WORK/schema-twice"
    same "$WORK/schema-upgraded" "$WORK/schema-twice" "the second migrate changed the schema"
    state "$up" "$WORK/data.sql" "$WORK/twice"
    same "$WORK/after" "$WORK/twice" "the second migrate changed the data"
}

# settled_from RELEASE: a database the release left unsettled (a branch
# closed under its open leads, which that release allowed) has no open lead
# at a closed branch after migrate, and their history names the migrate.
settled_from() {
    local release=$1 tag=${1//./_}
    local db=unsettled_${tag}_$$ open_at_closed
    open_at_closed="SELECT count(*) FROM branchline.leads l JOIN branchline.units b ON b.tenant_id = l.tenant_id AND b.id = l.branch_id
                     WHERE l.status IN ('allocated', 'contacted') AND b.status <> 'active'"
    case_ "$release: leads it left at a closed branch are settled by migrate (I1), once"
    clear_of_midnight
    new_db "$db"
    apply_0_1 "$db" "$WORK/$release"
    psql_db "$db" -f "$HERE/fill_0_1.sql" >/dev/null
    psql_db "$db" -c "SELECT id FROM api.unit_set_status('CN=up-alice', 'east/shanghai/pudong', 'closed')" >/dev/null
    [[ $(psql_db "$db" -c "$open_at_closed") -gt 0 ]] || die "$release settled the closed branch's leads itself: nothing to test"
    psql_db "$db" -f "$ROOT/deploy/owner-handover.sql" >/dev/null
    migrate "$db" >/dev/null 2>"$WORK/migrate.err" || die "migrate failed: $(cat "$WORK/migrate.err")"
    eq_db() { [[ $2 == "$3" ]] || die "$1: got $2, want $3"; }
    eq_db "open leads at a closed branch after migrate" "$(psql_db "$db" -c "$open_at_closed")" 0
    [[ $(psql_db "$db" -c "SELECT count(*) FROM branchline.lead_events WHERE reason LIKE '%(migrate)%'") -gt 0 ]] ||
        die "no lead's history names the migrate"
    state "$db" "$WORK/data.sql" "$WORK/settled"
    migrate "$db" >/dev/null 2>&1 || die "the second migrate failed"
    state "$db" "$WORK/data.sql" "$WORK/settled-twice"
    same "$WORK/settled" "$WORK/settled-twice" "a second migrate settled again"
}

while read -r release commit; do
    upgrade_from "$release" "$commit"
    settled_from "$release"
done < <(grep -vE '^(#|$)' "$ROOT/sql/BASELINE")

case_ "migrate --dry-run on an empty database lists every migration and creates nothing"
empty=empty_$$
new_db "$empty" branchline_owner
out=$(migrate "$empty" --dry-run) || die "dry run failed: $out"
for f in "$ROOT"/sql/schema/[0-9][0-9][0-9]_*.sql; do
    [[ $out == *"would apply $(basename "$f" .sql)"* ]] || die "the dry run does not list $(basename "$f"): $out"
done
[[ $(psql_db "$empty" -c "SELECT count(*) FROM pg_class WHERE relnamespace <> ALL (ARRAY['pg_catalog', 'information_schema', 'pg_toast']::regnamespace[])") == 0 ]] ||
    die "the dry run created something"

case_ "migrate refuses a schema newer than it knows and leaves it as it was"
newer=newer_$$
new_db "$newer" branchline_owner
migrate "$newer" >/dev/null 2>&1 || die "migrate failed"
psql_db "$newer" -c "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_from_the_future')"
schema "$newer" "$WORK/newer-before"
rc=0
err=$(migrate "$newer" 2>&1 >/dev/null) || rc=$?
[[ $rc == 1 ]] || die "migrate on a newer schema exited $rc: $err"
[[ $err == *"newer than this branchd knows"* ]] || die "migrate on a newer schema said: $err"
rc=0
err=$(migrate "$newer" --dry-run 2>&1 >/dev/null) || rc=$?
[[ $rc == 1 && $err == *"newer than this branchd knows"* ]] || die "the dry run on a newer schema: $rc $err"
schema "$newer" "$WORK/newer-after"
same "$WORK/newer-before" "$WORK/newer-after" "the refused migrate changed the schema"

echo "$TESTS passed, 0 failed"
