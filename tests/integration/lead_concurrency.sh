# Several daemons on one database: 16 clients add 5,000 leads through two
# daemons at once (every lead allocated exactly once, per-branch counts
# equal to the rows); 16 clients send the same external id at once (one
# lead); overdue leads are reallocated by the sweeps of both daemons, each
# exactly once; watch streams, fed by NOTIFY, reach a branch through
# either daemon and never show it another branch's leads; and 16 clients
# adding leads with the same phone into 16 pools at once through both
# daemons get one original and 15 duplicates of it.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

A="127.0.0.1:$BLTEST_PORT"
B="127.0.0.1:$BLTEST_PORT2"

case_ "a pool of four branches"
as carol
ok --server "$A" tenant create conc --name "Concurrency" --admin-subject CN=alice
as alice
ok --server "$A" dept add / customer_service
for b in b1 b2 b3 b4; do
    ok --server "$A" unit add $b --kind branch --name "$b"
    ok --server "$A" dept add $b sales
done
ok --server "$A" project add p --name P
ok --server "$A" project assign b1 p --capacity 1
ok --server "$A" project assign b2 p --capacity 2
ok --server "$A" project assign b3 p --capacity 3
ok --server "$A" project assign b4 p --capacity 4

case_ "16 clients, two daemons, 5,000 leads: each allocated exactly once"
pids=()
for c in $(seq 1 16); do
    {
        echo "external_id,project,channel"
        for i in $(seq 1 313); do echo "c$c-$i,p,search"; done
    } >"$BLTEST_DIR/c$c.csv"
    server=$A
    ((c % 2)) && server=$B
    bctl --server "$server" -o json lead import "$BLTEST_DIR/c$c.csv" >"$BLTEST_DIR/c$c.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "an import client failed"; done
