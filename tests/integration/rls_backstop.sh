# The database enforces tenancy by itself: connected directly as the
# daemon's role (no daemon in between), every tenant table shows nothing
# without the tenant setting and only that tenant's rows with it, and the
# role cannot switch row-level security off or change tables.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

# as_app_in TENANT_ID SQL: one transaction as the daemon's role with the tenant set.
as_app_in() {
    psql -X -q -A -t -v ON_ERROR_STOP=1 "$BLTEST_APP_CONNINFO" \
        -c "BEGIN" -c "SET LOCAL branchline.tenant = '$1'" -c "$2" -c "COMMIT"
}

case_ "two tenants with data"
as carol
ok tenant create ta --name "Tenant A" --admin-subject CN=alice
ok tenant create tb --name "Tenant B" --admin-subject CN=bob
for who in alice bob; do
    as $who
    ok unit add r1 --kind region --name "R1"
    ok unit add r1/b1 --kind branch --name "B1"
    ok dept add / customer_service
    ok dept add r1/b1 sales
    ok project add p --name P
    ok project assign r1/b1 p
    ok staff add "S $who" --role salesperson --dept r1/b1 --function sales
    ok lead add --external-id "x-$who" --project p --channel search --name "N $who" --phone 13800000000
done
ta=$(psql_admin "SELECT id FROM branchline.tenants WHERE code = 'ta'")
tb=$(psql_admin "SELECT id FROM branchline.tenants WHERE code = 'tb'")

case_ "every tenant table: nothing without the setting, only the tenant's rows with it"
tables=$(psql_admin "SELECT table_name FROM information_schema.columns
                      WHERE table_schema = 'branchline' AND column_name = 'tenant_id'
                        AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'branchline')
                      ORDER BY 1")
[[ -n $tables ]] || fail "no tenant tables found"
for t in $tables; do
    eq "$(psql_app "SELECT count(*) FROM branchline.$t")" "0" "$t without the setting"
    total_a=$(psql_admin "SELECT count(*) FROM branchline.$t WHERE tenant_id = $ta")
    eq "$(as_app_in "$ta" "SELECT count(*) FROM branchline.$t")" "$total_a" "$t as tenant A"
    eq "$(as_app_in "$ta" "SELECT count(*) FROM branchline.$t WHERE tenant_id = $tb")" "0" "$t: B's rows as A"
    rls=$(psql_admin "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'branchline.$t'::regclass")
    eq "$rls" "t" "$t has forced row-level security"
done
eq "$(as_app_in "$ta" "SELECT count(*) FROM branchline.audit WHERE tenant_id = $tb")" "0" "another tenant's audit"

case_ "the daemon's role cannot switch it off or change tables"
for sql in "ALTER TABLE branchline.units DISABLE ROW LEVEL SECURITY" \
    "ALTER TABLE branchline.units NO FORCE ROW LEVEL SECURITY" \
    "ALTER TABLE branchline.units ADD COLUMN x int" \
    "DROP POLICY tenant_isolation ON branchline.units" \
    "UPDATE branchline.audit SET operation = 'x'" \
    "DELETE FROM branchline.audit" \
    "SET row_security = off; SELECT count(*) FROM branchline.units"; do
    if psql_app "$sql" >/dev/null 2>&1; then
        fail "the daemon's role could run: $sql"
    fi
done
eq "$(psql_admin "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'branchd'")" "f"
eq "$(psql_admin "SELECT count(*) FROM pg_tables WHERE schemaname = 'branchline' AND tableowner = 'branchd'")" "0"

case_ "writing another tenant's rows is refused too"
if as_app_in "$ta" "INSERT INTO branchline.projects (tenant_id, code, name) VALUES ($tb, 'evil', 'Evil')" >/dev/null 2>&1; then
    fail "tenant A's setting could insert a row of tenant B"
fi

finish
