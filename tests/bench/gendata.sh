#!/usr/bin/env bash
# Usage: tests/bench/gendata.sh CONNINFO COMMAND [OPTION...]
#
# Benchmark data written straight into a migrated Branchline database with
# set-based INSERT ... SELECT generate_series (the api would take one call,
# and one audit row, per unit or lead). CONNINFO is a libpq string of a
# superuser on that database (row-level security does not bind it). Rows get
# exactly the columns the api functions would give them; `check` proves it
# through the api.
#
# Commands:
#   org [--tenant CODE] [--admin SUBJECT] [--regions R] [--cities C]
#       [--branches B] [--projects P]
#       A tenant (api.tenant_create: root group, admin principal) with R
#       regions r1..rR, C cities per region (rI/cJ), B branches per city
#       (rI/cJ/bK), promotion and customer service at every region, sales at
#       every branch, P projects p1..pP; each branch handles 5 of them with a
#       capacity of 1 to 4 (so a pool, one region and one project, has
#       about R*C*B*5/P/R branches). Defaults: bench, CN=bench-admin,
#       20, 10, 50, 50: 10,000 branches, 200 cities.
#       --size N (N a multiple of 500) instead of --regions: N branches in
#       the same shape (N/500 regions of 10 cities of 50 branches), so a
#       pool keeps its 50 branches and only the tenant grows: issue 18's
#       alloc at 10,000 (--size 10000, the default) against 100,000
#       (--size 100000).
#   leads [--tenant CODE] --count N [--analyze no]
#       Adds N allocated leads (external ids gen-1, gen-2, ... continuing
#       after the ones already generated), each in the pool of its region
#       for one of its branch's projects, with its history event and the
#       pool and day counters they imply, created over the last 60 days.
#       Then VACUUM ANALYZE, unless --analyze no: the planner's statistics
#       stay those of before, as after a burst that autovacuum has not
#       caught up with (tests/integration/lead_list_plan.sh).
#   tenants [--count N] [--per-tenant-branches 50]
#       N more tenants mt1..mtN (admins CN=mtK-admin), each with 2 regions,
#       5 cities per region and the rest of 50 branches per tenant spread
#       over the cities; departments as in `org`, 5 projects.
#   check [--tenant CODE] [--admin SUBJECT]
#       Through the api as the admin: every unit's path and ancestors
#       agree with its parent, the serving map covers every branch, the
#       shape is decentralized, and (once leads exist) a branch's lead list
#       answers.
#
# Prints what it made and how long it took.
set -euo pipefail
PROG=gendata.sh
OPERATOR=CN=bench-operator

die() { echo "$PROG: $*" >&2; exit 1; }
usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
CONNINFO=$1
CMD=$2
shift 2

TENANT=bench ADMIN=CN=bench-admin REGIONS=20 CITIES=10 BRANCHES=50 PROJECTS=50
COUNT='' PER_TENANT=50 SIZE='' ANALYZE=yes
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || usage
    case $1 in
    --tenant) TENANT=$2 ;;
    --admin) ADMIN=$2 ;;
    --regions) REGIONS=$2 ;;
    --cities) CITIES=$2 ;;
    --branches) BRANCHES=$2 ;;
    --projects) PROJECTS=$2 ;;
    --count) COUNT=$2 ;;
    --per-tenant-branches) PER_TENANT=$2 ;;
    --size) SIZE=$2 ;;
    --analyze) ANALYZE=$2 ;;
    *) usage ;;
    esac
    shift 2
done
if [[ -n $SIZE ]]; then
    [[ $SIZE =~ ^[1-9][0-9]*$ && $((SIZE % 500)) -eq 0 ]] || die "--size '$SIZE' is not a positive multiple of 500"
    REGIONS=$((SIZE / 500)) CITIES=10 BRANCHES=50
fi
for n in "$REGIONS" "$CITIES" "$BRANCHES" "$PROJECTS" "$PER_TENANT" ${COUNT:+"$COUNT"}; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive integer"
done

