#!/usr/bin/env bash
# Usage: tests/sql/run.sh [SUPER_CONNINFO APP_CONNINFO]
#
# The database-level tests of the organization schema and api, without
# branchd: creates a fresh database, applies sql/ the way `branchd migrate`
# does on a fresh database (every sql/schema/NNN_*.sql recorded in
# schema_migrations, then every sql/api/*.sql, in one transaction) as the
# owner role branchline_owner (created NOLOGIN if
# missing; no superuser, so FORCE ROW LEVEL SECURITY binds it as it would a
# production owner), bootstraps an operator as that owner, then
#   - check_tenant_keys.sql: every tenant table is keyed by tenant_id first
#     (what sharding by tenant needs), and the check catches one that is not
#   - check_contract.py: every organization operation of the protocol has
#     its api function, with the request's parameters and the result's columns
#   - test_org.sql, as the daemon's role: the organization end to end
#   - a concurrency test: several sessions changing one tree at once
#   - test_leads.sql, as the daemon's role (and as the owner for the sweep
#     with a faked clock): intake, allocation policies, caps, SLA, visibility
#   - test_import.sql: lead_import gives what lead_add one lead at a time
#     in file order gives
#   - lead concurrency: 16 sessions adding 5,000 leads to one pool (and the
#     same external ids) at once; 20 sessions adding and importing leads with
#     the same phones and e-mails into different pools at once; two sweeps
#     expiring the same 2,000 SLAs at once; NOTIFY of allocations, only when
#     committed
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
# Without arguments it starts a throwaway cluster of its own
# (deploy/lib/pg.sh's pg_init, as user postgres when we are root) with the
# roles of deploy/app-roles.sql, and removes everything on exit.
# KEEP_DB=1 keeps the test database for inspection.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DB=branchline_sqltest_$$
TMP=

PROG=run.sh
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
# shellcheck source=deploy/lib/pg.sh
. "$ROOT/deploy/lib/pg.sh"
die() { echo "run.sh: $*" >&2; exit 1; }

