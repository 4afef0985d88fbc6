# The database is private (issue 13, item 5), checked on the suite's own
# cluster, which tests/run.sh makes with deploy/lib/pg.sh's pg_init exactly
# as deploy/quickstart.sh does: another OS user can neither reach its
# socket nor log in over TCP without a password; the socket lets in by peer
# only the OS users of the map; no pg_hba.conf line trusts; the schema's
# owner branchline_owner is no superuser and owns the database and every
# object of Branchline; SECURITY DEFINER functions run as that owner, which
# forced row-level security binds.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

SOCK=$BRANCHLINE_TEST_PGHOST
PORT=$BRANCHLINE_TEST_PGPORT
SUPER=$BRANCHLINE_TEST_PGSUPER
DB=$(psql_admin "SELECT current_database()")

# as_other_os_user CMD...: CMD as the OS user nobody, from a directory it
# may enter; its output (the refusal) in $OUT.
as_other_os_user() {
    local rc=0
    OUT=$(cd / && env -i PATH="$PATH" runuser -u nobody -- "$@" 2>&1) || rc=$?
    return "$rc"
}

case_ "a tenant with data, to look for"
as carol
ok tenant create privco --name "Private Co" --admin-subject CN=alice
as alice
ok unit add r1 --kind region --name R1
ok unit add r1/b1 --kind branch --name B1

case_ "the socket directory is private to the cluster's OS user"
eq "$(stat -c '%a %U' "$SOCK")" "700 $SUPER" "mode and owner of $SOCK"

case_ "no pg_hba.conf line trusts anyone, and every line parses"
eq "$(psql_admin "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust' OR error IS NOT NULL")" 0
eq "$(psql_admin "SELECT string_agg(DISTINCT auth_method, ',' ORDER BY auth_method) FROM pg_hba_file_rules")" \
    "peer,scram-sha-256"

if [[ $EUID -eq 0 ]]; then
    case_ "another OS user cannot reach the socket, as any role"
    for role in "$SUPER" branchline_owner branchd; do
        if as_other_os_user psql -X -w "host=$SOCK port=$PORT user=$role dbname=$DB" -c "SELECT 1"; then
            fail "OS user nobody connected as $role through $SOCK"
        fi
        contains "$OUT" "Permission denied"
    done

    case_ "nor log in on 127.0.0.1 without a password, as any role"
    for role in "$SUPER" branchline_owner branchd; do
        if as_other_os_user psql -X -w "host=127.0.0.1 port=$PORT user=$role dbname=$DB" -c "SELECT 1"; then
            fail "OS user nobody connected as $role on 127.0.0.1:$PORT"
        fi
        contains "$OUT" "no password supplied"
    done
else
    case_ "another OS user (skipped: becoming one needs root)"
fi

case_ "the socket lets in, by peer, only the OS users of the map"
unmapped=bltest_unmapped_$$
psql_admin "CREATE ROLE $unmapped LOGIN" >/dev/null
rc=0
OUT=$(psql -X -w "host=$SOCK port=$PORT user=$unmapped dbname=$DB" -c "SELECT 1" 2>&1) || rc=$?
psql_admin "DROP ROLE $unmapped" >/dev/null
[[ $rc -ne 0 ]] || fail "$(id -un) logged in as a role no map names: $OUT"
contains "$OUT" "Peer authentication failed"

case_ "the owner is no superuser and bypasses nothing"
eq "$(psql_admin "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication
                    FROM pg_roles WHERE rolname = 'branchline_owner'" | tr '|' ' ')" "f f f f f"
eq "$(psql -X -A -t "$BLTEST_OWNER_CONNINFO" -c "SELECT current_user, usesuper FROM pg_user WHERE usename = current_user")" \
    "branchline_owner|f"

case_ "the owner owns the database and every schema, table, routine and type of Branchline"
eq "$(psql_admin "SELECT datdba::regrole FROM pg_database WHERE datname = current_database()")" branchline_owner
eq "$(psql_admin "SELECT count(*) FROM pg_namespace WHERE nspname IN ('api', 'branchline')
                   AND nspowner = 'branchline_owner'::regrole")" 2
eq "$(psql_admin "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE (n.nspname IN ('api', 'branchline') OR c.relname = 'schema_migrations')
                     AND c.relowner <> 'branchline_owner'::regrole")" 0
eq "$(psql_admin "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname IN ('api', 'branchline') AND p.proowner <> 'branchline_owner'::regrole")" 0
eq "$(psql_admin "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname IN ('api', 'branchline') AND t.typowner <> 'branchline_owner'::regrole")" 0

case_ "every SECURITY DEFINER function belongs to the owner"
definers=$(psql_admin "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE n.nspname IN ('api', 'branchline') AND p.prosecdef")
[[ $definers -ge 3 ]] || fail "expected the SECURITY DEFINER functions of sql/api (lookups, sweep), found $definers"
eq "$(psql_admin "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname IN ('api', 'branchline') AND p.prosecdef
                     AND p.proowner <> 'branchline_owner'::regrole")" 0

# The subject lookup, called by the daemon's role, reads principals as
# whoever owns it. A restrictive policy that hides every row from
# branchline_owner alone (rolled back) must hide CN=carol from the lookup:
# run as a superuser, the lookup would ignore every policy and find her.
case_ "a SECURITY DEFINER function runs as the owner, bound by row-level security"
lookup="SELECT count(*) FROM branchline.principal_by_subject('CN=carol')"
eq "$(psql_app "$lookup")" 1 "the lookup finds the operator"
eq "$(psql -X -A -t -q -v ON_ERROR_STOP=1 "$BLTEST_ADMIN_CONNINFO" -c BEGIN \
    -c "CREATE POLICY bltest_hide ON branchline.principals AS RESTRICTIVE TO branchline_owner USING (false)" \
    -c "SET LOCAL ROLE branchd" -c "$lookup" -c ROLLBACK)" 0 "the lookup under a policy only the owner obeys"
eq "$(psql_app "$lookup")" 1 "the lookup after the rollback"

case_ "forced row-level security binds the owner: no tenant, no rows; it cannot switch it off"
[[ $(psql_admin "SELECT count(*) FROM branchline.units") -gt 0 ]] || fail "no units to hide"
eq "$(psql -X -A -t "$BLTEST_OWNER_CONNINFO" -c "SELECT count(*) FROM branchline.units")" 0
if psql -X -A -t -v ON_ERROR_STOP=1 "$BLTEST_OWNER_CONNINFO" \
    -c "SET row_security = off" -c "SELECT count(*) FROM branchline.units" >/dev/null 2>&1; then
    fail "the owner read past row-level security with row_security = off"
fi

case_ "branchd migrate warns when it runs as a superuser, not as the owner"
OUT=$("$BRANCHD" migrate --dry-run --conninfo "$BLTEST_ADMIN_CONNINFO" 2>&1) || fail "dry run as the superuser: $OUT"
contains "$OUT" "event=migrate_as_superuser role=$SUPER"
OUT=$("$BRANCHD" migrate --dry-run --conninfo "$BLTEST_OWNER_CONNINFO" 2>&1) || fail "dry run as the owner: $OUT"
[[ $OUT != *migrate_as_superuser* ]] || fail "a warning for the owner: $OUT"

finish
