# The read pool's failback (db_read_failback_s) where no standby exists:
# bltest_run --read-pool gives the daemon a read pool on the test cluster,
# a primary, with application_name=branchd_read, and this scenario's
# options (CMakeLists.txt) make it 2 workers x db_read_pool_size 1 with
# db_read_failback_s 1. Every idle read connection is on a primary, so each
# is renewed about once a second per worker, one at a time, and lands on
# the primary again: the renewals are counted, the gauge says the whole
# pool is on a primary, and lead list never fails meanwhile, though with
# one connection per worker a renewal takes that worker's whole read pool.
# The second daemon's read pool reaches no server: nothing to renew. The
# primary pools are never renewed.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

H=http://127.0.0.1:$BLTEST_HTTP_PORT
H2=http://127.0.0.1:$BLTEST_HTTP_PORT2
READ_CONNS=2 # workers x db_read_pool_size

# metric URL NAME_WITH_LABELS: the sample's value in a fresh scrape.
metric() {
    curl -sS -f "$1/metrics" | awk -v k="$2" '$1 == k { v = $2 } END { print v == "" ? 0 : v }'
}

# backends WHICH: the pids of this database's branchd backends of the read
# pool (WHICH '=') or of the primary pools (WHICH '<>'), sorted.
backends() {
    psql_admin "SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') FROM pg_stat_activity
                 WHERE datname = current_database() AND usename = 'branchd'
                   AND application_name $1 'branchd_read'"
}

# wait_metric URL NAME OP VALUE: polls (60 s at most) until `test SAMPLE OP VALUE` holds.
wait_metric() {
    local v
    for _ in $(seq 600); do
        v=$(metric "$1" "$2")
        test "$v" "$3" "$4" && return 0
        sleep 0.1
    done
    fail "$2 stayed $v, want $3 $4"
}

case_ "set up: a tenant with a lead to list"
one_branch_org
ok lead add --external-id fb-1 --project seo --channel search --name Ann
ok -o json lead list
eq "$(jqv '.[0].external_id')" fb-1

case_ "the gauge counts the read connections on a primary: all of them"
wait_metric "$H" branchline_db_read_pool_on_primary -eq "$READ_CONNS"

case_ "idle read connections on a primary are renewed: counted, new backends, no loss counted"
primary_before=$(backends '<>')
read_before=$(backends '=')
reconnects=$(metric "$H" 'branchline_db_reconnects_total{pool="read"}')
errors=$(metric "$H" 'branchline_db_errors_total{pool="read"}')
renewals=$(metric "$H" branchline_db_read_pool_failbacks_total)
wait_metric "$H" branchline_db_read_pool_failbacks_total -ge "$((renewals + 2 * READ_CONNS))"
read_after=$(backends '=')
[[ $read_after != "$read_before" ]] || fail "the read pool's backends are the same ($read_before)"
grep -q 'db_failback_ready.*pool=read.*node=primary' "$BLTEST_DAEMON_LOG" ||
    fail "no db_failback_ready node=primary in the log"

case_ "lead list answers OK all through the renewals (3 readers, until 3 renewals per read connection)"
renewals=$(metric "$H" branchline_db_read_pool_failbacks_total)
rcs=$(mktemp)
reader() {
    local rc
    while [[ ! -e $rcs.stop ]]; do
        rc=0
        bctl lead list --limit 5 >/dev/null 2>>"$rcs.err" || rc=$?
        echo "$rc" >>"$rcs"
    done
}
pids=()
for _ in 1 2 3; do
    reader &
    pids+=($!)
done
wait_metric "$H" branchline_db_read_pool_failbacks_total -ge "$((renewals + 3 * READ_CONNS))"
touch "$rcs.stop"
for pid in "${pids[@]}"; do
    wait "$pid"
done
calls=$(wc -l <"$rcs")
failed=$(grep -vc '^0$' "$rcs" || true)
echo "$calls lead list calls during $(($(metric "$H" branchline_db_read_pool_failbacks_total) - renewals)) renewals"
eq "$failed" 0 "of $calls lead list calls, failed ($(sort -u "$rcs.err" | head -3))"
eq "$(metric "$H" 'branchline_db_errors_total{pool="read"}')" "$errors" "read pool errors"
eq "$(metric "$H" 'branchline_db_reconnects_total{pool="read"}')" "$reconnects" \
    "read pool connections lost (a renewal is not a loss)"
eq "$(metric "$H" 'branchline_requests_total{operation="lead_list",code="OK"}')" "$((calls + 1))" \
    "lead list answered OK"
eq "$(metric "$H" 'branchline_requests_total{operation="lead_list",code="UNAVAILABLE"}')" 0 \
    "lead list answered UNAVAILABLE"
wait_metric "$H" branchline_db_read_pool_on_primary -eq "$READ_CONNS"

case_ "the primary pools are never renewed"
eq "$(backends '<>')" "$primary_before" "the primary pools' backends"

case_ "a read pool that never connected has nothing to renew and nothing on a primary"
eq "$(metric "$H2" branchline_db_read_pool_failbacks_total)" 0
eq "$(metric "$H2" branchline_db_read_pool_on_primary)" 0

finish
