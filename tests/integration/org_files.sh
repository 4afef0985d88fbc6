# Declarative organization files and output formats through branchctl:
# apply of the example company, export round trip into an empty tenant
# (byte-identical), apply twice (no-op, exit 0), dry run and diff (exit 10,
# nothing changed), moves, refused files with their location (unknown
# parent, bad kind, duplicate code, cycles) changing nothing, --prune, JSON
# errors on stderr, and -o json/yaml/csv parsed by python3 and yq.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

D=$BLTEST_DIR
EXAMPLE=$(dirname "$0")/../../deploy/examples/company.yaml

# rc CMD...: runs branchctl, stdout in $OUT, stderr in $ERR, exit status in $RC.
rc() {
    RC=0
    OUT=$(bctl "$@" 2>"$D/err") || RC=$?
    ERR=$(cat "$D/err")
}

# edit FILE PYTHON: rewrites a YAML file with a python expression on `d`.
edit() {
    python3 - "$1" "$2" <<'EOF'
import sys, yaml
path, code = sys.argv[1], sys.argv[2]
d = yaml.safe_load(open(path))
exec(code)
yaml.safe_dump(d, open(path, "w"), allow_unicode=True, sort_keys=False)
EOF
}

case_ "operator creates three tenants"
as carol
ok tenant create demo --name "华东网销集团 East Net Marketing Group" --admin-subject CN=alice --timezone Asia/Shanghai
ok tenant create copy --name "Copy" --admin-subject CN=bob --timezone Asia/Shanghai
ok tenant create third --name "Third" --admin-subject CN=dave --timezone Asia/Shanghai

case_ "diff of the example company into an empty tenant: changes pending, nothing changed"
as alice
rc diff -f "$EXAMPLE"
eq "$RC" 10 "diff exit code ($ERR)"
contains "$OUT" "created"
contains "$ERR" "dry run"
ok -o json unit list
eq "$(jqv 'length')" "1"

case_ "apply of the example company builds it"
ok apply -f "$EXAMPLE"
ok -o json unit list --kind branch
eq "$(jqv 'length')" "9"
ok -o json staff list
eq "$(jqv 'length')" "48"
eq "$(jqv 'map(select(.name == "Emma Zhou"))[0].supervisor_id > 0')" "true"
ok -o json shape
eq "$(jqv '.[0].shape')" "centralized"
ok -o json support list
eq "$(jqv '.[0].branch_path')" "east/hangzhou/xihu"

case_ "applying the same file again changes nothing, exit 0"
rc apply -f "$EXAMPLE"
eq "$RC" 0 "second apply ($ERR)"
eq "$OUT" "" "second apply output"
contains "$ERR" "no changes"
rc diff -f "$EXAMPLE"
eq "$RC" 0 "diff after apply ($ERR)"

case_ "two exports of one state are byte-identical; the export applies as a no-op"
ok export
printf '%s\n' "$OUT" >"$D/a1.yaml"
ok export
printf '%s\n' "$OUT" >"$D/a2.yaml"
cmp "$D/a1.yaml" "$D/a2.yaml" || fail "two exports differ"
ok -o json export
printf '%s\n' "$OUT" >"$D/a1.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$D/a1.json"
eq "$(yq -c . "$D/a1.yaml")" "$(jq -c . "$D/a1.json")" "yaml and json exports hold the same document"
rc diff -f "$D/a1.yaml"
eq "$RC" 0 "diff of own export ($OUT $ERR)"
rc diff -f "$D/a1.json"
eq "$RC" 0 "diff of own JSON export ($OUT $ERR)"

case_ "round trip: export -> apply into an empty tenant -> export is byte-identical"
as bob
ok apply -f "$D/a1.yaml"
ok export
printf '%s\n' "$OUT" >"$D/b1.yaml"
cmp "$D/a1.yaml" "$D/b1.yaml" || fail "round trip differs: $(diff "$D/a1.yaml" "$D/b1.yaml" | head -20)"
as dave
ok apply -f - <"$D/a1.json"
ok -o json export
printf '%s\n' "$OUT" >"$D/c1.json"
cmp "$D/a1.json" "$D/c1.json" || fail "JSON round trip differs"