run_sql() {
    psql "$CONNINFO" -X -q -At -v ON_ERROR_STOP=1 -v tenant="$TENANT" -v admin="$ADMIN" \
        -v operator="$OPERATOR" -v regions="$REGIONS" -v cities="$CITIES" -v branches="$BRANCHES" \
        -v projects="$PROJECTS" -v count="${COUNT:-0}" -v per_tenant="$PER_TENANT" \
        -v analyze="$([[ $ANALYZE == no ]] && echo false || echo true)" "$@"
}

# The departments, projects and project assignments of `org`, for every
# tenant whose id is in the temporary table gen_tenants.
ORG_BODY=$(cat <<'SQL'
INSERT INTO branchline.departments (tenant_id, unit_id, function, name)
SELECT u.tenant_id, u.id, f, u.name || ' ' || replace(f, '_', ' ')
  FROM branchline.units u
  JOIN gen_tenants t ON t.id = u.tenant_id
 CROSS JOIN unnest('{promotion,customer_service}'::text[]) f
 WHERE u.kind = 'region'
UNION ALL
SELECT u.tenant_id, u.id, 'sales', u.name || ' sales'
  FROM branchline.units u JOIN gen_tenants t ON t.id = u.tenant_id
 WHERE u.kind = 'branch';

INSERT INTO branchline.projects (tenant_id, code, name)
SELECT t.id, 'p' || k, 'Project ' || k FROM gen_tenants t, generate_series(1, t.projects) k;

-- Branch number n (in id order) handles projects n, n + P/5, n + 2P/5, ...
-- (mod P): every project is handled by the same number of branches.
INSERT INTO branchline.branch_projects (tenant_id, branch_id, project_id, capacity)
SELECT b.tenant_id, b.id, p.id, 1 + b.n % 4
  FROM (SELECT u.tenant_id, u.id, row_number() OVER (PARTITION BY u.tenant_id ORDER BY u.id) AS n
          FROM branchline.units u JOIN gen_tenants t ON t.id = u.tenant_id
         WHERE u.kind = 'branch') b
  JOIN gen_tenants t ON t.id = b.tenant_id
 CROSS JOIN generate_series(0, least(5, t.projects) - 1) k
  JOIN branchline.projects p
    ON p.tenant_id = b.tenant_id
   AND p.code = 'p' || ((b.n + k * greatest(t.projects / least(5, t.projects), 1)) % t.projects + 1);

-- A change the api did not see: bump the version and tell daemons.
UPDATE branchline.org_state s SET version = version + 1 FROM gen_tenants t WHERE s.tenant_id = t.id;
SELECT pg_notify('branchline_org', t.id::text) FROM gen_tenants t;
SQL
)

# Units under every tenant in gen_tenants: regions, then cities, then
# branches, each with the path and ancestors unit_add computes.
UNITS_BODY=$(cat <<'SQL'
INSERT INTO branchline.units (tenant_id, parent_id, code, name, kind, opened_on, path, ancestors)
SELECT g.tenant_id, g.id, 'r' || i, 'Region ' || i, 'region', DATE '2024-01-01', '/r' || i || '/', ARRAY[g.id]
  FROM branchline.units g JOIN gen_tenants t ON t.id = g.tenant_id
 CROSS JOIN generate_series(1, t.regions) i
 WHERE g.path = '/';

INSERT INTO branchline.units (tenant_id, parent_id, code, name, kind, opened_on, path, ancestors)
SELECT r.tenant_id, r.id, 'c' || j, 'City ' || r.code || '-' || j, 'city', DATE '2024-01-01',
       r.path || 'c' || j || '/', r.ancestors || r.id
  FROM branchline.units r JOIN gen_tenants t ON t.id = r.tenant_id
 CROSS JOIN generate_series(1, t.cities) j
 WHERE r.kind = 'region';
-- Statistics first: planned for a near-empty table, the foreign key checks
-- of 10,000 branches would each scan the table.
ANALYZE branchline.units;

INSERT INTO branchline.units (tenant_id, parent_id, code, name, kind, opened_on, path, ancestors)
SELECT c.tenant_id, c.id, 'b' || k, 'Branch ' || btrim(c.path, '/') || '/' || k, 'branch', DATE '2024-01-01',
       c.path || 'b' || k || '/', c.ancestors || c.id
  FROM branchline.units c JOIN gen_tenants t ON t.id = c.tenant_id
 CROSS JOIN generate_series(1, t.branches) k
 WHERE c.kind = 'city';
SQL
)

