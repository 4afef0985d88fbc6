# Integers at the edge of the wire's int32 (issue 13, item 6). Each numeric
# field has one bound (branchline.limit_of, shared by the API and the
# organization documents): the largest int32 is refused naming the field,
# the bound itself is accepted and stays readable (dept list, staffing
# check, export, apply); no request can make a sum or a line number
# overflow. An overflow that is our bug anyway (forced here with rows
# written behind the API's back, as a database from before the bounds may
# hold) is INTERNAL with a log line, never the caller's INVALID_ARGUMENT.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

BIG=2147483647
as carol
ok tenant create ints --name "Integers" --admin-subject CN=alice
as alice
ok project add seo --name SEO
ok unit add r1 --kind region --name "R1"
ok unit add r1/b1 --kind branch --name "B1"
ok dept add r1/b1 sales
ok dept add r1/b1 promotion

case_ "the largest int32 is refused naming the field"
refused 4 INVALID_ARGUMENT position set r1/b1 promotion promoter --planned "$BIG"
contains "$ERR" "planned must be 0 to 100000"
refused 4 INVALID_ARGUMENT project assign r1/b1 seo --capacity "$BIG"
contains "$ERR" "capacity must be 0 to 1000000"
refused 4 INVALID_ARGUMENT cap set r1/b1 --per-day "$BIG"
contains "$ERR" "per_day must be 0 to 1000000"
refused 4 INVALID_ARGUMENT cap set r1/b1 --per-day 1 --per-week "$BIG"
contains "$ERR" "per_week must be 0 to 1000000"
refused 4 INVALID_ARGUMENT policy set weighted --sla-minutes "$BIG"
contains "$ERR" "sla_minutes must be 0 to 525600"
refused 4 INVALID_ARGUMENT policy set weighted --max-reallocations "$BIG"
contains "$ERR" "max_reallocations must be 0 to 100"
# first_line is set by branchctl from the file; a raw request may send any:
# the line numbers of the answer (first_line + i) must stay integers.
out=$(psql_app "SELECT line FROM api.lead_import(p_subject => 'CN=alice',
        p_leads => '[{\"external_id\": \"a\"}, {\"external_id\": \"b\"}]', p_first_line => $BIG)" 2>&1) &&
    fail "lead_import took first_line $BIG: $out"
contains "$out" "first_line must be 1 to 1000000000"

case_ "every bound is accepted and the tenant stays readable and exportable"
for role in manager supervisor promoter content_creator; do
    ok position set r1/b1 promotion "$role" --planned 100000
done
ok project assign r1/b1 seo --capacity 1000000
ok cap set r1/b1 --per-day 1000000 --per-week 1000000
ok policy set weighted --sla-minutes 525600 --max-reallocations 100
ok -o json dept list
eq "$(jqv '.[] | select(.function == "promotion") | .planned')" "400000"
ok -o json staffing check r1
ok -o json unit list --depth "$BIG"
eq "$(jqv 'length')" "3" "the group, r1 and r1/b1 (depth + ancestors does not overflow)"
ok export
echo "$OUT" >"$BLTEST_DIR/ints.yaml"
ok diff -f "$BLTEST_DIR/ints.yaml"
ok apply -f "$BLTEST_DIR/ints.yaml"

case_ "an overflow in SQL is INTERNAL with a log line, not the caller's INVALID_ARGUMENT"
# Two positions at the int32 maximum, written behind the API's back: the
# department's total no longer fits the wire's integer (SQLSTATE 22003).
psql_admin "UPDATE branchline.positions SET planned = $BIG
              WHERE role IN ('manager', 'supervisor')
                AND dept_id = (SELECT d.id FROM branchline.departments d JOIN branchline.units u
                                   ON u.tenant_id = d.tenant_id AND u.id = d.unit_id
                                WHERE u.path LIKE '%b1%' AND d.function = 'promotion')" >/dev/null
refused 1 INTERNAL dept list
[[ $ERR != *INVALID_ARGUMENT* ]] || fail "reported as the caller's error: $ERR"
contains "$ERR" "internal database error"
grep -q 'event=db_internal_error .*sqlstate=22003' "$BLTEST_DAEMON_LOG" ||
    fail "no db_internal_error line with sqlstate=22003 in the daemon's log"
grep -q 'op=dept_list status=INTERNAL' "$BLTEST_DAEMON_LOG" ||
    fail "the request's log line does not say INTERNAL"
ok position set r1/b1 promotion manager --planned 1
ok position set r1/b1 promotion supervisor --planned 1
ok -o json dept list
eq "$(jqv '.[] | select(.function == "promotion") | .planned')" "200002" "readable again"

finish