case_ "dry run computes the changes on the daemon and changes nothing"
as alice
cp "$D/a1.yaml" "$D/changed.yaml"
edit "$D/changed.yaml" '
u = next(x for x in d["units"] if x["path"] == "east/shanghai/xuhui"); u["name"] = "徐汇 Xuhui (renamed)"
d["units"].append({"path": "east/shanghai/minhang", "kind": "branch", "name": "闵行分公司 Minhang"})
dept = next(x for x in d["departments"] if x["unit"] == "/" and x["function"] == "promotion")
dept["positions"]["promoter"] = 5
'
rc apply --dry-run -f "$D/changed.yaml"
eq "$RC" 10 "dry run exit ($ERR)"
contains "$OUT" "east/shanghai/minhang"
contains "$OUT" "徐汇 Xuhui (renamed)"
ok export
cmp "$D/a1.yaml" <(printf '%s\n' "$OUT") || fail "dry run changed the organization"
rc -o json diff -f "$D/changed.yaml"
eq "$RC" 10
eq "$(jq -r 'map(select(.kind == "unit" and .action == "created")) | .[0].key' <<<"$OUT")" "east/shanghai/minhang"
eq "$(jq -r 'map(select(.kind == "position")) | .[0].action' <<<"$OUT")" "changed"

case_ "apply makes the change; a move is a move"
ok apply -f "$D/changed.yaml"
ok -o json unit show east/shanghai/xuhui
eq "$(jqv .name)" "徐汇 Xuhui (renamed)"
cp "$D/changed.yaml" "$D/moved.yaml"
edit "$D/moved.yaml" '
for x in d["units"]:
    if x["path"] == "east/shanghai/minhang": x["path"] = "east/hangzhou/minhang"
'
rc -o json apply -f "$D/moved.yaml"
eq "$RC" 0 "move ($ERR)"
eq "$(jq -r 'map(select(.key == "east/hangzhou/minhang")) | .[0].action' <<<"$OUT")" "moved"
ok -o json unit show east/hangzhou/minhang
eq "$(jqv .kind)" "branch"

case_ "a staff member who changes department in the file is moved"
cp "$D/moved.yaml" "$D/staffmove.yaml"
edit "$D/staffmove.yaml" '
src = next(x for x in d["departments"] if x["unit"] == "/" and x["function"] == "customer_service")
p = next(s for s in src["staff"] if s["name"] == "Grace Wang"); src["staff"].remove(p)
dst = next(x for x in d["departments"] if x["unit"] == "/" and x["function"] == "promotion")
p["role"] = "promoter"; p["supervisor"] = "陈静 Chen Jing"; dst["staff"].append(p)
'
rc -o json apply -f "$D/staffmove.yaml"
eq "$RC" 0 "staff move ($ERR)"
eq "$(jq -r 'map(select(.kind == "staff")) | .[0].action' <<<"$OUT")" "moved"
ok -o json staff list --function promotion
eq "$(jqv 'map(select(.name == "Grace Wang"))[0].role')" "promoter"

# refused EXIT FILE LOCATION: apply must fail with EXIT, name LOCATION, and change nothing.
refused_file() {
    ok export
    printf '%s\n' "$OUT" >"$D/before.yaml"
    rc apply -f "$2"
    eq "$RC" "$1" "apply of a bad file ($OUT $ERR)"
    contains "$ERR" "$3"
    ok export
    cmp "$D/before.yaml" <(printf '%s\n' "$OUT") || fail "a refused file changed something"
}

