# The organization x lead invariants of the README (Leads: I1-I5), each
# reproduction of issue #12 as a scenario through branchctl and a real
# daemon: a change of the organization under open or queued leads moves
# them in the same transaction, and what the API accepts, a document of
# the tenant's own export accepts too.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

# status_of ID: "status branch_path reason" of a lead.
status_of() {
    ok -o json lead show "$1"
    jqv '"\(.status) \(.branch_path) \(.reason)"'
}

# add_lead ID [FLAGS...]: adds a seo lead, its id in $LEAD.
add_lead() {
    local ext=$1
    shift
    ok -o json lead add --external-id "$ext" --project seo --channel search "$@"
    LEAD=$(jqv .id)
}

# history_has ID TEXT: the lead's history mentions TEXT.
history_has() {
    ok -o json lead history "$1"
    contains "$OUT" "$2"
}

as carol
ok tenant create inv --name "Invariants" --admin-subject CN=alice
as alice
ok project add seo --name SEO
ok project add ads --name Ads

case_ "1. a no_customer_service lead drains when customer service appears"
ok unit add r1 --kind region --name "R1"
ok unit add r1/b1 --kind branch --name "B1"
ok dept add r1/b1 sales
ok project assign r1/b1 seo --capacity 2
add_lead nocs-1
eq "$(status_of "$LEAD")" "unroutable  no_customer_service"
ok dept add / customer_service
eq "$(status_of "$LEAD")" "allocated r1/b1 " "drained in the same transaction as dept add"

case_ "1. ... and after a centralizing reorg apply"
ok dept remove / customer_service
eq "$(status_of "$LEAD")" "unroutable  no_customer_service" "queued when its holder lost customer service"
ok unit add r2 --kind region --name "R2"
ok unit add r2/b2 --kind branch --name "B2"
ok dept add r2/b2 sales
ok project assign r2/b2 seo --capacity 1
ok dept add r2 customer_service
add_lead nocs-2 --origin r1
first=$LEAD
ok -o json lead show "$first"
# r1 has no customer service of its own and the group none any more
if [[ $(jqv .holder_path) == "/" && $(jqv .status) == "allocated" ]]; then
    fail "the group still holds leads after dept remove"
fi
eq "$(status_of "$first")" "unroutable  no_customer_service"
ok reorg apply --centralize customer_service --yes
ok -o json lead show "$first"
eq "$(jqv .status)" "allocated" "drained by reorg apply"
eq "$(jqv .holder_path)" "/"

case_ "2. closing a branch moves its open leads, in the same transaction"
ok -o json lead list --branch r1/b1 --status allocated --limit 100
open_b1=$(jqv 'map(.id) | join(" ")')
[[ -n $open_b1 ]] || fail "no open lead at r1/b1 to test with"
ok unit close r1/b1
for id in $open_b1; do
    ok -o json lead show "$id"
    eq "$(jqv .branch_path)" "r2/b2" "lead $id left the closed branch"
    history_has "$id" "unit_set_status"
done
ok unit activate r1/b1

case_ "2. ... and apply --prune closing a branch"
add_lead prune-1
ok -o json lead show "$LEAD"
pruned_lead=$LEAD
ok export -o json
jq 'del(.units[] | select(.path == "r1/b1")) | del(.departments[]? | select(.unit == "r1/b1"))' <<<"$OUT" >"$BLTEST_DIR/pruned.json"
ok apply -f "$BLTEST_DIR/pruned.json" --prune
ok -o json unit show r1/b1
eq "$(jqv .status)" "closed"
ok -o json lead show "$pruned_lead"
eq "$(jqv .branch_path)" "r2/b2" "apply --prune moved the lead"
ok unit activate r1/b1

case_ "3. customer service leaving a region moves its open leads to the new holder"
ok dept remove / customer_service
ok dept add r1 customer_service
ok dept add r2 customer_service 2>/dev/null || true
add_lead hold-1 --origin r1
held=$LEAD
ok -o json lead show "$held"
eq "$(jqv .holder_path)" "r1"
ok reorg apply --centralize customer_service --yes
ok -o json lead show "$held"
eq "$(jqv .holder_path)" "/" "the open lead follows customer service to the group"
eq "$(jqv .status)" "allocated"