cmd_org() {
    run_sql <<SQL
SET client_min_messages = warning;
SELECT count(*) FROM api.bootstrap_operator(:'operator');
SELECT count(*) FROM api.tenant_create(:'operator', :'tenant', 'Bench ' || :'tenant', :'admin', 'Asia/Shanghai');
BEGIN;
CREATE TEMP TABLE gen_tenants ON COMMIT DROP AS
SELECT id, :regions AS regions, :cities AS cities, :branches AS branches, :projects AS projects
  FROM branchline.tenants WHERE code = :'tenant';
$UNITS_BODY
$ORG_BODY
COMMIT;
ANALYZE;
SQL
}

# Tenants as api.tenant_create makes them (tenant, organization state at
# version 1, root group, first admin, audit row), set-based: tenant_create
# takes 17 ms each, most of it validating the time zone.
TENANTS_BODY=$(cat <<'SQL'
CREATE TEMP TABLE gen_new ON COMMIT DROP AS
SELECT 'mt' || k AS code, 'Tenant ' || k AS name, 'CN=mt' || k || '-admin' AS admin
  FROM generate_series(:done + 1, :done + :count) k;
INSERT INTO branchline.tenants (code, name, timezone) SELECT code, name, 'UTC' FROM gen_new;
CREATE TEMP TABLE gen_tenants ON COMMIT DROP AS
SELECT t.id, n.admin, 2 AS regions, 5 AS cities, :cb AS branches, 5 AS projects
  FROM branchline.tenants t JOIN gen_new n ON n.code = t.code;
INSERT INTO branchline.org_state (tenant_id, version) SELECT id, 1 FROM gen_tenants;
INSERT INTO branchline.units (tenant_id, code, name, kind, opened_on, path, ancestors)
SELECT t.id, t.code, t.name, 'group', (now() AT TIME ZONE 'UTC')::date, '/', '{}'
  FROM branchline.tenants t JOIN gen_tenants g ON g.id = t.id;
INSERT INTO branchline.principals (tenant_id, subject, role) SELECT id, admin, 'admin' FROM gen_tenants;
INSERT INTO branchline.audit (tenant_id, principal_id, principal, operation, target, version, after)
SELECT t.id, o.id, :'operator', 'tenant_create', 'tenant:' || t.code, 1,
       jsonb_build_object('tenant', jsonb_build_object('id', t.id, 'code', t.code, 'name', t.name,
                                                       'timezone', t.timezone, 'created_at', branchline.iso(t.created_at)),
                          'admin_subject', g.admin)
  FROM branchline.tenants t JOIN gen_tenants g ON g.id = t.id
  JOIN branchline.principals o ON o.subject = :'operator';
ANALYZE branchline.units;
SQL
)

cmd_tenants() {
    [[ -n $COUNT ]] || die "tenants needs --count N"
    local cities_branches=$(((PER_TENANT + 9) / 10))
    run_sql -v cb="$cities_branches" <<SQL
SET client_min_messages = warning;
SELECT count(*) FROM api.bootstrap_operator(:'operator');
SELECT coalesce(max(substr(code, 3)::int), 0) AS done FROM branchline.tenants WHERE code ~ '^mt[0-9]+\$' \gset
BEGIN;
$TENANTS_BODY
$UNITS_BODY
-- exactly per_tenant branches: drop the surplus of the last cities
DELETE FROM branchline.units u USING (
    SELECT b.tenant_id, b.id, row_number() OVER (PARTITION BY b.tenant_id ORDER BY b.id) AS n
      FROM branchline.units b JOIN gen_tenants t ON t.id = b.tenant_id WHERE b.kind = 'branch') x
 WHERE u.tenant_id = x.tenant_id AND u.id = x.id AND x.n > :per_tenant;
$ORG_BODY
COMMIT;
ANALYZE;
SQL
}

