# staffing recommend and support suggest through branchctl against a real
# daemon. Staffing: hand-built departments, one per rule (Erlang C on the
# busiest hour for customer service, leads a day for sales, the promotion
# roles and platform work, a manager, supervisors beyond 5 people, the
# smallest department of 3), with lead times faked as the database owner.
# Support: four peer branches with 20 leads each, one planted with a low
# conversion, a branch with too few leads to judge and a new branch.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

# rec DEPT FUNCTION ROLE: "current recommended difference" of that line of $OUT.
rec() {
    jqv "map(select(.dept_path == \"$1\" and .function == \"$2\" and .role == \"$3\"))[0] | \"\(.current) \(.recommended) \(.difference)\""
}
why() {
    jqv "map(select(.dept_path == \"$1\" and .function == \"$2\" and .role == \"$3\"))[0].reason"
}

case_ "a company to size"
as carol
ok tenant create sizeco --name "Size Co" --admin-subject CN=alice
ok tenant create suppco --name "Support Co" --admin-subject CN=bob
as alice
ok dept add / customer_service
ok dept add / promotion
ok unit add east --kind region --name East
for b in b1 b2; do
    ok unit add east/$b --kind branch --name "east $b"
    ok dept add east/$b sales
done
ok project add seo --name SEO
ok project assign east/b1 seo --capacity 1
ok staff add "经理" --role manager --dept / --function customer_service
for i in 1 2; do ok staff add "客服 $i" --role consultant --dept / --function customer_service; done
ok staff add "Sam" --role salesperson --dept east/b1 --function sales
ok staff add "Pat" --role manager --dept / --function promotion
ok staff add "Ed" --role editor --dept / --function promotion
for i in 1 2 3 4 5 6; do ok staff add "Promoter $i" --role promoter --dept / --function promotion; done
# 300 leads in 30 days, all received between 10:00 and 11:00 UTC: 10 an hour in the busiest hour.
{
    echo "external_id,project,channel"
    for i in $(seq 1 300); do echo "s-$i,seo,search"; done
} >"$BLTEST_DIR/s.csv"
ok lead import "$BLTEST_DIR/s.csv"
psql_admin "UPDATE branchline.leads SET created_at = date_trunc('day', now()) - make_interval(days => (id % 29)::integer + 1, mins => -600 - (id % 50)::integer)
             WHERE external_id LIKE 's-%'" >/dev/null

case_ "customer service: Erlang C on the busiest hour (A = 1: 3 agents, 5 staffed with 30% shrinkage)"
ok -o json staffing recommend
eq "$(rec / customer_service consultant)" "2 5 3"
contains "$(why / customer_service consultant)" "10.00 leads/hour in the busiest hour (10:00)"
contains "$(why / customer_service consultant)" "3 agents, 5 staffed with 30% shrinkage"
eq "$(rec / customer_service manager)" "1 1 0"
eq "$(rec / customer_service supervisor)" "0 0 0"
contains "$(why / customer_service supervisor)" "the manager leads up to 5 directly"
eq "$(rec / customer_service total)" "3 6 3"

case_ "sales: 10 leads a day at 8 per salesperson is 2"
eq "$(rec east/b1 sales salesperson)" "1 2 1"
contains "$(why east/b1 sales salesperson)" "10.00 leads a day"
eq "$(rec east/b1 sales total)" "1 3 2"

case_ "the smallest department is 3: a sales department without leads or people"
eq "$(rec east/b2 sales salesperson)" "0 2 2"
contains "$(why east/b2 sales salesperson)" "smallest department of 3"
eq "$(rec east/b2 sales manager)" "0 1 1"
eq "$(rec east/b2 sales total)" "0 3 3"

case_ "promotion: a content creator, a promoter, platform work 2, supervisors beyond 5 people"
eq "$(rec / promotion content_creator)" "0 1 1"
eq "$(rec / promotion promoter)" "6 6 0"
eq "$(rec / promotion technician)" "0 1 1"
contains "$(why / promotion technician)" "1 editor(s)"
eq "$(rec / promotion editor)" "1 1 0"
eq "$(rec / promotion supervisor)" "0 2 2"
contains "$(why / promotion supervisor)" "9 people besides the manager"
eq "$(rec / promotion total)" "8 12 4"

case_ "a subtree, the table, and bad input"
ok -o json staffing recommend east
eq "$(jqv 'map(.dept_path) | unique | join(",")')" "east/b1,east/b2"
ok staffing recommend east
contains "$OUT" "REASON"
refused 4 "(field: period)" staffing recommend --period 30
refused 5 "(field: path)" staffing recommend nowhere

case_ "support: four peers with 20 leads each, one with a low conversion"
as bob
ok dept add / customer_service
for b in b1 b2 b3 b4 b5; do
    ok unit add $b --kind branch --name "branch $b" --opened 2020-01-01
    ok dept add $b sales
    ok project add p$b --name "P $b"
    ok project assign $b p$b --capacity 1
done
ok unit add b6 --kind branch --name "新分公司"
{
    echo "external_id,project,channel"
    for b in b1 b2 b3 b4; do for i in $(seq 1 20); do echo "$b-$i,p$b,search"; done; done
    for i in 1 2 3; do echo "b5-$i,pb5,search"; done
} >"$BLTEST_DIR/p.csv"
ok -o json lead import "$BLTEST_DIR/p.csv"
imported=$OUT
# wins BRANCH N: the branch's first N leads are contacted and won.
wins() {
    OUT=$imported
    jqv "map(select(.external_id | startswith(\"$1-\"))) | .[:$2] | map(\"lead contact \(.lead_id)\nlead win \(.lead_id)\") | .[]"
}
{ wins b1 10; wins b2 8; wins b3 9; wins b4 1; } | bctl shell >/dev/null || fail "the wins did not go in"
ok -o json support suggest
eq "$(jqv 'map("\(.branch_path):\(.reason)") | join(",")')" "b4:low_conversion,b6:new"
eq "$(jqv '.[0] | "\(.received) \(.conversion) \(.peers) \(.supported)"')" "20 0.05 4 false"
eq "$(jqv '.[0].peer_conversion_q1 * 10000 | round')" "3125"

case_ "support assign accepts a candidate; min-leads and new-within change who is judged"
ok dept add / support # a branch is supported by a support department (#12)
ok support assign b4 --reason "low conversion"
ok -o json support suggest
eq "$(jqv 'map(select(.branch_path == "b4"))[0].supported')" "true"
ok -o json support suggest --min-leads 3 --new-within 1d
eq "$(jqv 'map("\(.branch_path):\(.reason)") | join(",")')" "b5:low_conversion,b6:new"
refused 4 "(field: min_leads)" support suggest --min-leads=-1
refused 4 "(field: new_within)" support suggest --new-within soon

finish
