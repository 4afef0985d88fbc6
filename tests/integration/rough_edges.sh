# The rough edges of issue #12, each through branchctl and a real daemon:
# caps of 0 and removed caps (cap set/unset/list), position list, lead purge
# --dry-run and --yes, audit by unit id with nested JSON, lead watch events.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

status_of() {
    ok -o json lead show "$1"
    jqv '"\(.status) \(.branch_path) \(.reason)"'
}

as carol
ok tenant create edges --name "Edges" --admin-subject CN=alice
as alice
ok project add seo --name SEO
ok dept add / customer_service
ok dept add / sales
ok unit add r1 --kind region --name "R1"
ok unit add r1/b1 --kind branch --name "B1"
ok project assign r1/b1 seo --capacity 2

case_ "cap set --per-day 0 means no leads that day"
ok -o json cap set r1/b1 --per-day 0
eq "$(jqv '"\(.per_day) \(.per_week)"')" "0 null" "0 kept, the week uncapped"
ok -o json lead add --external-id c-1 --project seo --channel search
zero=$(jqv .id)
eq "$(status_of "$zero")" "waiting  all_capped" "a cap of 0 takes no lead"
ok -o json lead explain "$zero"
contains "$OUT" "at daily cap (0)"

case_ "cap list shows the caps, no value for a period without one"
ok -o json cap list
eq "$(jqv 'map("\(.branch_path) \(.per_day) \(.per_week)") | join(",")')" "r1/b1 0 null"
ok cap list
contains "$OUT" "r1/b1"

case_ "cap set without a period is refused, naming the field"
refused 4 INVALID_ARGUMENT cap set r1/b1
contains "$ERR" "per_day"
contains "$ERR" "cap unset"
refused 4 INVALID_ARGUMENT cap set r1/b1 --per-day -1
contains "$ERR" "per_day must be 0 to"
ok -o json cap list
eq "$(jqv 'length')" "1" "the refused calls lost nothing"

case_ "cap unset removes the caps and drains the waiting leads at commit"
ok -o json cap unset r1/b1
eq "$(jqv '"\(.branch_path) \(.per_day) \(.per_week)"')" "r1/b1 null null"
eq "$(status_of "$zero")" "allocated r1/b1 " "drained by cap unset"
ok -o json cap list
eq "$(jqv 'length')" "0"
ok cap unset r1/b1

case_ "a cap of 0 survives export -> apply"
ok cap set r1/b1 --per-week 0
ok export -o json
eq "$(jqv '.units[] | select(.path == "r1/b1") | .cap | tojson')" '{"per_week":0}'
echo "$OUT" >"$BLTEST_DIR/caps.json"
ok diff -f "$BLTEST_DIR/caps.json"
ok cap unset r1/b1
ok -o json apply -f "$BLTEST_DIR/caps.json"
ok -o json cap list
eq "$(jqv 'map("\(.branch_path) \(.per_day) \(.per_week)") | join(",")')" "r1/b1 null 0" "apply restored the cap of 0"
ok cap unset r1/b1

case_ "position list shows planned and active headcount per role"
ok dept add r1 promotion
ok position set r1 promotion promoter --planned 3
ok staff add "王磊" --role promoter --dept r1 --function promotion
ok staff add "李娜" --role content_creator --dept r1 --function promotion
ok -o json position list
eq "$(jqv 'map("\(.dept_path) \(.function) \(.role) \(.planned) \(.actual)") | join(",")')" \
    "r1 promotion content_creator 0 1,r1 promotion promoter 3 1"
ok -o json position list --under r1/b1
eq "$(jqv 'length')" "0"
ok -o json position list --function sales
eq "$(jqv 'length')" "0"
refused 4 INVALID_ARGUMENT position list --function kitchen
contains "$ERR" "function"