case_ "3. a closed region's customer service takes no leads"
ok reorg apply --decentralize customer_service --to region --yes
ok unit add r3 --kind region --name "R3"
ok unit add r3/b3 --kind branch --name "B3"
ok dept add r3/b3 sales
ok dept add r3 customer_service
ok project assign r3/b3 seo --capacity 1
ok unit close r3
add_lead closed-1 --origin r3
ok -o json lead show "$LEAD"
[[ $(jqv .holder_path) != "r3" ]] || fail "a closed region holds a new lead"
eq "$(jqv .status)" "unroutable"
ok unit activate r3

case_ "4. paths with an empty segment, whitespace or a stray slash are refused (I5)"
refused 4 INVALID_ARGUMENT unit add r1//x3 --kind branch --name X3
refused 4 INVALID_ARGUMENT unit add "r1/x 3" --kind branch --name X3
refused 4 INVALID_ARGUMENT unit add r1/x3/ --kind branch --name X3
refused 4 INVALID_ARGUMENT unit add /r1/x3 --kind branch --name X3
refused 4 INVALID_ARGUMENT unit show r1//b1
ok -o json unit list
eq "$(jqv 'map(select(.path | test("//"))) | length')" "0"

case_ "5. what the API accepts, the tenant's own export applies (I4)"
ok dept add r1/b1 promotion
ok staff add "王磊" --role promoter --dept r1/b1 --function promotion
refused 4 ALREADY_EXISTS staff add "王磊" --role promoter --dept r1/b1 --function promotion
refused 4 INVALID_ARGUMENT position set r1/b1 promotion promoter --planned 2147483647
ok position set r1/b1 promotion promoter --planned 100000
ok export
echo "$OUT" >"$BLTEST_DIR/own.yaml"
ok diff -f "$BLTEST_DIR/own.yaml"
ok apply -f "$BLTEST_DIR/own.yaml"

case_ "6. reorg apply keeps the planned headcount of the departments it moves"
ok position set r1/b1 promotion promoter --planned 2
ok dept add r1 promotion
ok position set r1 promotion promoter --planned 5
ok reorg apply --centralize promotion --yes
ok -o json dept list
eq "$(jqv '.[] | select(.unit_path == "/" and .function == "promotion") | .planned')" "7" "2 + 5 planned promoters"

case_ "7. changes that would break the model are refused"
refused 4 FAILED_PRECONDITION support assign r1/b1 --reason "new branch"
add_lead reassign-1 --origin r1
ok unit add r1/b9 --kind branch --name "B9"
ok project assign r1/b9 ads --capacity 1
ok dept add r1/b9 sales
refused 4 FAILED_PRECONDITION lead reassign "$LEAD" --to r1/b9 --reason "does not handle seo"
ok unit add r1/b8 --kind branch --name "B8"
ok project assign r1/b8 seo --capacity 1
refused 4 FAILED_PRECONDITION lead reassign "$LEAD" --to r1/b8 --reason "no sales serves it"
refused 4 INVALID_ARGUMENT policy set weighted --at r1/b1

case_ "negative numbers for numeric flags are out of range, not missing"
refused 4 INVALID_ARGUMENT position set / promotion promoter --planned -3
contains "$ERR" "planned must be 0 to"
refused 4 INVALID_ARGUMENT unit list --depth -1
contains "$ERR" "depth"
refused 4 INVALID_ARGUMENT project assign r1/b1 seo --capacity -2
contains "$ERR" "capacity must be 0 to"

case_ "a principal's subject must parse as a distinguished name"
for bad in "alice" "CN=" "CN=alice, O=Acme" " CN=alice" "CN=alice,"; do
    refused 4 INVALID_ARGUMENT principal add --subject "$bad" --role viewer --scope r1
    contains "$ERR" "distinguished name"
done
ok principal add --subject 'CN=Ann Lee,O=Acme\, Inc.' --role viewer --scope r1

