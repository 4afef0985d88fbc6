# Two daemons share one database. Organization reads are served from each
# daemon's cache, and a change made through one daemon is visible through
# the other at once after it commits (NOTIFY invalidation).
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

A="127.0.0.1:$BLTEST_PORT"
B="127.0.0.1:$BLTEST_PORT2"

case_ "set up a tenant through daemon A"
as carol
ok --server "$A" tenant create twin --name "Twin" --admin-subject CN=heidi
as heidi
ok --server "$A" unit add east --kind region --name "East"
ok --server "$A" unit add east/b1 --kind branch --name "B1 v0"

case_ "reads through B are cached"
# Each worker has its own cache and connections spread over the workers:
# of several identical reads, all but one per worker are hits.
for _ in 1 2 3 4 5 6; do ok --server "$B" -o json serving east; done
hits=$(grep -c 'op=serving status=OK.*cache=hit' "$BLTEST_DAEMON_LOG2" || true)
[[ $hits -ge 1 ]] || fail "the second identical read was not a cache hit"

case_ "every change through A is seen by the next read through B"
for i in $(seq 1 25); do
    ok --server "$B" -o json unit show east/b1       # fills B's cache
    ok --server "$A" unit rename east/b1 --name "B1 v$i"
    ok --server "$B" -o json unit show east/b1
    eq "$(jqv .name)" "B1 v$i" "read through B right after the commit through A"
done

case_ "structure changes invalidate the serving map"
ok --server "$B" -o json serving east
eq "$(jqv 'map(.sales) | join(",")')" ""
ok --server "$A" dept add east/b1 sales
ok --server "$B" -o json serving east
eq "$(jqv 'map(.sales) | join(",")')" "east/b1"

case_ "disabling a principal is not hidden by the cache"
as heidi
ok --server "$A" principal add --subject CN=dave --role viewer --scope east
as dave
ok --server "$B" unit show east
ok --server "$B" unit show east
as heidi
ok --server "$A" principal disable CN=dave
as dave
refused 6 UNAUTHENTICATED --server "$B" unit show east

finish