case_ "errors are refused with their location, and nothing is applied"
cp "$D/staffmove.yaml" "$D/bad.yaml"
edit "$D/bad.yaml" 'd["units"].insert(3, {"path": "nowhere/x", "kind": "branch", "name": "X"}); d["units"][1]["name"] = "changed too"'
refused_file 4 "$D/bad.yaml" "units[3].path"
contains "$ERR" "unknown parent"
contains "$ERR" "bad.yaml:"
cp "$D/staffmove.yaml" "$D/bad.yaml"
edit "$D/bad.yaml" 'd["units"][2]["kind"] = "town"'
refused_file 4 "$D/bad.yaml" "units[2].kind"
cp "$D/staffmove.yaml" "$D/bad.yaml"
edit "$D/bad.yaml" 'd["units"].append(dict(d["units"][4], name="again")); d["projects"].append({"code": "seo", "name": "dup"})'
refused_file 4 "$D/bad.yaml" "duplicate"
cp "$D/staffmove.yaml" "$D/bad.yaml"
edit "$D/bad.yaml" 'd["projects"].append({"code": "seo", "name": "dup"})'
refused_file 4 "$D/bad.yaml" "projects[3].code"
cat >"$D/cycle.yaml" <<'EOF'
version: 1
units:
- path: east/shanghai
  kind: city
  name: 上海 Shanghai
- path: east/shanghai/east
  kind: region
  name: East, moved under its own city
EOF
refused_file 4 "$D/cycle.yaml" "cycle"
contains "$ERR" "cycle.yaml:3: units[0].path"
cat >"$D/supcycle.yaml" <<'EOF'
version: 1
departments:
- unit: /
  function: sales
  staff:
  - {name: A, role: manager, supervisor: B}
  - {name: B, role: supervisor, supervisor: A}
EOF
refused_file 4 "$D/supcycle.yaml" "departments[0].staff[0].supervisor"
contains "$ERR" "cycle"
cat >"$D/typo.yaml" <<'EOF'
version: 1
units:
- path: east
  kind: region
  nmae: East
EOF
refused_file 4 "$D/typo.yaml" "units[0].nmae"
printf 'version: 1\nunits: [\n' >"$D/broken.yaml"
refused_file 2 "$D/broken.yaml" "broken.yaml: line"

case_ "errors as JSON on stderr with -o json"
rc -o json apply -f "$D/cycle.yaml"
eq "$RC" 4
eq "$(jq -r .code <<<"$ERR")" "INVALID_ARGUMENT"
eq "$(jq -r .field <<<"$ERR")" "units[0].path"
rc -o json unit show nowhere
eq "$RC" 5
eq "$(jq -r .code <<<"$ERR")" "NOT_FOUND"
rc -o json unit add --kind
eq "$RC" 2
eq "$(jq -r .code <<<"$ERR")" "INVALID_ARGUMENT"

case_ "without --prune what the file leaves out is left alone and listed; with --prune it goes"
cp "$D/staffmove.yaml" "$D/small.yaml"
edit "$D/small.yaml" '
d["units"] = [u for u in d["units"] if not u["path"].startswith("east/hangzhou")]
d["departments"] = [x for x in d["departments"] if not x["unit"].startswith("east/hangzhou")]
dept = next(x for x in d["departments"] if x["unit"] == "/" and x["function"] == "promotion")
dept["staff"] = [s for s in dept["staff"] if s["name"] != "David Li"]
'
rc -o json diff -f "$D/small.yaml"
eq "$RC" 0 "left alone only is no change ($ERR)"
eq "$(jq -r 'map(select(.action == "left_alone")) | map(.key) | sort | join(",")' <<<"$OUT")" \
    "/:promotion:David Li,east/hangzhou"
ok apply -f "$D/small.yaml"
ok -o json unit show east/hangzhou/xihu
rc -o json diff --prune -f "$D/small.yaml"
eq "$RC" 10 "prune pending ($ERR)"
contains "$OUT" '"action":"deleted","kind":"unit","key":"east/hangzhou/xihu"'
contains "$OUT" '"action":"closed","kind":"staff","key":"/:promotion:David Li"'
ok apply --prune -f "$D/small.yaml"
refused 5 NOT_FOUND unit show east/hangzhou
ok -o json staff list --function promotion
eq "$(jqv 'map(select(.name == "David Li")) | length')" "0"
rc apply --prune -f "$D/small.yaml"
eq "$RC" 0 "prune twice ($ERR)"
eq "$OUT" ""