cleanup() {
    if [[ -n ${SUPER:-} && ${KEEP_DB:-0} != 1 ]]; then
        psql "$SUPER dbname=postgres" -qXc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    fi
    if [[ -n $TMP ]]; then
        pg_stop "$TMP/data" || pg_stop "$TMP/data" immediate || true
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# The quickstart's kind of cluster (deploy/lib/pg.sh): private socket, peer
# for us, passwords on 127.0.0.1, the roles of deploy/app-roles.sql.
start_cluster() {
    local port
    TMP=$(mktemp -d -p /tmp branchline-sqltest.XXXXXX)
    chmod 0711 "$TMP"
    port=$(free_tcp_port)
    pg_init "$TMP/data" "$TMP/sock" "$port"
    pg_start "$TMP/data" "$TMP/server.log"
    pg_app_roles "$TMP/sock" "$port" postgres
    SUPER="host=$TMP/sock port=$port user=$(pg_superuser)"
    APP="host=$TMP/sock port=$port user=branchd"
}

# psql as the owner role: the superuser's connection, SET ROLE.
as_owner() {
    psql "$SUPER dbname=$DB" -qX -v ON_ERROR_STOP=1 -c "SET ROLE $OWNER" -c "SET client_min_messages = warning" "$@"
}

# Applies sql/ like daemon/migrate.c on a fresh database: in one
# transaction, each table migration as one query string with its
# schema_migrations row, then each api file (there is no api to drop yet).
migrate() {
    local f name args=(-c BEGIN)
    as_owner -c "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    for f in "$ROOT"/sql/schema/[0-9][0-9][0-9]_*.sql; do
        name=$(basename "$f" .sql)
        args+=(-c "$(cat "$f")" -c "INSERT INTO schema_migrations (version, name) VALUES (${name:0:3}, '$name')")
    done
    for f in "$ROOT"/sql/api/*.sql; do
        args+=(-c "$(cat "$f")")
    done
    as_owner "${args[@]}" -c COMMIT >/dev/null || die "migrating sql/ failed"
}

# Every tenant table keyed by tenant_id first; and the check refuses a
# table whose primary key is not (rolled back: the session never commits).
tenant_keys() {
    psql "$SUPER dbname=$DB" -qX -f "$HERE/check_tenant_keys.sql" || die "tenant keys: see above"
    if psql "$SUPER dbname=$DB" -qX -c BEGIN \
        -c "CREATE TABLE branchline.keys_probe (tenant_id bigint, id bigint PRIMARY KEY)" \
        -c "ALTER TABLE branchline.keys_probe ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY" \
        -f "$HERE/check_tenant_keys.sql" >/dev/null 2>&1; then
        die "tenant keys: the check accepted a primary key without tenant_id"
    fi
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

# Two imports of the same ten external_ids into different pools (holders
# r1 and r2 of tenant im, test_import.sql): the first holds its
# transaction open after its import, the second plans before the first
# commits, waits on the unique index and, when the first commits, plans
# again (sql/api/017): its rows are duplicates of the first's leads and its
# pool stays as it was. Afterwards each id is one lead of r1 with one
# event, and the pool state and day counts of the tenant equal its leads.
import_race() {
    local rows_a rows_b a
    rows_a=$(printf '{"external_id": "race-%s", "project": "pw", "channel": "search", "origin": "r1"},' $(seq 1 10))
    rows_b=${rows_a//\"r1\"/\"r2\"}
    psql "$APP dbname=$DB" -qXAt -v ON_ERROR_STOP=1 >"$WORK/race_a.out" <<EOF &
BEGIN;
SELECT result FROM api.lead_import('CN=im-admin', '[${rows_a%,}]', 1);
SELECT pg_sleep(4);
COMMIT;
EOF
    a=$!
    sleep 2
    psql "$APP dbname=$DB" -qXAt -v ON_ERROR_STOP=1 \
        -c "SELECT result || ' ' || lead_id FROM api.lead_import('CN=im-admin', '[${rows_b%,}]', 1)" \
        >"$WORK/race_b.out" || die "import race: the second import failed"
    wait "$a" || die "import race: the first import failed"
    [[ $(grep -c '^created$' "$WORK/race_a.out") == 10 ]] || die "import race: the first import did not create its 10 leads"
    [[ $(grep -c '^duplicate [0-9]' "$WORK/race_b.out") == 10 ]] ||
        die "import race: the second import did not find the first's leads: $(tr '\n' ' ' <"$WORK/race_b.out")"
    psql "$SUPER dbname=$DB" -qXAt -v ON_ERROR_STOP=1 <<'EOF' || die "import race: counts disagree"
SELECT id AS t FROM branchline.tenants WHERE code = 'im' \gset
SELECT count(*) = 10 AND bool_and(l.holder_id = r1.id)
       AND bool_and((SELECT count(*) FROM branchline.lead_events e WHERE e.tenant_id = l.tenant_id AND e.lead_id = l.id) = 1) AS once
  FROM branchline.leads l JOIN branchline.units r1 ON r1.tenant_id = l.tenant_id AND r1.path = '/r1/'
 WHERE l.tenant_id = :t AND l.external_id LIKE 'race-%' \gset
\if :once
\else
\warn 'the raced ids are not 10 leads of r1 with one event each'
SELECT 1/0;
\endif
WITH leads_at AS (SELECT holder_id, project_id, branch_id, count(*) AS n FROM branchline.leads
                   WHERE tenant_id = :t AND branch_id IS NOT NULL GROUP BY 1, 2, 3),
     state AS (SELECT holder_id, project_id, branch_id, allocated AS n FROM branchline.lead_pool_state
                WHERE tenant_id = :t AND allocated > 0),
     days AS (SELECT holder_id, project_id, branch_id, sum(received) AS n FROM branchline.lead_day_counts
               WHERE tenant_id = :t GROUP BY 1, 2, 3)
SELECT count(*) FILTER (WHERE r.n IS DISTINCT FROM s.n OR r.n IS DISTINCT FROM d.n) = 0 AS counters
  FROM state s
  FULL JOIN leads_at r USING (holder_id, project_id, branch_id)
  FULL JOIN days d USING (holder_id, project_id, branch_id) \gset
\if :counters
\else
\warn 'pool state or day counts differ from the leads'
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

# Runs every $WORK/$1-*.sql as its own session of the daemon's role, all
# at once and in lock step: round r of a file is a transaction that first
# waits for the shared advisory lock 880000 + r, which a controller session
# holds until every session waits for it, so that round r of every session
# starts at the same instant. Each file's output goes to its .out.
# $2: the rounds.
race() {
    local name=$1 rounds=$2 files=("$WORK/$1"-*.sql) f pids=() ctl
    psql "$SUPER dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -v rounds="$rounds" -v sessions="${#files[@]}" \
        -v ready="$WORK/$name.ready" >/dev/null <<'SQL' &
SELECT count(pg_advisory_lock(880000 + r)) FROM generate_series(1, :rounds) r;
\o :ready
SELECT 'ready';
\o
SELECT set_config('race.rounds', :'rounds', false), set_config('race.sessions', :'sessions', false);
DO $$
DECLARE
    deadline timestamptz;
BEGIN
    FOR r IN 1 .. current_setting('race.rounds')::integer LOOP
        deadline := clock_timestamp() + interval '60 seconds';
        WHILE (SELECT count(*) FROM pg_locks
                WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND classid = 0 AND objid = 880000 + r AND objsubid = 1 AND NOT granted)
              < current_setting('race.sessions')::integer LOOP
            IF clock_timestamp() > deadline THEN
                RAISE 'race: round % did not gather every session', r;
            END IF;
            PERFORM pg_sleep(0.002);
        END LOOP;
        PERFORM pg_advisory_unlock(880000 + r);
    END LOOP;
END
$$;
SQL
    ctl=$!
    until [[ -s $WORK/$name.ready ]]; do
        kill -0 "$ctl" 2>/dev/null || die "$name: the controller failed"
        sleep 0.05
    done
    for f in "${files[@]}"; do
        psql "$APP dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -f "$f" >"${f%.sql}.out" &
        pids+=($!)
    done
    for f in "${pids[@]}"; do
        wait "$f" || { kill "$ctl" 2>/dev/null; die "$name: a session failed"; }
    done
    wait "$ctl" || die "$name: the controller failed"
}

# Leads with the same phone or e-mail in different pools at once (tenant
# ldup: 16 pools), in 12 rounds. 16 sessions add one lead each per round,
# each into a pool of its own: in odd rounds all with the round's phone
# (written in different ways), in even rounds all with the round's e-mail
# (in either case), half of them with the round's phone too. 4 sessions
# import 40 leads per round, each into pools of its own, all with the
# round's 40 phones: two in the order of their external ids, two in the
# opposite order; no import may fail (deadlock). Afterwards every lead is
# in, and of every set of leads sharing a contact exactly one, the first,
# is not a duplicate and the others are duplicates of it, as if they had
# come one after the other; lead_add's duplicate_of and lead_import's
# reason said so.
duplicate_concurrency() {
    local c s r phone email rounds=12
    for c in $(seq 1 16); do
        for r in $(seq 1 "$rounds"); do
            phone=NULL
            email=NULL
            if ((r % 2)); then
                if ((c % 2)); then phone="'+86 139 0000 $(printf %04d "$r")'"; else phone="'1390000$(printf %04d "$r")'"; fi
            else
                ((c % 2)) && phone="'1390000$(printf %04d "$r")'"
                if ((c % 4 < 2)); then email="'dup$r@example.com'"; else email="'DUP$r@Example.COM'"; fi
            fi
            echo "BEGIN;"
            echo "SELECT pg_advisory_xact_lock_shared(880000 + $r) \\g /dev/null"
            echo "SELECT id || '|' || duplicate_of FROM api.lead_add('CN=ldup-admin', 'add-$r-$c', 'p$(((c - 1) / 4 + 1))'," \
                 "'search', 'r$(((c - 1) % 4 + 1))', NULL, $phone, $email, NULL);"
            echo "COMMIT;"
        done >"$WORK/dup-add$c.sql"
    done
    for s in 1 2 3 4; do
        for r in $(seq 1 "$rounds"); do
            echo "BEGIN;"
            echo "SELECT pg_advisory_xact_lock_shared(880000 + $r) \\g /dev/null"
            echo "SELECT lead_id || '|' || reason FROM api.lead_import('CN=ldup-admin', (
                      SELECT jsonb_agg(jsonb_build_object(
                                 'external_id', 'imp-$r-$s-' || lpad(j::text, 2, '0'), 'project', 'p' || (j % 4 + 1),
                                 'channel', 'search', 'origin', 'r$s',
                                 'phone', '137' || lpad(($r * 100 + CASE WHEN $s % 2 = 1 THEN j ELSE 41 - j END)::text, 8, '0')))
                        FROM generate_series(1, 40) j), 1) WHERE result = 'created';"
            echo "COMMIT;"
        done >"$WORK/dup-imp$s.sql"
    done
    race dup "$rounds"
    { sed 's/$/|add/' "$WORK"/dup-add*.out; sed 's/$/|import/' "$WORK"/dup-imp*.out; } >"$WORK/dup-results"
    psql "$SUPER dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -v results="$WORK/dup-results" -v rounds="$rounds" <<'SQL' ||
SELECT id AS t FROM branchline.tenants WHERE code = 'ldup' \gset
CREATE TEMP TABLE results (lead_id bigint, said text, op text);
\set copy '\\copy results FROM ' :'results' ' (FORMAT text, DELIMITER ''|'')'
:copy
SELECT count(*) = :rounds * (16 + 4 * 40) AND bool_and(status = 'allocated') AS all_in
  FROM branchline.leads WHERE tenant_id = :t \gset
\if :all_in
\else
\warn 'expected every lead created and allocated'
SELECT 1/0;
\endif
CREATE TEMP VIEW sharing AS
SELECT x.*, min(x.id) OVER w AS first, count(*) OVER w AS n
  FROM (SELECT l.id, l.duplicate_of,
               CASE WHEN l.external_id LIKE 'add-%' THEN 'round ' || split_part(l.external_id, '-', 2)
                    ELSE l.phone_key END AS contact
          FROM branchline.leads l WHERE l.tenant_id = :t) x
WINDOW w AS (PARTITION BY x.contact);
SELECT count(DISTINCT contact) = :rounds * 41
       AND bool_and(n = CASE WHEN contact LIKE 'round %' THEN 16 ELSE 4 END)
       AND bool_and(CASE WHEN id = first THEN duplicate_of IS NULL ELSE duplicate_of IS NOT DISTINCT FROM first END)
       AS one_first
  FROM sharing \gset
\if :one_first
\else
\warn 'leads sharing a contact: not exactly one original with the others its duplicates (first five):'
SELECT contact, count(*) FILTER (WHERE duplicate_of IS NULL) AS originals, count(*) AS leads
  FROM sharing GROUP BY 1 HAVING count(*) FILTER (WHERE duplicate_of IS NULL) <> 1 ORDER BY 1 LIMIT 5;
SELECT 1/0;
\endif
SELECT count(*) = :rounds * (16 + 4 * 40)
       AND bool_and(r.said = CASE WHEN r.op = 'add' THEN coalesce(l.duplicate_of, 0)::text
                                  ELSE coalesce('duplicate of lead ' || l.duplicate_of, '') END) AS reported
  FROM results r JOIN branchline.leads l ON l.tenant_id = :t AND l.id = r.lead_id \gset
\if :reported
\else
\warn 'lead_add or lead_import reported a duplicate otherwise'
SELECT 1/0;
\endif
SQL
        die "duplicate concurrency: see above"
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
# the payload the daemon parses (tenant, branch, the lead as JSON,
# tab-separated), and nothing of a rolled-back one.
notify_allocations() {
    local out tenant lead
    out=$(psql "$APP dbname=$DB" -qXAt -v ON_ERROR_STOP=1 -c "LISTEN branchline_leads" \
        -c "SELECT id FROM api.tenant_list('CN=operator') WHERE code = 'lconc'" \
        -c "SELECT branch_path || E'\t{\"id\": ' || id || ','
              FROM api.lead_add('CN=lconc-admin', 'notify-1', 'k', 'search', NULL, NULL, NULL, NULL, NULL)" \
        -c "BEGIN" \
        -c "SELECT 'rolled back ' || id FROM api.lead_add('CN=lconc-admin', 'notify-2', 'k', 'search', NULL, NULL, NULL, NULL, NULL)" \
        -c "ROLLBACK" -c "SELECT 'done'")
    tenant=$(sed -n 1p <<<"$out")
    lead=$(sed -n 2p <<<"$out")
    grep -qF "with payload \"$tenant	$lead" <<<"$out" || die "notify: no notification of \"$lead\" in: $out"
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
tenant_keys
python3 "$HERE/check_contract.py" "$ROOT/proto/branchline.proto" "$APP dbname=$DB"
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/test_org.sql"
concurrency
echo "run.sh: concurrency test passed"
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -v app="$APP dbname=$DB" -v super="$SUPER dbname=$DB" \
    -v owner="$OWNER" -f "$HERE/test_leads.sql"
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/test_import.sql"
import_race
echo "run.sh: import test passed"
lead_concurrency
echo "run.sh: lead concurrency test passed"
duplicate_concurrency
echo "run.sh: duplicate concurrency test passed"
sweep_concurrency
notify_allocations
echo "run.sh: lead notification test passed"
psql "$SUPER dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/scale_fixture.sql" >/dev/null
psql "$APP dbname=$DB" -qX -v ON_ERROR_STOP=1 -f "$HERE/test_scale.sql" | sed 's/^/test_scale.sql: /'
echo "run.sh: all SQL tests passed"
