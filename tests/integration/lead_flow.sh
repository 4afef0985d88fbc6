# Leads through branchctl against a real daemon: intake and idempotency,
# the holder and pool on the centralized and decentralized shapes, branches
# that must never receive, unroutable leads drained by a later assignment,
# weighted shares, the lifecycle, explain/history, watch, and what a branch
# principal and another tenant can see.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

case_ "a centralized company: customer service at the group, sales in branches"
as carol
ok tenant create leadco --name "Lead Co" --admin-subject CN=alice --timezone Asia/Shanghai
ok tenant create other --name "Other" --admin-subject CN=bob
as alice
ok dept add / customer_service
for r in east west; do
    ok unit add $r --kind region --name "$r"
    for b in b1 b2 b3; do
        ok unit add $r/$b --kind branch --name "$r $b"
        ok dept add $r/$b sales
    done
done
ok project add seo --name SEO
ok project add ads --name Ads
ok project assign east/b1 seo --capacity 1
ok project assign east/b2 seo --capacity 2
ok project assign east/b3 seo --capacity 3
ok project assign west/b1 seo --capacity 2

case_ "intake allocates at once and is idempotent per external id"
ok -o json lead add --external-id web-1 --project seo --channel search --name "张三" --phone "+86 138-0000-0001"
first=$(jqv .id)
contains "$(jqv .branch_path)" "/"
eq "$(jqv .status)" "allocated"
eq "$(jqv .created)" "true"
ok -o json lead add --external-id web-1 --project seo --channel search
eq "$(jqv .id)" "$first"
eq "$(jqv .created)" "false"

case_ "bad input names its field and writes nothing"
refused 5 NOT_FOUND lead add --external-id bad-1 --project nope --channel search
refused 4 INVALID_ARGUMENT lead add --external-id bad-2 --project seo --channel carrier-pigeon
refused 4 INVALID_ARGUMENT lead add --external-id bad-3 --project seo --channel search --phone 12
refused 4 INVALID_ARGUMENT lead add --external-id bad-4 --project seo --channel search --email not-an-email
refused 5 NOT_FOUND lead add --external-id bad-5 --project seo --channel search --origin nowhere
ok -o json lead list --status allocated --limit 1000
eq "$(jqv 'map(select(.external_id | startswith("bad-"))) | length')" "0"

case_ "a CSV with bad rows: the good rows go in, the bad ones are reported by line"
long=$(printf 'n%.0s' {1..300})
cat >"$BLTEST_DIR/mixed.csv" <<CSV
external_id,project,channel,name,phone
ok-1,seo,search,Good One,13800000011
bad-phone,seo,search,Bad Phone,12
ok-2,seo,forum,Good Two,
bad-channel,seo,pigeon,Bad Channel,
bad-name,seo,search,$long,
bad-project,nope,search,,
ok-3,seo,email,"Quoted, Name",13800000013
CSV
rc=0
OUT=$(bctl -o json lead import "$BLTEST_DIR/mixed.csv" 2>/dev/null) || rc=$?
eq "$rc" "4" "some rows rejected"
eq "$(jqv 'map(select(.result == "created")) | map(.external_id) | join(",")')" "ok-1,ok-2,ok-3"
eq "$(jqv 'map(select(.result == "rejected")) | map("\(.line):\(.field)") | join(",")')" "3:phone,5:channel,6:name,7:project"
ok -o json lead list --limit 1000
eq "$(jqv 'map(select(.external_id | startswith("bad-"))) | length')" "0" "nothing of a bad row was written"

case_ "weighted shares over 600 seo leads (4 above + 596) follow capacity (1:2:3:2) within one lead"
{
    echo "external_id,project,channel"
    for i in $(seq 1 596); do echo "w-$i,seo,search"; done
} >"$BLTEST_DIR/w.csv"
ok -o json lead import "$BLTEST_DIR/w.csv"
eq "$(jqv 'map(select(.result == "created")) | length')" "596"
ok -o json lead list --project seo --limit 1000
counts=$(jqv 'group_by(.branch_path) | map("\(.[0].branch_path)=\(length)") | join(",")')
eq "$counts" "east/b1=75,east/b2=150,east/b3=225,west/b1=150"

case_ "paused, closed, capacity-0, unserved and capped branches never receive"
ok project assign west/b2 ads --capacity 5
ok project assign west/b3 ads --capacity 5
ok unit add east/b4 --kind branch --name "east b4"
ok dept add east/b4 sales
ok project assign east/b4 ads --capacity 1
ok unit add east/b5 --kind branch --name "east b5 (closed)"
ok dept add east/b5 sales
ok project assign east/b5 ads --capacity 9
ok unit close east/b5
ok unit pause west/b2
ok dept remove west/b3 sales
ok cap set east/b4 --per-day 3
{
    echo "external_id,project,channel"
    for i in $(seq 1 20); do echo "a-$i,ads,search"; done
} >"$BLTEST_DIR/a.csv"
ok -o json lead import "$BLTEST_DIR/a.csv"
eq "$(jqv 'map(select(.branch_path == "west/b2" or .branch_path == "west/b3" or .branch_path == "east/b5")) | length')" "0"
eq "$(jqv 'map(select(.branch_path == "east/b4")) | length')" "3"
eq "$(jqv 'map(select(.status == "waiting")) | length')" "17" "the rest wait for the cap to reset"
ok unit activate west/b2