cmd_leads() {
    [[ -n $COUNT ]] || die "leads needs --count N"
    run_sql <<'SQL'
SET client_min_messages = warning;
BEGIN;
SELECT id AS tid, timezone AS tz FROM branchline.tenants WHERE code = :'tenant' \gset
SELECT coalesce(max(id), 0) AS max_id,
       coalesce(max(substr(external_id, 5)::bigint) FILTER (WHERE external_id ~ '^gen-[0-9]+$'), 0) AS done
  FROM branchline.leads WHERE tenant_id = :tid \gset
-- (branch, project) pairs with the pool that allocates them: the holder
-- is the unit of the customer service serving the branch, the nearest on
-- its path up (branchline.holder_of, set-based: its region here).
CREATE TEMP TABLE gen_pool ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY x.branch_id, x.project_id) AS n, x.* FROM (
    SELECT DISTINCT ON (bp.branch_id, bp.project_id) bp.branch_id, bp.project_id, d.unit_id AS holder_id
      FROM branchline.branch_projects bp
      JOIN branchline.units b ON b.tenant_id = bp.tenant_id AND b.id = bp.branch_id
     CROSS JOIN LATERAL unnest(b.ancestors || b.id) WITH ORDINALITY AS a (unit_id, n)
      JOIN branchline.departments d ON d.tenant_id = b.tenant_id AND d.unit_id = a.unit_id
                                   AND d.function = 'customer_service'
     WHERE bp.tenant_id = :tid
     ORDER BY bp.branch_id, bp.project_id, a.n DESC) x;
SELECT count(*) AS pool_rows FROM gen_pool \gset

-- Lead i goes to pair (7919 i mod pairs): 7919 is prime, so the pairs are
-- used evenly; its phone is 2654435761 i mod 10^10, distinct for every i.
INSERT INTO branchline.leads (tenant_id, external_id, project_id, channel, origin_id, holder_id, branch_id,
                              status, policy, name, phone, phone_key, created_at, allocated_at)
SELECT :tid, 'gen-' || i, p.project_id, 'search', p.holder_id, p.holder_id, p.branch_id,
       'allocated', 'weighted', 'Lead ' || i, x.phone, x.phone, x.at, x.at
  FROM generate_series(:done + 1::bigint, :done + :count) i
  JOIN gen_pool p ON p.n = (i * 7919) % :pool_rows + 1
 CROSS JOIN LATERAL (SELECT lpad(((i * 2654435761) % 10000000000)::text, 10, '0') AS phone,
                            now() - make_interval(secs => (:done + :count - i) * 5184000.0 / (:done + :count)) AS at) x
 ORDER BY i;

INSERT INTO branchline.lead_events (tenant_id, lead_id, at, kind, to_branch_id, principal, policy)
SELECT tenant_id, id, created_at, 'allocated', branch_id, 'CN=bench-gendata', policy
  FROM branchline.leads WHERE tenant_id = :tid AND id > :max_id;

INSERT INTO branchline.lead_pool_state AS s (tenant_id, holder_id, project_id, branch_id, allocated, open_leads)
SELECT tenant_id, holder_id, project_id, branch_id, count(*), count(*)
  FROM branchline.leads WHERE tenant_id = :tid AND id > :max_id
 GROUP BY tenant_id, holder_id, project_id, branch_id
ON CONFLICT (tenant_id, holder_id, project_id, branch_id) DO UPDATE
   SET allocated = s.allocated + excluded.allocated, open_leads = s.open_leads + excluded.open_leads;

