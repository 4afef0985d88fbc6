# whatif through branchctl against a real daemon: a decentralized company
# (customer service in each region) with 16 leads and people, compared with
# customer service centralized at the group: the departments opened and
# closed, the people moved, the headcount, the period's leads replayed
# through the target's pools (totals equal on both sides), the seed's
# trade-offs; and nothing changed afterwards (leads, departments, staff,
# audit, organization version all as before).
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

case_ "a decentralized company with leads"
as carol
ok tenant create whatco --name "What Co" --admin-subject CN=alice
as alice
for r in east west; do
    ok unit add $r --kind region --name "$r"
    ok dept add $r customer_service
done
for b in east/b1 east/b2 west/b1; do
    ok unit add $b --kind branch --name "$b"
    ok dept add $b sales
done
ok dept add / promotion
ok project add seo --name SEO
for b in east/b1 east/b2 west/b1; do ok project assign $b seo --capacity 1; done
ok staff add "李娜" --role consultant --dept east --function customer_service
ok staff add "Bob Lee" --role manager --dept west --function customer_service
{
    echo "external_id,project,channel,origin"
    for i in $(seq 1 10); do echo "e-$i,seo,search,east"; done
    for i in $(seq 1 6); do echo "w-$i,seo,forum,west"; done
} >"$BLTEST_DIR/l.csv"
ok lead import "$BLTEST_DIR/l.csv"

# snapshot: everything whatif must leave as it was.
snapshot() {
    local out=""
    for cmd in "lead list --limit 1000" "dept list" "staff list" "audit" "policy show"; do
        # shellcheck disable=SC2086 # the words of the command
        ok -o json $cmd
        out+="$OUT"
    done
    ok -o json reorg plan --centralize customer_service
    out+=$(jqv .version)
    echo "$out"
}
before=$(snapshot)

case_ "centralizing customer service: departments, people, headcount, the leads replayed"
ok -o json whatif --centralize customer_service
rows=$OUT
eq "$(jqv 'map(select(.section == "department")) | map("\(.subject)=\(.detail)") | join(",")')" \
    "/:customer_service=opened,east:customer_service=closed,west:customer_service=closed"
eq "$(jqv 'map(select(.section == "move")) | map("\(.subject): \(.detail)") | sort | join(",")')" \
    "Bob Lee (manager): west:customer_service -> /:customer_service,李娜 (consultant): east:customer_service -> /:customer_service"
eq "$(jqv 'map(select(.section == "headcount" and .subject == "/:customer_service"))[0] | "\(.before) \(.after > 0)"')" "0 true"
eq "$(jqv 'map(select(.section == "headcount" and .subject == "east:customer_service"))[0] | "\(.before > 0) \(.after)"')" "true 0"
eq "$(jqv 'map(select(.section == "allocation")) | map("\(.subject)=\(.before)") | join(",")')" "east/b1=5,east/b2=5,west/b1=6"
eq "$(jqv 'map(select(.section == "allocation")) | map(.after) | add')" "16"
eq "$(jqv 'map(select(.section == "allocation")) | map(.after >= 5 and .after <= 6) | all')" "true" \
    "one pool of three equal branches: each within one lead of 16/3"
eq "$(jqv 'map(select(.section == "total"))[0] | "\(.before) \(.after)"')" "16 16"
eq "$(jqv 'map(select(.section == "allocation" and .subject == "west/b1"))[0].before_share')" "0.375"
eq "$(jqv 'map(select(.section == "tradeoff")) | length')" "5"
contains "$(jqv 'map(select(.section == "tradeoff" and .subject == "central control of leads"))[0].detail')" "stronger after"

case_ "nothing changed"
eq "$(snapshot)" "$before"

case_ "decentralizing promotion to regions; the table"
ok -o json whatif --decentralize promotion --to region --period 30d
eq "$(jqv 'map(select(.section == "department")) | map("\(.subject)=\(.detail)") | join(",")')" \
    "east:promotion=opened,west:promotion=opened,/:promotion=closed"
eq "$(jqv 'map(select(.section == "total"))[0] | "\(.before) \(.after)"')" "16 16"
contains "$(jqv 'map(select(.section == "tradeoff" and .subject == "labour cost"))[0].detail')" "higher after"
ok whatif --centralize customer_service
contains "$OUT" "SECTION"
eq "$(snapshot)" "$before"

case_ "bad input and roles"
refused 2 "missing one of" whatif
refused 4 "(field: to_kind)" whatif --decentralize promotion --to planet
refused 4 "(field: functions)" whatif --centralize marketing
refused 4 "(field: period)" whatif --centralize promotion --period 0d
ok principal add --subject CN=dave --role viewer --scope east
as dave
refused 6 PERMISSION_DENIED whatif --centralize promotion

finish
