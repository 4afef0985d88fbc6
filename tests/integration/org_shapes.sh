# Organization through branchctl against a real daemon: the four shapes of
# the domain page built from scratch, the serving map, kind rules, cycles,
# delete refusal, staffing findings, a decentralized -> centralized reorg,
# roles and scopes, and two tenants that never see each other.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

case_ "operator creates tenants"
as carol
ok tenant create acme --name "Acme 网销集团" --admin-subject CN=alice --timezone Asia/Shanghai
ok tenant create rival --name "Rival Ltd" --admin-subject CN=bob
ok -o json tenant list
eq "$(jqv 'map(.code) | sort | join(",")')" "acme,rival"

case_ "shape 1: a group with no branches"
as alice
ok dept add / promotion
ok dept add / customer_service
ok dept add / sales
ok -o json shape
eq "$(jqv '.[0].shape')" "single"

case_ "kind rules are enforced"
refused 5 NOT_FOUND unit add shanghai/x --kind region --name X   # parent missing
ok unit add shanghai --kind city --name "上海"
refused 4 FAILED_PRECONDITION unit add shanghai/east --kind region --name "East"
ok unit add shanghai/pudong --kind branch --name "浦东分公司"
refused 4 FAILED_PRECONDITION unit add shanghai/pudong/x --kind branch --name "Leaf child"
refused 4 INVALID_ARGUMENT unit add "shanghai/Bad Code" --kind branch --name "x"
refused 2 "--name" unit add shanghai/empty --kind branch --name ""
refused 4 INVALID_ARGUMENT unit add shanghai/long --kind branch --name "$(printf 'x%.0s' {1..201})"
refused 4 INVALID_ARGUMENT unit add shanghai/when --kind branch --name "When" --opened 2026-02-30

case_ "shape 2: one area, promotion and customer service unified there, sales per branch"
ok unit add shanghai/xuhui --kind branch --name "徐汇分公司"
ok dept remove / promotion
ok dept remove / customer_service
ok dept remove / sales
ok dept add shanghai promotion
ok dept add shanghai customer_service
ok dept add shanghai/pudong sales
ok dept add shanghai/xuhui sales
ok -o json shape
eq "$(jqv '.[0].shape')" "unified-area"
ok -o json serving
eq "$(jqv 'map(select(.branch_path == "shanghai/pudong"))[0].customer_service')" "shanghai"
eq "$(jqv 'map(select(.branch_path == "shanghai/pudong"))[0].sales')" "shanghai/pudong"

case_ "shape 3a: many areas, decentralized"
for r in east north south; do
    ok unit add $r --kind region --name "Region $r"
    ok dept add $r promotion
    ok dept add $r customer_service
    for b in 1 2 3; do
        ok unit add $r/b$b --kind branch --name "$r 分公司 $b"
        ok dept add $r/b$b sales
    done
done
ok unit move shanghai --to east
ok -o json serving east
eq "$(jqv 'map(select(.branch_path == "east/b1"))[0].promotion')" "east"
eq "$(jqv 'map(select(.branch_path == "east/shanghai/pudong"))[0].customer_service')" "east/shanghai"
ok dept remove east/shanghai promotion
ok dept remove east/shanghai customer_service
ok -o json shape
eq "$(jqv '.[0].shape')" "decentralized"

case_ "cycles are rejected, the tree stays whole"
refused 4 FAILED_PRECONDITION unit move east --to east/shanghai
ok -o json unit show east/shanghai/pudong
eq "$(jqv '.parent_path')" "east/shanghai"

case_ "delete is refused while the unit is in use"
refused 4 FAILED_PRECONDITION unit delete east/b1
refused 4 FAILED_PRECONDITION unit delete east
ok unit add east/spare --kind branch --name "Spare"
ok unit delete east/spare
refused 5 NOT_FOUND unit show east/spare

case_ "staffing check names each failing rule"
ok position set east promotion manager --planned 1
ok staff add "王经理" --role manager --dept east --function promotion
ok staff add "李文案" --role content_creator --dept east --function promotion
ok -o json staffing check east
rules=$(jqv '[.[] | select(.dept_path == "east" and .function == "promotion") | .rule] | sort | unique | join(",")')
contains "$rules" "min_size"
contains "$rules" "promotion_roles"
ok -o json staffing check north
contains "$(jqv '[.[] | select(.dept_path == "north" and .function == "customer_service") | .rule] | join(",")')" "no_manager"

case_ "reorg plan changes nothing; apply centralizes and moves the people"
ok staff add "赵客服" --role consultant --dept north --function customer_service
ok staff add "钱推广" --role promoter --dept south --function promotion
ok dept add / promotion
ok dept add / customer_service
ok -o json reorg plan --centralize promotion,customer_service
plan=$OUT
ok -o json dept list
before=$(jqv 'map(select(.function == "promotion")) | length')
eq "$before" "4"
printf '%s' "$plan" > "$BLTEST_DIR/plan.json"
ok reorg apply "$BLTEST_DIR/plan.json"
ok -o json dept list
eq "$(jqv 'map(select(.function == "promotion" or .function == "customer_service")) | map(.unit_path) | unique | join(",")')" "/"
ok -o json staff list
eq "$(jqv 'map(select(.name == "赵客服"))[0].dept_path')" "/"
eq "$(jqv 'map(select(.name == "赵客服"))[0].role')" "consultant"
ok -o json shape
eq "$(jqv '.[0].shape')" "centralized"
refused 4 FAILED_PRECONDITION reorg apply "$BLTEST_DIR/plan.json"   # stale now

case_ "roles and scopes"
ok principal add --subject CN=dave --role branch --scope east/b1
ok principal add --subject CN=erin --role viewer --scope north
ok principal add --subject CN=frank --role unit_admin --scope south
as dave
ok -o json unit show east/b1
refused 6 PERMISSION_DENIED unit show east/b2
refused 6 PERMISSION_DENIED unit add east/b1x --kind branch --name X
as erin
ok unit show north/b2
refused 6 PERMISSION_DENIED unit rename north/b2 --name Y
refused 6 PERMISSION_DENIED unit show south/b1
as frank
ok unit rename south/b1 --name "South One"
refused 6 PERMISSION_DENIED unit rename north/b1 --name "No"
as alice
ok principal disable CN=dave
as dave
refused 6 UNAUTHENTICATED whoami
as alice
ok principal enable CN=dave
as dave
ok whoami

case_ "audit records every mutation"
as alice
ok -o json audit --target south/b1
contains "$(jqv 'map(.operation) | join(",")')" "unit_rename"
contains "$(jqv 'map(.principal) | join(",")')" "CN=frank"

case_ "two tenants never see each other"
as bob
ok -o json unit list
eq "$(jqv 'map(.code) | join(",")')" "rival"
refused 5 NOT_FOUND unit show east
ok -o json audit
eq "$(jqv 'map(select(.target | test("east"))) | length')" "0"
ok -o json staff list
eq "$(jqv 'length')" "0"
as alice
refused 6 PERMISSION_DENIED tenant list

case_ "the database itself hides tenant rows from the daemon's role"
for table in units departments staff principals audit projects; do
    eq "$(psql_app "SELECT count(*) FROM branchline.$table")" "0" "$table without the tenant setting"
done
eq "$(psql_app "SELECT count(*) FROM branchline.tenants")" "0" "tenants"

finish