case_ "lead explain lists the branches left out, with the reason"
ok unit pause r3/b3
add_lead explain-1
ok -o json lead explain "$LEAD"
eq "$(jqv '.[] | select(.branch_path == "r3/b3") | .note')" "left out: paused"
eq "$(jqv '.[] | select(.branch_path == "r1/b9") | .note')" "left out: does not handle the project"
ok unit activate r3/b3

case_ "a branch's own lead stats show its share among its peers"
ok principal add --subject CN=erin --role branch --scope r2/b2
ok -o json lead stats
admin_share=$(jqv '.[] | select(.branch_path == "r2/b2") | .actual_share')
as erin
ok -o json lead stats
eq "$(jqv 'length')" "1" "its own row only"
eq "$(jqv '.[0].actual_share')" "$admin_share" "the share the admin sees"
[[ $admin_share != 1 ]] || fail "r2/b2 received every lead: no peers to compare with"
as alice

case_ "I2: an sla_exhausted lead out of reallocations waits for a person; a policy allowing more drains it"
ok project add crm --name CRM
ok unit add r4 --kind region --name "R4"
ok dept add r4 customer_service
ok dept add r4 sales
ok unit add r4/b41 --kind branch --name "B41"
ok project assign r4/b41 crm --capacity 1
ok policy set weighted --at r4 --sla-minutes 30 --max-reallocations 0
ok -o json lead add --external-id sla-1 --project crm --channel search --origin r4
spent=$(jqv .id)
eq "$(status_of "$spent")" "allocated r4/b41 "
sweep_later() { psql_admin "SELECT * FROM branchline.sweep_at(1000, now() + interval '$1')" >/dev/null; }
sweep_later "2 hours"
eq "$(status_of "$spent")" "unroutable  sla_exhausted" "no reallocation allowed: the holder's queue"
ok unit add r4/b42 --kind branch --name "B42"
ok project assign r4/b42 crm --capacity 1
eq "$(status_of "$spent")" "unroutable  sla_exhausted" "a new branch does not route a lead out of reallocations"
ok unit pause r4/b41
eq "$(status_of "$spent")" "unroutable  sla_exhausted" "nor does any other change"
ok unit activate r4/b41
ok policy set weighted --at r4 --sla-minutes 30 --max-reallocations 1
eq "$(status_of "$spent")" "allocated r4/b42 " "drained by the policy change that allows a reallocation"
history_has "$spent" "was unroutable: sla_exhausted"

case_ "I2: an sla_exhausted lead with reallocations left drains when a new branch joins the pool"
ok policy set weighted --at r4 --sla-minutes 30 --max-reallocations 3
ok -o json lead add --external-id sla-2 --project crm --channel search --origin r4
left=$(jqv .id)
sweep_later "2 hours"
sweep_later "4 hours"
ok -o json lead show "$left"
eq "$(jqv '"\(.status) \(.reason) \(.reallocations)"')" "unroutable sla_exhausted 1" "both branches had it"
ok unit add r4/b43 --kind branch --name "B43"
eq "$(status_of "$left")" "unroutable  sla_exhausted" "no project yet"
ok project assign r4/b43 crm --capacity 1
eq "$(status_of "$left")" "allocated r4/b43 " "drained in the same transaction as project assign"

case_ "I4: a reorg that would merge two people of one name into a department is refused, naming them"
ok unit add r5 --kind region --name "R5"
for b in b51 b52; do
    ok unit add r5/$b --kind branch --name "${b^^}"
    ok dept add r5/$b sales
    ok staff add "王芳" --role salesperson --dept r5/$b --function sales
done
ok -o json staff list --under r5
before=$(jqv 'map("\(.id)=\(.dept_path)/\(.function)") | sort | join(";")')
for verb in plan "apply --yes"; do
    # shellcheck disable=SC2086
    refused 4 FAILED_PRECONDITION reorg $verb --centralize sales --at r5
    contains "$ERR" "王芳"
    contains "$ERR" "sales department at r5"
    contains "$ERR" "r5/b51"
    contains "$ERR" "r5/b52"
    contains "$ERR" "staff move"