case_ "a unit that leads refer to is closed, not deleted, by --prune"
ok lead add --external-id w1 --project seo --channel search --origin east/shanghai/pudong
cp "$D/small.yaml" "$D/nopudong.yaml"
edit "$D/nopudong.yaml" '
d["units"] = [u for u in d["units"] if u["path"] != "east/shanghai/pudong"]
d["departments"] = [x for x in d["departments"] if x["unit"] != "east/shanghai/pudong"]
'
rc -o json apply --prune -f "$D/nopudong.yaml"
eq "$RC" 0 "prune with leads ($ERR)"
eq "$(jq -r 'map(select(.key == "east/shanghai/pudong" and .kind == "unit")) | .[0].action' <<<"$OUT")" "closed"
ok -o json unit show east/shanghai/pudong
eq "$(jqv .status)" "closed"
rc apply --prune -f "$D/nopudong.yaml"
eq "$RC" 0
eq "$OUT" "" "closed unit: nothing more to do"

case_ "a subtree export names its scope and applies as a no-op"
ok export north
printf '%s\n' "$OUT" >"$D/north.yaml"
eq "$(yq -r .scope "$D/north.yaml")" "north"
eq "$(yq -r '.units | map(.path) | .[0]' "$D/north.yaml")" "north"
rc diff --prune -f "$D/north.yaml"
eq "$RC" 0 "subtree diff ($OUT $ERR)"

case_ "every output format parses: units, staff, leads, stats"
for i in 2 3 4; do
    ok lead add --external-id "w$i" --project ads --channel website --origin north
done
for cmd in "unit list" "staff list" "lead list" "lead stats"; do
    # shellcheck disable=SC2086 # words of the command
    ok -o json $cmd
    printf '%s' "$OUT" >"$D/out.json"
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$D/out.json")
    [[ $n -gt 0 ]] || fail "$cmd -o json is empty"
    # shellcheck disable=SC2086
    ok -o yaml $cmd
    printf '%s\n' "$OUT" >"$D/out.yaml"
    eq "$(yq -c . "$D/out.yaml")" "$(jq -c . "$D/out.json")" "$cmd: yaml and json agree"
    python3 -c 'import yaml,sys; yaml.safe_load(open(sys.argv[1]))' "$D/out.yaml"
    # shellcheck disable=SC2086
    ok -o csv $cmd
    printf '%s\n' "$OUT" >"$D/out.csv"
    python3 - "$D/out.csv" "$D/out.json" "$cmd" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
want = json.load(open(sys.argv[2]))
assert len(rows) == len(want), (sys.argv[3], len(rows), len(want))
for r, w in zip(rows, want):
    for k, got in r.items():
        v = w[k]
        if isinstance(v, bool):
            assert got == ("true" if v else "false"), (k, got, v)
        elif isinstance(v, float):
            assert abs(float(got) - v) < 1e-9, (k, got, v)
        else:
            assert got == str(v), (sys.argv[3], k, got, v)
EOF
    # shellcheck disable=SC2086
    ok -o csv --no-headers $cmd
    [[ $(printf '%s' "$OUT" | head -1) != *"path"* ]] || fail "$cmd --no-headers printed a header"
done
ok -o csv --columns path,name unit list
eq "$(printf '%s' "$OUT" | head -1 | tr -d '\r')" "path,name"
ok -o yaml unit tree
yq -e '.[0].children | length > 0' <<<"$OUT" >/dev/null || fail "unit tree -o yaml"
ok -o csv unit show /
eq "$(printf '%s' "$OUT" | python3 -c 'import csv,sys; print(list(csv.DictReader(sys.stdin))[0]["path"])')" "/"

finish