case_ "lead purge --dry-run counts and changes nothing"
ok -o json lead add --external-id p-1 --project seo --channel search --phone 13800000001 --name "Ann"
purged=$(jqv .id)
ok lead contact "$purged"
ok lead win "$purged"
ok -o json lead purge --before 2999-01-01 --dry-run
eq "$(jqv '"\(.purged) \(.dry_run)"')" "1 true"
ok -o json lead show "$purged"
eq "$(jqv .phone)" "13800000001" "a dry run keeps the contact data"

case_ "lead purge on a terminal needs --yes"
rc=0
tty_out=$(script -qec "$BRANCHCTL lead purge --before 2999-01-01" /dev/null) || rc=$?
[[ $rc == 2 ]] || fail "a purge on a terminal without --yes exited $rc: $tty_out"
contains "$tty_out" "--yes"
ok -o json lead show "$purged"
eq "$(jqv .phone)" "13800000001" "refused: nothing purged"
rc=0
tty_out=$(script -qec "$BRANCHCTL -o json lead purge --before 2999-01-01 --dry-run" /dev/null) || rc=$?
[[ $rc == 0 ]] || fail "a dry run on a terminal exited $rc: $tty_out"
contains "$tty_out" '"purged":1'

case_ "lead purge from a script (no terminal) runs as asked"
ok -o json lead purge --before 2999-01-01 </dev/null
eq "$(jqv '"\(.purged) \(.dry_run)"')" "1 false"
ok -o json lead show "$purged"
eq "$(jqv .phone)" "" "purged"

case_ "audit --target finds a unit's entries under its earlier path, before/after nested in JSON"
ok unit add r2 --kind region --name "R2"
ok unit add r2/b2 --kind branch --name "B2"
ok unit rename r2/b2 --name "B2 renamed"
ok unit move r2/b2 --to /
ok -o json audit --target b2
eq "$(jqv 'map(.operation) | sort | join(",")')" "unit_add,unit_move,unit_rename" "the entries under r2/b2 too"
eq "$(jqv '.[] | select(.operation == "unit_rename") | "\(.before.name) -> \(.after.name)"')" "B2 -> B2 renamed"
eq "$(jqv '.[] | select(.operation == "unit_add") | "\(.before) \(.after | type)"')" "null object"
ok -o json audit --target r2
eq "$(jqv 'map(select(.operation == "unit_add")) | map(.target) | sort | join(",")')" "r2,r2/b2" \
    "a path's subtree by its text, as before"
ok -o yaml audit --target b2 --limit 1
contains "$OUT" "after:"
ok audit --target b2
contains "$OUT" "unit_move"


case_ "lead watch events carry the lead as lead show has it, without created"
ok principal add --subject CN=erin --role branch --scope r1/b1
watch_out=$BLTEST_DIR/watch.out
for _ in $(seq 1 50); do
    as erin
    "$BRANCHCTL" -o json lead watch >"$watch_out" 2>"$watch_out.err" &
    watcher=$!
    as alice
    sleep 0.3
    kill -0 "$watcher" 2>/dev/null && break
    wait "$watcher" || true
done
kill -0 "$watcher" 2>/dev/null || fail "no lead watch stayed up: $(cat "$watch_out.err")"
ok -o json lead add --external-id w-1 --project seo --channel search --origin r1 --name "王磊" --phone 13800000009 \
    --note "via watch"
watched=$(jqv .id)
for _ in $(seq 1 100); do
    grep -q '"id"' "$watch_out" 2>/dev/null && break
    sleep 0.1
done
kill -TERM "$watcher"
wait "$watcher" || fail "watch did not end cleanly: $(cat "$watch_out.err")"
ok -o json lead show "$watched"
shown=$(jq -c 'del(.created)' <<<"$OUT")
event=$(head -n 1 "$watch_out")
eq "$(jq -c 'del(.created)' <<<"$event")" "$shown" "the event is the lead as lead show has it"
eq "$(jq -c .created <<<"$event")" "null" "no created in a watch event"
eq "$(jq -r '"\(.name) \(.phone) \(.note) \(.external_id) \(.origin_path)"' <<<"$event")" \
    "王磊 13800000009 via watch w-1 r1" "the branch watching may see its lead's contact"

finish