INSERT INTO branchline.lead_day_counts AS d (tenant_id, branch_id, day, project_id, holder_id, received)
SELECT tenant_id, branch_id, (created_at AT TIME ZONE :'tz')::date, project_id, holder_id, count(*)
  FROM branchline.leads WHERE tenant_id = :tid AND id > :max_id
 GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (tenant_id, branch_id, day, project_id, holder_id) DO UPDATE SET received = d.received + excluded.received;
COMMIT;
\if :analyze
VACUUM ANALYZE branchline.leads, branchline.lead_events, branchline.lead_pool_state, branchline.lead_day_counts;
\endif
SQL
}

cmd_check() {
    run_sql <<'SQL'
SET client_min_messages = warning;
\set QUIET on
SELECT id AS tid FROM branchline.tenants WHERE code = :'tenant' \gset
SELECT count(*) AS bad FROM branchline.units u
  JOIN branchline.units p ON p.tenant_id = u.tenant_id AND p.id = u.parent_id
 WHERE u.tenant_id = :tid AND (u.path <> p.path || u.code || '/' OR u.ancestors <> p.ancestors || p.id
                               OR u.path_end <> left(u.path, -1) || '0') \gset
SELECT count(*) AS branches FROM branchline.units WHERE tenant_id = :tid AND kind = 'branch' \gset
SELECT EXISTS (SELECT FROM branchline.leads WHERE tenant_id = :tid) AS has_leads \gset
\if :has_leads
SELECT b.path AS busy, count(*) AS stored FROM branchline.leads l
  JOIN branchline.units b ON b.tenant_id = l.tenant_id AND b.id = l.branch_id
 WHERE l.tenant_id = :tid AND l.branch_id = (SELECT max(branch_id) FROM branchline.leads WHERE tenant_id = :tid)
 GROUP BY b.path \gset
\endif
-- The api as the daemon's group role: row-level security binds it, not us.
SET ROLE branchline_app;
SELECT count(*) AS served FROM api.serving(:'admin', '/') WHERE sales = branch_path \gset
SELECT count(*) AS r1_wrong FROM api.serving(:'admin', 'r1')
 WHERE promotion <> 'r1' OR customer_service <> 'r1' OR sales <> branch_path \gset
SELECT string_agg(shape, ',') AS shape FROM api.shape(:'admin', '/') \gset
SELECT count(*) AS listed FROM api.unit_list(:'admin', 'branch', NULL, NULL) \gset
SELECT :bad = 0 AND :served = :branches AND :r1_wrong = 0 AND :'shape' = 'decentralized'
       AND :listed = :branches AS ok \gset
\if :ok
\echo check: units consistent, serving covers :branches branches, shape :shape
\else
\warn check failed: bad units :bad, served :served of :branches, r1 wrong :r1_wrong, shape :shape, listed :listed
SELECT 1 / 0;
\endif
SELECT to_regprocedure('api.lead_list(text,text,text,text,text,integer,bigint)') IS NOT NULL AS has_lead_list \gset
\if :has_lead_list
\if :has_leads
SELECT count(*) AS got FROM api.lead_list(:'admin', :'busy', NULL, NULL, NULL, 50, NULL) \gset
SELECT :got = least(:stored, 50) AS leads_ok \gset
\if :leads_ok
\echo check: lead_list of :busy returns :got of its :stored leads
\else
\warn check failed: lead_list of :busy returned :got, expected least(:stored, 50)
SELECT 1 / 0;
\endif
\endif
\endif
SQL
}

start=$EPOCHREALTIME
case $CMD in
org) cmd_org >/dev/null ;;
leads) cmd_leads ;;
tenants) cmd_tenants >/dev/null ;;
check) cmd_check ;;
*) usage ;;
esac
awk -v p="$PROG" -v c="$CMD" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s: %s done in %.1f s\n", p, c, b - a }' 