eq "$(psql_admin "SELECT count(*) FROM branchline.leads l JOIN branchline.tenants t ON t.id = l.tenant_id WHERE t.code = 'conc'")" "5008"
eq "$(psql_admin "SELECT count(*) FROM branchline.leads WHERE branch_id IS NULL")" "0"
eq "$(psql_admin "SELECT count(*) FROM (SELECT lead_id FROM branchline.lead_events WHERE kind = 'allocated' GROUP BY lead_id HAVING count(*) <> 1) x")" "0" "one allocation event per lead"
# Counters against rows: allocations made per branch equal the leads it holds.
mismatch=$(psql_admin "SELECT count(*) FROM branchline.lead_pool_state s
    FULL JOIN (SELECT branch_id, count(*) AS n FROM branchline.leads GROUP BY branch_id) l ON l.branch_id = s.branch_id
    WHERE coalesce(s.allocated, -1) <> coalesce(l.n, -2)")
eq "$mismatch" "0" "per-branch counters equal the rows"
ok --server "$A" -o json lead list --limit 1000 --branch b4
[[ $(jqv length) -ge 1000 ]] || fail "b4 (capacity 4 of 10) got fewer than 1000 of 5008"

case_ "16 clients send the same external id at once: one lead"
pids=()
for c in $(seq 1 16); do
    server=$A
    ((c % 2)) && server=$B
    bctl --server "$server" -o json lead add --external-id same-1 --project p --channel search >"$BLTEST_DIR/s$c.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a same-id client failed"; done
eq "$(cat "$BLTEST_DIR"/s*.out | jq -r .id | sort -u | wc -l)" "1" "every client got the same lead"
eq "$(cat "$BLTEST_DIR"/s*.out | jq -r 'select(.created) | .id' | wc -l)" "1" "exactly one client created it"

case_ "a branch watching through B sees allocations made through A, and only its own"
ok --server "$A" principal add --subject CN=dave --role branch --scope b2
as dave
"$BRANCHCTL" --server "$B" -o json lead watch >"$BLTEST_DIR/watch.out" 2>"$BLTEST_DIR/watch.err" &
watcher=$!
sleep 1
as alice
# every contact field given, with quotes, tabs and line breaks in them: the
# events and the answers are checked field by field below
for i in $(seq 1 20); do
    ok --server "$A" -o json lead add --external-id watch-$i --project p --channel search \
        --name "Zoë \"Q\" 张$i" --phone "+86 138-0000-$(printf %04d "$i")" --email "w$i@example.com" \
        --note "$(printf 'line 1\tof %s\nline 2 "quoted"' "$i")"
    printf '%s\n' "$OUT" >"$BLTEST_DIR/watch-add-$i.json"
done
sleep 1
kill -TERM $watcher  # background jobs of a script ignore SIGINT
wait $watcher || fail "watch did not end cleanly: $(cat "$BLTEST_DIR/watch.err")"
seen=$(jq -r .branch_path "$BLTEST_DIR/watch.out" | sort -u | tr '\n' ' ')
eq "$seen" "b2 " "the watch of b2 shows b2's leads only"
ok --server "$A" -o json lead list --branch b2 --limit 1000
expected=$(jqv 'map(select(.external_id | startswith("watch-"))) | length')
eq "$(wc -l <"$BLTEST_DIR/watch.out" | tr -d ' ')" "$expected" "one event per lead allocated to b2"

case_ "a watch event and lead add's answer are the lead as lead show has it"
# intake reads the lead once for both (013: intake); every field must be
# what lead show reads on its own, "created" apart
as dave
[[ $expected -ge 1 ]] || fail "no event to compare"
while read -r event; do
    id=$(jq -r .id <<<"$event")
    ok --server "$A" -o json lead show "$id"
    eq "$(jq -Sc 'del(.created)' <<<"$event")" "$(jqv '.' | jq -Sc 'del(.created)')" "the watch event of lead $id"
done <"$BLTEST_DIR/watch.out"
as alice
for i in $(seq 1 20); do
    added=$(cat "$BLTEST_DIR/watch-add-$i.json")
    ok --server "$A" -o json lead show "$(jq -r .id <<<"$added")"
    eq "$(jq -Sc 'del(.created)' <<<"$added")" "$(jqv '.' | jq -Sc 'del(.created)')" "lead add's answer for watch-$i"
    eq "$(jq -r .created <<<"$added")" "true" "lead add's answer for watch-$i says created"
    eq "$(jq -r .name <<<"$added")" "Zoë \"Q\" 张$i" "lead add's answer for watch-$i has its name"
    eq "$(jq -r .note <<<"$added")" "$(printf 'line 1\tof %s\nline 2 "quoted"' "$i")" \
        "lead add's answer for watch-$i has its note"
done

case_ "overdue leads are reallocated once, by whichever daemon sweeps first"
# An SLA of an hour: a reallocated lead is due again only then, so that a
# slow (loaded, sanitized) run of the loop below cannot see a second,
# legitimate reallocation and take it for a double one.
ok --server "$A" policy set weighted --sla-minutes 60 --max-reallocations 2
for i in $(seq 1 40); do ok --server "$A" lead add --external-id sla-$i --project p --channel search; done
# The clock is faked by moving the deadlines into the past.
psql_admin "UPDATE branchline.leads SET due_at = now() - interval '1 minute' WHERE external_id LIKE 'sla-%'" >/dev/null
for _ in $(seq 1 50); do
    left=$(psql_admin "SELECT count(*) FROM branchline.leads WHERE external_id LIKE 'sla-%' AND reallocations = 0")
    [[ $left == 0 ]] && break
    sleep 0.2
done
eq "$left" "0" "every overdue lead was reallocated"
eq "$(psql_admin "SELECT count(*) FROM branchline.leads WHERE external_id LIKE 'sla-%' AND reallocations <> 1")" "0" "exactly once"
id=$(psql_admin "SELECT id FROM branchline.leads WHERE external_id = 'sla-1'")
ok --server "$B" -o json lead history "$id"
eq "$(jqv 'map(select(.kind == "reallocated")) | length')" "1"
eq "$(jqv 'map(select(.kind == "reallocated"))[0].from_branch != map(select(.kind == "reallocated"))[0].to_branch')" "true"
grep -q "event=sweep" "$BLTEST_DAEMON_LOG" "$BLTEST_DAEMON_LOG2" || fail "no daemon logged a sweep"

case_ "16 clients, two daemons, one phone in 16 pools at once: one original, 15 duplicates of it"
as carol
ok --server "$A" tenant create dupc --name "Duplicates" --admin-subject CN=erin
as erin
ok --server "$A" dept add / customer_service
for b in d1 d2; do
    ok --server "$A" unit add $b --kind branch --name "$b"
    ok --server "$A" dept add $b sales
done
for c in $(seq 1 16); do
    ok --server "$A" project add q$c --name "Q$c"
    ok --server "$A" project assign d1 q$c --capacity 1
    ok --server "$A" project assign d2 q$c --capacity 1
done
# Every intake first takes the tenant's unit guard in shared mode (sql/013
# guard_units). Holding it exclusively here until the intakes wait for it
# starts them at the same instant, whenever their clients got connected:
# all 16, or as many as the daemons' database connections can run at once
# (8 with two workers of 2 each per daemon; the others queue in branchd),
# when the number waiting has stopped growing for half a second.
guard=$(psql_admin "SELECT branchline.lock_key('units', id) FROM branchline.tenants WHERE code = 'dupc'")
for r in 1 2 3; do
    rm -f "$BLTEST_DIR/guard.held"
    psql -X -q -t -v ON_ERROR_STOP=1 -v guard="$guard" -v held="$BLTEST_DIR/guard.held" "$BLTEST_ADMIN_CONNINFO" \
        >/dev/null <<'SQL' &
SELECT pg_advisory_lock(:guard);
\o :held
SELECT 'held';
\o
SELECT set_config('bltest.guard', :'guard', false);
DO $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '30 seconds';
    waiting bigint := 0;
    seen bigint := 0;
    since timestamptz := clock_timestamp();
BEGIN
    LOOP
        waiting := (SELECT count(*) FROM pg_locks
                     WHERE locktype = 'advisory' AND objsubid = 1 AND NOT granted
                       AND (classid::bigint << 32 | objid::bigint) = current_setting('bltest.guard')::bigint);
        IF waiting <> seen THEN
            seen := waiting;
            since := clock_timestamp();
        END IF;
        EXIT WHEN waiting >= 16 OR (waiting >= 2 AND clock_timestamp() - since > interval '0.5 seconds');
        IF clock_timestamp() > deadline THEN
            RAISE 'fewer than 2 intakes waited for the unit guard';
        END IF;
        PERFORM pg_sleep(0.005);
    END LOOP;
    PERFORM pg_advisory_unlock(current_setting('bltest.guard')::bigint);
END
$$;
SQL
    holder=$!
    for _ in $(seq 1 100); do [[ -s $BLTEST_DIR/guard.held ]] && break; sleep 0.05; done
    [[ -s $BLTEST_DIR/guard.held ]] || fail "the unit guard was not taken"
    pids=()
    for c in $(seq 1 16); do
        server=$A
        ((c % 2)) && server=$B
        bctl --server "$server" -o json lead add --external-id dup-$r-$c --project q$c --channel search \
            --phone "+86 139 0000 000$r" >"$BLTEST_DIR/dup$r-$c.out" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || fail "a client failed: $(cat "$BLTEST_DIR"/dup$r-*.out)"; done
    wait $holder || fail "the guard's holder failed"
    originals=$(cat "$BLTEST_DIR"/dup$r-*.out | jq -r 'select((.duplicate_of // 0 | tonumber) == 0) | .id')
    eq "$(wc -w <<<"$originals" | tr -d ' ')" "1" "round $r: one lead is not a duplicate"
    eq "$(cat "$BLTEST_DIR"/dup$r-*.out | jq -r '.duplicate_of // 0' | sort | uniq -c | awk '{print $1, $2}' | sort -n | tr '\n' ' ')" \
        "1 0 15 $originals " "round $r: the 15 others are duplicates of it"
done

finish
