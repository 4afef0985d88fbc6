# When a daemon's listening database connection is lost, it hears no
# notifications until it reconnects: its lead watch streams end with
# UNAVAILABLE (a client must not believe it saw every event), new watches
# are refused until it listens again, and afterwards watches and the read
# cache work as before: a change made through the other daemon is seen.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

A="127.0.0.1:$BLTEST_PORT"
B="127.0.0.1:$BLTEST_PORT2"

# Ends the LISTEN connections of both daemons (this test's database only).
kill_listeners() {
    psql_admin "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'"
}

# Starts a watch through B for dave; WATCHER is its pid once it stays up.
start_watch() {
    local out=$1
    for _ in $(seq 1 50); do
        as dave
        "$BRANCHCTL" --server "$B" -o json lead watch >"$out" 2>"$out.err" &
        WATCHER=$!
        as alice
        sleep 0.3
        kill -0 "$WATCHER" 2>/dev/null && return 0
        wait "$WATCHER" || true
    done
    fail "no lead watch stayed up through B: $(cat "$out.err")"
}

case_ "a tenant with one branch"
as carol
ok --server "$A" tenant create gap --name "Gap" --admin-subject CN=alice
as alice
ok --server "$A" dept add / customer_service
ok --server "$A" unit add b1 --kind branch --name "Branch one"
ok --server "$A" dept add b1 sales
ok --server "$A" project add p --name P
ok --server "$A" project assign b1 p --capacity 1
ok --server "$A" principal add --subject CN=dave --role branch --scope b1

case_ "a watch ends with UNAVAILABLE when its daemon stops hearing notifications"
start_watch "$BLTEST_DIR/w1.out"
n=$(kill_listeners)
((n >= 2)) || fail "expected a listening connection per worker of each daemon, ended $n"
for _ in $(seq 1 100); do
    kill -0 "$WATCHER" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$WATCHER" 2>/dev/null; then
    kill -TERM "$WATCHER"
    fail "the watch was still open 10 s after its daemon stopped hearing notifications"
fi
status=0
wait "$WATCHER" || status=$?
eq "$status" "3" "exit code of UNAVAILABLE ($(cat "$BLTEST_DIR/w1.out.err"))"
contains "$(cat "$BLTEST_DIR/w1.out.err")" "lead notifications were interrupted"
grep -q "event=db_lost" "$BLTEST_DAEMON_LOG2" || fail "daemon B did not log the lost connection"

case_ "after the daemon listens again, watches and cached reads are live"
ok --server "$B" -o json unit show b1
eq "$(jqv .name)" "Branch one"
start_watch "$BLTEST_DIR/w2.out"
ok --server "$A" unit rename b1 --name "Branch renamed"
ok --server "$B" -o json unit show b1
eq "$(jqv .name)" "Branch renamed" "B's cache heard A's change"
ok --server "$A" lead add --external-id after-gap --project p --channel search
for _ in $(seq 1 50); do
    grep -q after-gap "$BLTEST_DIR/w2.out" 2>/dev/null && break
    grep -q '"id"' "$BLTEST_DIR/w2.out" 2>/dev/null && break
    sleep 0.1
done
kill -TERM "$WATCHER"
wait "$WATCHER" || fail "watch did not end cleanly: $(cat "$BLTEST_DIR/w2.out.err")"
eq "$(jq -r .branch_path "$BLTEST_DIR/w2.out" | sort -u)" "b1" "the new watch saw the lead allocated through A"

finish
