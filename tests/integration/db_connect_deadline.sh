# The connect deadline (README, "The database connection"): libpq applies
# connect_timeout only in its blocking connect, so branchd keeps the time of
# every connection attempt itself. A "silent server" (this script's own
# listener on 127.0.0.1: it accepts TCP and never answers, like a stopped
# postmaster behind a proxy or a half-dead network) must not hold a
# connection for ever:
#  - as the only host of the read pool: the daemon serves, is not ready,
#    and the log shows each attempt's deadline passing and the attempts
#    going on (connect_timeout=1 in the conninfo: libpq's minimum, 2 s);
#  - first in a two-host list (host=127.0.0.1,SOCKETDIR port=SILENT,PG; the
#    cluster takes passwords only over TCP, its socket peer logins): every
#    pool (the query connections, the LISTEN connection, the read pool)
#    times out on the silent host once, starts its next attempt at the
#    second one, and the daemon becomes ready and serves. The primary
#    pool's conninfo has connect_timeout=2, the read pool's none (the
#    default, 10 s); each shows in the log.
#  - as db_conninfo without connect_timeout: start-up's blocking checks
#    (libpq's own connect) get the same default and give up, and the
#    start-up wait (db_startup_timeout_ms) counts the time connecting.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

DB=${BLTEST_APP_CONNINFO##*dbname=}
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

# The silent server: accepts every connection, keeps it, never sends a byte.
python3 -c '
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    with open(sys.argv[2], "w") as f:
        f.write(str(len(held)))
' "$BLTEST_DIR/silent.port" "$BLTEST_DIR/silent.accepted" &
PIDS+=($!)
for _ in $(seq 100); do
    [[ -s $BLTEST_DIR/silent.port ]] && break
    sleep 0.1
done
SILENT=$(cat "$BLTEST_DIR/silent.port") || fail "the silent server did not start"

# start_daemon NAME DB_CONNINFO READ_CONNINFO: a daemon of one worker with
# one read connection; its ports in $BLTEST_DIR/NAME.port and NAME.http,
# its log in NAME.log.
start_daemon() {
    cat >"$BLTEST_DIR/$1.conf" <<CONF
listen_address = 127.0.0.1
listen_port = 0
port_file = $BLTEST_DIR/$1.port
http_port = 0
http_port_file = $BLTEST_DIR/$1.http
tls_cert = $BLTEST_CERTS/server.crt
tls_key = $BLTEST_CERTS/server.key
tls_ca = $BLTEST_CERTS/ca.crt
db_conninfo = $2
db_read_conninfo = $3
db_read_pool_size = 1
db_pool_size = 2
workers = 1
log_level = debug
CONF
    "$BRANCHD" --config "$BLTEST_DIR/$1.conf" 2>"$BLTEST_DIR/$1.log" &
    PIDS+=($!)
    # Start-up's own blocking checks connect with libpq's connect_timeout.
    for _ in $(seq 300); do
        [[ -s $BLTEST_DIR/$1.http && -s $BLTEST_DIR/$1.port ]] && return 0
        sleep 0.1
    done
    fail "daemon $1 did not start: $(cat "$BLTEST_DIR/$1.log")"
}

# timeouts LOG PATTERN: how many db_connect_timeout lines of LOG match PATTERN.
timeouts() {
    grep -c "db_connect_timeout.*$2" "$1" || true
}

case_ "set up: a tenant with a lead (the fixture's daemon)"
one_branch_org
ok lead add --external-id dl-1 --project seo --channel search --name Ann

case_ "a silent server as the read pool's only host: the daemon serves, not ready, attempts time out and go on"
start_daemon only "$BLTEST_APP_CONNINFO" \
    "host=127.0.0.1 port=$SILENT user=branchd dbname=$DB connect_timeout=1"
A=http://127.0.0.1:$(cat "$BLTEST_DIR/only.http")
ready_is "$A" 503 10
contains "$BODY" "read pool: worker 0 has no connection of db_read_conninfo"
# Three deadlines of the same connection: not one attempt hanging.
for _ in $(seq 300); do
    [[ $(timeouts "$BLTEST_DIR/only.log" "pool=read db_conn=0") -ge 3 ]] && break
    sleep 0.1
done
n=$(timeouts "$BLTEST_DIR/only.log" "pool=read db_conn=0")
[[ $n -ge 3 ]] || fail "$n connect deadlines of the read connection: $(grep -c . "$BLTEST_DIR/only.log") log lines"
line=$(grep -m1 "db_connect_timeout.*pool=read" "$BLTEST_DIR/only.log")
contains "$line" "host=\"127.0.0.1\" port=$SILENT phase=connecting timeout_ms=2000"
grep -q "db_lost.*pool=read db_conn=0 error=\"connect deadline passed\" retry_ms=" "$BLTEST_DIR/only.log" ||
    fail "no db_lost with the reason and the retry"
[[ $(cat "$BLTEST_DIR/silent.accepted") -ge 3 ]] || fail "the silent server saw $(cat "$BLTEST_DIR/silent.accepted") connections"
eq "$(timeouts "$BLTEST_DIR/only.log" "pool=primary")" 0 "connect deadlines of the primary pool"
export BRANCHLINE_SERVER=127.0.0.1:$(cat "$BLTEST_DIR/only.port")
refused 3 UNAVAILABLE lead list
ok lead show 1
ready_is "$A" 503 1

case_ "silent host first, the cluster second: every pool moves on to the cluster, ready, requests served"
LIST="host=127.0.0.1,$BRANCHLINE_TEST_PGHOST port=$SILENT,$BRANCHLINE_TEST_PGPORT user=branchd dbname=$DB"
start_daemon two "$LIST connect_timeout=2" "$LIST application_name=branchd_read"
B=http://127.0.0.1:$(cat "$BLTEST_DIR/two.http")
# 2 s for the primary pool's attempts on the silent host, 10 s for the read pool's.
ready_is "$B" 200 60
export BRANCHLINE_SERVER=127.0.0.1:$(cat "$BLTEST_DIR/two.port")
ok -o json lead list
eq "$(jqv '.[0].external_id')" dl-1
ok lead add --external-id dl-2 --project seo --channel search
ok -o json lead show 2
eq "$(jqv .external_id)" dl-2
for conn in 0 1 2; do # the two query connections, then the LISTEN connection
    [[ $(timeouts "$BLTEST_DIR/two.log" "pool=primary db_conn=$conn host=\"127.0.0.1\" port=$SILENT phase=connecting timeout_ms=2000") -ge 1 ]] ||
        fail "no connect deadline of primary connection $conn on the silent host"
done
[[ $(timeouts "$BLTEST_DIR/two.log" "pool=read db_conn=0 host=\"127.0.0.1\" port=$SILENT phase=connecting timeout_ms=10000") -ge 1 ]] ||
    fail "no connect deadline of the read connection on the silent host"
n=$(psql_admin "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                   AND application_name = 'branchd_read'")
[[ $n -ge 1 ]] || fail "the read pool is not on the cluster"

case_ "start-up on a silent server without connect_timeout: libpq's own connect gets the default, start-up gives up"
cat >"$BLTEST_DIR/startup.conf" <<CONF
listen_address = 127.0.0.1
listen_port = 0
tls_cert = $BLTEST_CERTS/server.crt
tls_key = $BLTEST_CERTS/server.key
tls_ca = $BLTEST_CERTS/ca.crt
db_conninfo = host=127.0.0.1 port=$SILENT user=branchd dbname=$DB
db_startup_timeout_ms = 1000
workers = 1
CONF
"$BRANCHD" --config "$BLTEST_DIR/startup.conf" 2>"$BLTEST_DIR/startup.log" &
pid=$!
PIDS+=("$pid")
# One attempt of 10 s (the start-up wait, 1 s, is over by then); without a
# deadline it would wait for ever.
for _ in $(seq 400); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "start-up still waits for the silent server after 40 s"
rc=0
wait "$pid" || rc=$?
[[ $rc -ne 0 ]] || fail "branchd exited 0 without a database"
contains "$(cat "$BLTEST_DIR/startup.log")" "startup_failed reason=database"
contains "$(cat "$BLTEST_DIR/startup.log")" "timeout expired"

finish
