# /readyz follows the database: a real outage of the cluster (stopped and
# started again by tests/run.sh's pgctl) turns it to 503 with the reason,
# /livez stays 200 meanwhile, and readiness comes back by itself. The
# outage also shows in the metrics. Runs alone (RUN_SERIAL): it stops the
# cluster every test shares.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

H=http://127.0.0.1:$BLTEST_HTTP_PORT

metric() {
    curl -sS "$H/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

restart_db() {
    "$BRANCHLINE_TEST_PGCTL" start >/dev/null 2>&1 || true
}

case_ "ready while the database is up"
ready_is "$H" 200
losses=$(metric branchline_db_listen_losses_total)

case_ "the database stops: /readyz is 503 and says why; /livez stays 200"
trap restart_db EXIT
"$BRANCHLINE_TEST_PGCTL" stop >/dev/null
ready_is "$H" 503
contains "$BODY" "does not hear database notifications"
eq "$(curl -sS -o /dev/null -w '%{http_code}' "$H/livez")" 200
[[ $(metric branchline_db_listen_losses_total) -gt $losses ]] || fail "the LISTEN loss was not counted"

case_ "the database comes back: ready again, without a restart"
"$BRANCHLINE_TEST_PGCTL" start >/dev/null
trap - EXIT
ready_is "$H" 200
eq "${BODY%$'\n'}" "ready"
as carol
ok ping

finish