case_ "an empty pool leaves the lead unroutable, a later assignment drains it"
ok project add brand --name Brand
ok -o json lead add --external-id br-1 --project brand --channel brand_zone
eq "$(jqv .status)" "unroutable"
brand_lead=$(jqv .id)
ok -o json lead list --status unroutable
contains "$(jqv 'map(.id) | join(",")')" "$brand_lead"
ok project assign west/b1 brand --capacity 1
ok -o json lead show "$brand_lead"
eq "$(jqv .status)" "allocated"
eq "$(jqv .branch_path)" "west/b1"

case_ "decentralized: a region's customer service holds the leads of its origin"
ok dept add west customer_service
ok -o json lead add --external-id west-1 --project seo --channel forum --origin west
eq "$(jqv .holder_path)" "west"
eq "$(jqv .branch_path)" "west/b1" "west's pool has only west/b1 for seo"
ok -o json lead add --external-id east-1 --project seo --channel forum --origin east
eq "$(jqv .holder_path)" "/"

case_ "lifecycle: contact, win; invalid transitions refused"
as alice
ok -o json lead show "$first"
owner=$(jqv .branch_path)
ok lead contact "$first" --note "called back"
ok -o json lead win "$first"
eq "$(jqv .status)" "won"
refused 4 FAILED_PRECONDITION lead lose "$first"
ok -o json lead add --external-id life-2 --project seo --channel search
second=$(jqv .id)
refused 4 FAILED_PRECONDITION lead win "$second"

case_ "explain and history say why and who"
ok -o json lead explain "$second"
eq "$(jqv 'map(select(.chosen)) | length')" "1"
eq "$(jqv '.[0].policy')" "weighted"
ok lead reassign "$second" --to east/b3 --reason "customer asked for Pudong"
ok -o json lead history "$second"
contains "$(jqv 'map(.kind) | join(",")')" "reassigned"
contains "$(jqv 'map(.reason) | join(",")')" "customer asked"

case_ "a branch principal sees only its own branch"
ok principal add --subject CN=dave --role branch --scope east/b2
as dave
ok -o json lead list --limit 1000
eq "$(jqv 'map(.branch_path) | unique | join(",")')" "east/b2"
refused 6 PERMISSION_DENIED lead list --branch east/b3
ok -o json lead list --branch east/b2 --limit 1
mine=$(jqv '.[0].id')
ok lead explain "$mine"
refused 6 PERMISSION_DENIED lead show "$second"
refused 6 PERMISSION_DENIED lead history "$second"
refused 6 PERMISSION_DENIED lead explain "$second"
ok -o json lead stats
eq "$(jqv 'map(.branch_path) | unique | join(",")')" "east/b2"

case_ "another tenant sees none of it"
as bob
refused 5 NOT_FOUND lead show "$second"
ok -o json lead list
eq "$(jqv 'length')" "0"

case_ "stats add up"
as alice
ok -o json lead stats
total=$(jqv 'map(.received) | add')
ok -o json lead list --limit 1000
allocated_rows=$(jqv 'map(select(.branch_path != "")) | length')
[[ $total -ge $allocated_rows ]] || fail "stats count $total received, fewer than the $allocated_rows allocated leads"

case_ "max_reallocations: not given is 3; 0 is kept and sends an overdue lead straight to the holder"
default_policy() { ok -o json policy show; jqv "map(select(.at_path == \"\" and .project == \"\"))[0].$1"; }
ok policy set weighted --sla-minutes 5
eq "$(default_policy max_reallocations)" "3" "not given"
ok policy set weighted --sla-minutes 5 --max-reallocations 0
eq "$(default_policy max_reallocations)" "0" "given as 0"
refused 4 INVALID_ARGUMENT policy set weighted --max-reallocations 101
ok -o json lead add --external-id sla-zero --project seo --channel search
zero=$(jqv .id)
eq "$(jqv .status)" "allocated"
psql_admin "UPDATE branchline.leads SET due_at = now() - interval '1 minute' WHERE id = $zero" >/dev/null
for _ in $(seq 1 100); do
    ok -o json lead show "$zero"
    [[ $(jqv .status) == unroutable ]] && break
    sleep 0.1
done
eq "$(jqv .status)" "unroutable" "the first overdue lead goes to the holder's queue"
eq "$(jqv .reason)" "sla_exhausted"

case_ "policy unset: the policy above applies again; unsetting nothing is NOT_FOUND"
ok policy set least_loaded --project seo
ok -o json policy show
eq "$(jqv 'map(select(.at_path == "" and .project == "seo"))[0].policy')" "least_loaded"
ok -o json policy unset --project seo
eq "$(jqv .policy)" "least_loaded" "the answer is the policy removed"
ok -o json policy show
eq "$(jqv 'map(select(.project == "seo")) | length')" "0"
refused 5 NOT_FOUND policy unset --project seo
refused 5 NOT_FOUND policy unset --at nowhere
ok -o json audit --target "policy:*"
contains "$OUT" "policy_unset"

finish
