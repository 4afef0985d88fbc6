# lead_list's plans on a large tenant whose statistics are older than its
# growth (issue 13, item 7). Generated straight into the database as the
# superuser (tests/bench/gendata.sh): a small tenant whose 2,000 leads the
# planner has seen, then a tenant "bench" of 200 branches and 111,000 leads
# it has not (no ANALYZE, autovacuum off for leads), a third of them taken
# back to their holders' queues. That is what a burst of imports leaves, or
# an immediate restart, which forgets what autovacuum had counted: custom
# plans then think the big tenant holds a lead or two.
#
# For each shape of `lead list --limit 1000` (whole tenant, a region, a
# city, a branch, the held leads, a project and status, a later page) a
# fresh session as the daemon's role calls api.lead_list seven times:
# PL/pgSQL plans the first five with the call's values (custom plans) and
# may switch to a generic plan from the sixth. auto_explain reports the
# plan each call ran (actual rows, no timing); the test adds up the rows
# every scan of leads returned and its filters removed, times its loops,
# and the rows join filters removed. No call may read more than the
# tenant once plus twenty rows per requested lead (the lists of a
# subtree's branches): a plan that fetches the page's leads by scanning
# the tenant for each (the nested loop of the issue, 111 million rows for
# one call) fails, and so does one that reads the tenant twice (the
# former merge join of the page with the tenant's leads from the newest
# down, after a scan of the tenant for the page itself).
# Nothing is timed; the figures are printed (tests/bench/RESULTS.md).
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

GENDATA=$(dirname "$0")/../bench/gendata.sh
N=111000
LIMIT=1000
APP_ROLE=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$BLTEST_APP_CONNINFO")
[[ -n $APP_ROLE ]] || fail "no user= in BLTEST_APP_CONNINFO"

case_ "a large tenant with statistics of before its growth"
"$GENDATA" "$BLTEST_ADMIN_CONNINFO" tenants --count 1 >/dev/null 2>&1 || fail "gendata tenants"
"$GENDATA" "$BLTEST_ADMIN_CONNINFO" leads --tenant mt1 --count 2000 >/dev/null 2>&1 || fail "gendata mt1 leads"
psql_admin "ALTER TABLE branchline.leads SET (autovacuum_enabled = false)" >/dev/null
"$GENDATA" "$BLTEST_ADMIN_CONNINFO" org --regions 4 --cities 5 --branches 10 --projects 10 >/dev/null 2>&1 ||
    fail "gendata org"
"$GENDATA" "$BLTEST_ADMIN_CONNINFO" leads --count "$N" --analyze no >/dev/null 2>&1 || fail "gendata leads"
psql_admin "UPDATE branchline.leads SET branch_id = NULL, status = 'unroutable', reason = 'no_sales'
             WHERE tenant_id = (SELECT id FROM branchline.tenants WHERE code = 'bench') AND id % 3 = 0" >/dev/null
eq "$(psql_admin "SELECT count(*) FROM branchline.leads l JOIN branchline.tenants t ON t.id = l.tenant_id
                   WHERE t.code = 'bench'")" "$N"
MID=$(psql_admin "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY l.id) FROM branchline.leads l
                   JOIN branchline.tenants t ON t.id = l.tenant_id WHERE t.code = 'bench'")

# plan_work ARGS: seven calls of api.lead_list(ARGS) in one fresh session;
# prints the rows each call's plan read from leads, one line.
plan_work() {
    {
        cat <<SQL
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_timing = off;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
SET ROLE "$APP_ROLE";
SQL
        for _ in 1 2 3 4 5 6 7; do
            echo "SELECT count(*) FROM api.lead_list($1);"
        done
    } | psql -X -q -A -t -v ON_ERROR_STOP=1 "$BLTEST_ADMIN_CONNINFO" 2>&1 >/dev/null | python3 -c '
import re, sys
# One figure per plan of lead_list'"'"'s query: the rows each scan of leads
# returned plus those its filters removed, times its loops, and the rows
# any join filter removed.
out = []
for plan in re.split(r"NOTICE:  duration: ", sys.stdin.read())[1:]:
    if "WITH page AS" not in plan:
        continue
    work, loops, on_leads = 0, 1, False
    for line in plan.splitlines():
        node = re.search(r"^\s*(?:->\s+)?(.*?)\s+\(cost=.*\(actual rows=(\d+) loops=(\d+)\)", line)
        if node:
            loops = int(node.group(3))
            on_leads = re.search(r" on leads\b", node.group(1)) is not None
            work += int(node.group(2)) * loops if on_leads else 0
            continue
        removed = re.search(r"Rows Removed by (Join )?Filter: (\d+)", line)
        if removed and (on_leads or removed.group(1)):
            work += int(removed.group(2)) * loops
    out.append(str(work))
print(" ".join(out))
'
}

case_ "fresh sessions: no plan of lead list reads the tenant more than once"
bound=$((N + 20 * LIMIT))
printf '%-44s %s\n' "lead_list(...) as bench-admin" "rows read from leads, calls 1-7 (custom plans, then generic)"
for shape in "NULL, NULL, NULL, NULL" "'r1', NULL, NULL, NULL" "'r1/c1', NULL, NULL, NULL" \
    "'r1/c1/b1', NULL, NULL, NULL" "NULL, 'unroutable', NULL, NULL" "NULL, 'allocated', 'p3', NULL"; do
    for after in NULL "$MID"; do
        args="'CN=bench-admin', $shape, $LIMIT, $after"
        works=$(plan_work "$args")
        printf '%-44s %s\n' "${shape//NULL/-}, after ${after//NULL/-}" "$works"
        read -ra each <<<"$works"
        eq "${#each[@]}" "7" "plans reported for lead_list($args)"
        for w in "${each[@]}"; do
            ((w <= bound)) || fail "lead_list($args) read $w rows of leads (at most $bound): $works"
        done
    done
done

finish
