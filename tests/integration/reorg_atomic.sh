# A reorganization from decentralized to centralized on a 3-region,
# 9-branch company is all or nothing: interrupted mid-transaction it moves
# nobody; completed it moves exactly the people of the closing departments.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

case_ "build the decentralized company"
as carol
ok tenant create deco --name "Deco 集团" --admin-subject CN=grace
as grace
ok dept add / support
for r in east north south; do
    ok unit add $r --kind region --name "Region $r"
    for f in promotion customer_service; do
        ok dept add $r $f
        ok staff add "$r $f manager" --role manager --dept $r --function $f
    done
    ok staff add "$r consultant" --role consultant --dept $r --function customer_service
    for b in 1 2 3; do
        ok unit add $r/b$b --kind branch --name "$r b$b"
        ok dept add $r/b$b sales
        ok staff add "$r b$b seller" --role salesperson --dept $r/b$b --function sales
    done
done
ok -o json shape
eq "$(jqv '.[0].shape')" "decentralized"
ok -o json staff list
snapshot_before=$(jqv 'map("\(.name)=\(.dept_path)/\(.function)") | sort | join(";")')

case_ "an interrupted apply changes nothing"
ok -o json reorg plan --centralize promotion,customer_service
printf '%s' "$OUT" > "$BLTEST_DIR/plan.json"
# Hold the staff table so the apply blocks half-way, then kill its backend.
psql -X -q "$BLTEST_ADMIN_CONNINFO" -c "BEGIN; LOCK TABLE branchline.staff IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT" >/dev/null &
locker=$!
sleep 0.5
rc=0
( bctl reorg apply "$BLTEST_DIR/plan.json" >/dev/null 2>"$BLTEST_DIR/apply.err" ) &
applier=$!
for _ in $(seq 1 50); do
    waiting=$(psql_admin "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%reorg_apply%'")
    [[ $waiting == 1 ]] && break
    sleep 0.1
done
eq "$waiting" "1" "the apply is blocked inside its transaction"
psql_admin "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%reorg_apply%'" >/dev/null
wait $applier || rc=$?
[[ $rc != 0 ]] || fail "the interrupted apply reported success"
wait $locker || true
ok -o json staff list
eq "$(jqv 'map("\(.name)=\(.dept_path)/\(.function)") | sort | join(";")')" "$snapshot_before" "nobody moved"
ok -o json dept list
eq "$(jqv 'map(select(.unit_path == "/")) | map(.function) | sort | join(",")')" "support" "no department opened"

case_ "a completed apply moves exactly the closing departments' people"
ok reorg apply "$BLTEST_DIR/plan.json"
ok -o json staff list
eq "$(jqv 'map(select(.function != "sales" and .dept_path != "/")) | length')" "0" "no one left in a closed department"
eq "$(jqv 'map(select(.function == "customer_service" and .role == "consultant")) | length')" "3"
eq "$(jqv 'map(select(.function == "sales")) | map(.dept_path) | unique | length')" "9" "sellers stay in their branches"
eq "$(jqv 'map(select(.name == "north consultant"))[0].dept_path')" "/"
ok -o json serving
eq "$(jqv 'map(.customer_service) | unique | join(",")')" "/"
eq "$(jqv 'map(.sales == .branch_path) | all')" "true"
ok -o json shape
eq "$(jqv '.[0].shape')" "centralized"

finish