done
ok -o json staff list --under r5
eq "$(jqv 'map("\(.id)=\(.dept_path)/\(.function)") | sort | join(";")')" "$before" "nobody moved"
ok export
echo "$OUT" >"$BLTEST_DIR/own5.yaml"
ok diff -f "$BLTEST_DIR/own5.yaml"

case_ "I4: ... once one of them moves, the reorg goes through and the export applies"
ok -o json staff list --under r5/b52
moving=$(jqv '.[0].id')
refused 4 ALREADY_EXISTS staff move "$moving" --dept r5/b51 --function sales
ok dept add r5/b52 promotion
ok staff move "$moving" --dept r5/b52 --function promotion
ok reorg apply --yes --centralize sales --at r5
ok -o json staff list --under r5
eq "$(jqv 'map("\(.name)@\(.dept_path):\(.function)") | sort | join(";")')" "王芳@r5/b52:promotion;王芳@r5:sales"
ok export
echo "$OUT" >"$BLTEST_DIR/own5.yaml"
ok diff -f "$BLTEST_DIR/own5.yaml"

case_ "I4: ... nor into a department that already has someone of that name"
ok dept add r5/b51 sales
ok staff add "王芳" --role manager --dept r5/b51 --function sales
refused 4 FAILED_PRECONDITION reorg plan --centralize sales --at r5
contains "$ERR" "王芳"
contains "$ERR" "r5/b51"

case_ "I4: ... nor when decentralizing merges branch departments into a city's"
ok unit add r6 --kind region --name "R6"
ok unit add r6/c61 --kind city --name "C61"
for b in b61 b62; do
    ok unit add r6/c61/$b --kind branch --name "${b^^}"
    ok dept add r6/c61/$b sales
    ok staff add "李雷" --role salesperson --dept r6/c61/$b --function sales
done
refused 4 FAILED_PRECONDITION reorg plan --decentralize sales --to city --at r6
contains "$ERR" "李雷"
contains "$ERR" "sales department at r6/c61"

case_ "I4: under every operation, a transaction that would leave two of one name in a department fails at commit"
tenant=$(psql_admin "SELECT id FROM branchline.tenants WHERE code = 'inv'")
dept_of() {
    psql_admin "SELECT d.id FROM branchline.departments d JOIN branchline.units u ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
                 WHERE d.tenant_id = $tenant AND u.path = '/$1/' AND d.function = 'sales'"
}
into=$(dept_of r6/c61/b61)
from=$(dept_of r6/c61/b62)
rc=0
out=$(psql_app "BEGIN; SELECT set_config('branchline.tenant', '$tenant', true);
                UPDATE branchline.staff SET dept_id = $into WHERE tenant_id = $tenant AND dept_id = $from AND name = '李雷';
                COMMIT" 2>&1) || rc=$?
[[ $rc != 0 ]] || fail "the commit went through: $out"
contains "$out" "the sales department at r6/c61/b61 would have two current people named 李雷"
eq "$(psql_admin "SELECT count(*) FROM branchline.staff WHERE tenant_id = $tenant AND dept_id = $from AND status <> 'left'")" "1" "rolled back"

case_ "positions: merged planned headcounts add up, and a sum beyond the limit is refused, not cut"
ok unit add r7 --kind region --name "R7"
for b in b71 b72; do
    ok unit add r7/$b --kind branch --name "${b^^}"
    ok dept add r7/$b sales
done
ok position set r7/b71 sales salesperson --planned 60000
ok position set r7/b72 sales salesperson --planned 60000
refused 4 FAILED_PRECONDITION reorg plan --centralize sales --at r7
contains "$ERR" "planned"
contains "$ERR" "120000"
ok position set r7/b72 sales salesperson --planned 3
ok reorg apply --yes --centralize sales --at r7
ok -o json position list --under r7
eq "$(jqv 'map("\(.dept_path):\(.role)=\(.planned)") | join(";")')" "r7:salesperson=60003"

finish
