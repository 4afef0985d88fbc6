# One representative session against a branchd under valgrind memcheck:
# connect, every read operation, a lead import (while a lead watch stream is
# open), disconnect, SIGTERM. The daemon must exit 0 with no memcheck error
# and no definite leak; valgrind's --error-exitcode turns either into exit
# 99. The branchctl of the import, of the watch (both JSON output) and of
# one table read run under memcheck too. Suppressions (valgrind.supp) would
# cover only reports that are not ours, each with its reason.
#
# The fixture's own daemon (BLTEST_PORT) builds the organization quickly;
# the daemon under valgrind is a second one on the same database, with the
# fixture's configuration, its own port file and one worker. Valgrind and
# AddressSanitizer exclude each other, so CMake registers this test only in
# the build without sanitizers.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null || fail "valgrind is not installed (deploy/install-deps.sh)"
SUPP=$(cd "$(dirname "$0")" && pwd)/valgrind.supp
MEMCHECK=(valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --error-exitcode=99 --num-callers=40 --suppressions="$SUPP")
VG=$(mktemp -d)
VG_PID=
WATCH_PID=
stop_all() {
    local pid
    for pid in $WATCH_PID $VG_PID; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$VG"
}
trap stop_all EXIT

show_logs() {
    local log
    for log in "$VG"/valgrind*.log; do
        echo "---- $log" >&2
        cat "$log" >&2 || true
    done
    echo "---- branchd log, last lines" >&2
    tail -n 40 "$VG/branchd.log" >&2 || true
}

case_ "organization and projects, through the fixture's daemon"
as carol
ok tenant create acme --name "Acme 网销集团" --admin-subject CN=alice --timezone Asia/Shanghai
as alice
ok dept add / promotion
ok dept add / customer_service
ok unit add east --kind region --name "华东大区"
ok unit add east/shanghai --kind city --name "上海"
for b in pudong xuhui; do
    ok unit add east/shanghai/$b --kind branch --name "$b 分公司"
    ok dept add east/shanghai/$b sales
done
ok position set / customer_service consultant --planned 2
ok -o json staff add "Zhao Min" --role manager --dept / --function customer_service
ok project add seo --name "SEO 搜索优化"
ok project assign east/shanghai/pudong seo --capacity 10
ok project assign east/shanghai/xuhui seo --capacity 20
ok principal add --subject CN=bob --role branch --scope east/shanghai/pudong

case_ "branchd starts under valgrind"
cp "$BLTEST_DIR/branchd.conf" "$VG/branchd.conf"
# Later keys win: a port of its own, one worker (valgrind runs one thread at a time anyway).
printf 'port_file = %s\nworkers = 1\nlog_level = info\n' "$VG/port" >>"$VG/branchd.conf"
"${MEMCHECK[@]}" --log-file="$VG/valgrind.log" \
    "$BRANCHD" --config "$VG/branchd.conf" 2>"$VG/branchd.log" &
VG_PID=$!
for _ in $(seq 600); do
    [[ -s $VG/port ]] && break
    kill -0 "$VG_PID" 2>/dev/null || {
        show_logs
        fail "branchd under valgrind exited during start-up"
    }
    sleep 0.1
done
[[ -s $VG/port ]] || {
    show_logs
    fail "branchd under valgrind did not listen within 60 s"
}
BRANCHLINE_SERVER=127.0.0.1:$(cat "$VG/port")
export BRANCHLINE_SERVER
# branchctl under memcheck; each run logs to its own valgrind-branchctl.PID.log.
export BRANCHCTL_PLAIN=$BRANCHCTL
vg_branchctl() {
    "${MEMCHECK[@]}" --log-file="$VG/valgrind-branchctl.%p.log" "$BRANCHCTL_PLAIN" "$@"
}

case_ "health and identity (any certificate, operator)"
as carol
ok ping
ok server info
ok whoami
ok tenant list

case_ "every organization read (admin)"
as alice
ok whoami
ok principal list
ok unit show east/shanghai/pudong
BRANCHCTL=vg_branchctl
ok unit tree
BRANCHCTL=$BRANCHCTL_PLAIN
ok -o json unit list
ok unit list --under east
ok dept list
ok serving
ok shape
ok support list
ok staff list
ok staffing check
ok project list
ok reorg plan --centralize sales --at east
ok audit --limit 20
ok policy show

case_ "lead import while a lead watch is open"
# A simple command, not the function: $! must be branchctl's own process.
"${MEMCHECK[@]}" --log-file="$VG/valgrind-branchctl.%p.log" "$BRANCHCTL_PLAIN" -o json lead watch \
    >"$VG/watch.json" 2>"$VG/watch.err" &
WATCH_PID=$!
# The stream is open once the daemon logs it; leads imported before that go unseen.
for _ in $(seq 300); do
    grep -q 'event=watch_start' "$VG/branchd.log" && break
    kill -0 "$WATCH_PID" 2>/dev/null || fail "lead watch exited: $(cat "$VG/watch.err")"
    sleep 0.1
done
grep -q 'event=watch_start' "$VG/branchd.log" || fail "the lead watch did not start within 30 s"
{
    echo "external_id,project,channel,origin,name,phone,note"
    for i in $(seq 1 12); do
        printf 'vg-%03d,seo,search,east/shanghai,王先生 %d,1380000%04d,咨询 #%d\n' "$i" "$i" "$i" "$i"
    done
    echo 'vg-bad,seo,"unterminated'
} >"$VG/leads.csv"
# A rejected row makes the import exit 4 (BLC_EXIT_REJECTED); the rest go in.
rc=0
OUT=$(vg_branchctl -o json lead import "$VG/leads.csv" 2>"$VG/import.err") || rc=$?
eq "$rc" 4 "lead import exit ($(cat "$VG/import.err"))"
eq "$(jqv 'map(select(.result == "created")) | length')" 12 "created rows"
eq "$(jqv 'map(select(.result == "rejected")) | length')" 1 "rejected rows"
for _ in $(seq 200); do
    [[ $(wc -l <"$VG/watch.json") -ge 12 ]] && break
    sleep 0.1
done
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || fail "lead watch exited $?: $(cat "$VG/watch.err")"
WATCH_PID=
[[ $(grep -c '"id"' "$VG/watch.json") -ge 12 ]] ||
    fail "lead watch saw $(grep -c '"id"' "$VG/watch.json") allocations, want 12: $(head -c 2000 "$VG/watch.json") $(cat "$VG/watch.err") import: $OUT"

case_ "every lead read (admin and branch)"
ok -o json lead list --limit 5
id=$(jqv '.[0].id')
ok lead show "$id"
ok lead history "$id"
ok lead explain "$id"
ok lead stats
as bob
ok lead list
ok unit show east/shanghai/pudong

case_ "SIGTERM: exit 0, no memcheck errors, no definite leaks"
kill -TERM "$VG_PID"
rc=0
wait "$VG_PID" || rc=$?
VG_PID=
if [[ $rc -ne 0 ]]; then
    show_logs
    fail "branchd under valgrind exited $rc (99: memcheck found errors or definite leaks)"
fi
summary=$(grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$VG/valgrind.log")
echo "$summary"
contains "$summary" "ERROR SUMMARY: 0 errors"

case_ "branchctl under memcheck: no errors, no definite leaks"
for log in "$VG"/valgrind-branchctl.*.log; do
    grep -q "ERROR SUMMARY: 0 errors" "$log" || {
        show_logs
        fail "memcheck found errors in branchctl: $log"
    }
done
echo "$(find "$VG" -name 'valgrind-branchctl.*.log' | wc -l) branchctl runs clean"

finish
