# branchctl on a terminal and in a pipe. Under a pseudo-terminal, apply of
# a document of a few thousand units draws a progress bar from the daemon's
# Progress responses (done/total) and erases it, its rows coloured by
# action; a document refused in the middle erases its bar before the error,
# which is red; lead stats works the same on a terminal. NO_COLOR and
# --color never turn colour off on a terminal, --color always on in a pipe
# (never for JSON). Piped, apply, diff and lead stats print exactly their
# output (byte-compared) with no progress, carriage return or escape byte.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

D=$BLTEST_DIR
CITIES=30
BRANCHES=100
UNITS=$((1 + CITIES + CITIES * BRANCHES))

# gen FILE REGION [KIND]: one region, CITIES cities of BRANCHES branches; the
# very last unit gets KIND (default branch).
gen() {
    python3 - "$1" "$2" "${3:-branch}" "$CITIES" "$BRANCHES" <<'EOF'
import json, sys
path, region, last, cities, branches = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
units = [{"path": region, "kind": "region", "name": "Region " + region}]
for c in range(cities):
    units.append({"path": f"{region}/c{c}", "kind": "city", "name": f"City {c}"})
    for b in range(branches):
        kind = last if (c, b) == (cities - 1, branches - 1) else "branch"
        units.append({"path": f"{region}/c{c}/b{b}", "kind": kind, "name": f"Branch {c}-{b}"})
json.dump({"version": 1, "units": units}, open(path, "w"))
EOF
}

# tty CMD...: runs branchctl CMD with stdin, stdout and stderr on a
# pseudo-terminal; what the terminal received goes to $D/tty.out, the exit
# status to $RC.
tty() {
    RC=0
    python3 - "$D/tty.out" "$BRANCHCTL" "$@" <<'EOF' || RC=$?
import os, pty, sys
out, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
data = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
open(out, "wb").write(data)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}

# has_bytes FILE BYTES...: whether FILE holds any of the bytes (as printf escapes).
has_bytes() {
    local f=$1
    shift
    python3 - "$f" "$@" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
sys.exit(0 if any(b.encode().decode("unicode_escape").encode("latin-1") in data for b in sys.argv[2:]) else 1)
EOF
}

# piped EXPECTED_EXIT CMD...: branchctl with stdout and stderr to files
# ($D/out, $D/err), neither with an escape byte, nor a CR but CSV's.
piped() {
    local want=$1 rc=0
    shift
    bctl "$@" >"$D/out" 2>"$D/err" || rc=$?
    [[ $rc == "$want" ]] || fail "branchctl $* exited $rc, want $want: $(cat "$D/err")"
    ! has_bytes "$D/out" '\x1b' || fail "branchctl $* wrote an escape to a pipe (stdout)"
    [[ $* == *"-o csv"* ]] || ! has_bytes "$D/out" '\r' || fail "branchctl $* wrote a CR to a pipe (stdout)"
    ! has_bytes "$D/err" '\r' '\x1b' || fail "branchctl $* wrote a CR or an escape to a pipe (stderr)"
}

# same FILE TEXT: FILE holds exactly TEXT.
same() {
    cmp "$1" <(printf '%s' "$2") || fail "$1 is '$(cat "$1")', want '$2'"
}

case_ "tenants"
as carol
ok tenant create big --name Big --admin-subject CN=alice --timezone Asia/Shanghai
ok tenant create pipe --name Pipe --admin-subject CN=bob --timezone Asia/Shanghai
gen "$D/north.json" north
gen "$D/bad.json" north city

case_ "apply on a terminal draws a bar with done/total from the daemon, then erases it"
as alice
tty apply -f "$D/north.json"
eq "$RC" 0 "apply on a terminal: $(tr -d '\r' <"$D/tty.out" | tail -3)"
grep -aqE "\[[#.]{24}\] +[0-9]+/$((3 * UNITS)) +[0-9]+%" "$D/tty.out" || fail "no progress bar: $(head -c 300 "$D/tty.out")"
python3 - "$D/tty.out" <<'EOF' || fail "the bar did not move: $(head -c 600 "$D/tty.out")"
import re, sys
done = {int(m) for m in re.findall(rb"\] +(\d+)/\d+", open(sys.argv[1], "rb").read())}
assert len(done) >= 2 and max(done) > 0, done
EOF
grep -aq "units" "$D/tty.out" || fail "no phase on the bar"
python3 - "$D/tty.out" <<'EOF' || fail "the bar was not erased before the listing"
import sys
data = open(sys.argv[1], "rb").read()
last_bar = data.rindex(b"] ")
erase = data.index(b"\r\x1b[K", last_bar)
assert b"ACTION" in data[erase:], "the listing does not follow the erased bar"
EOF
grep -aq "$UNITS created" "$D/tty.out" || fail "no summary"
grep -aqF $'\e[32m+ created\e[0m' "$D/tty.out" || fail "created rows are not green with a +"
ok -o json unit list --under north
eq "$(jqv length)" "$UNITS" "units applied"

case_ "a document refused in the middle: bar, erased, then the error; nothing applied"
ok export
printf '%s\n' "$OUT" >"$D/before.yaml"
tty apply -f "$D/bad.json"
eq "$RC" 4 "refused apply: $(tr -d '\r' <"$D/tty.out" | tail -3)"
python3 - "$D/tty.out" "$((UNITS - 1))" <<'EOF' || fail "bar and error: $(tail -c 300 "$D/tty.out")"
import re, sys
data = open(sys.argv[1], "rb").read()
assert re.search(rb"\[[#.]{24}\] +\d+/\d+", data), "no bar"
at = data.index(b"branchctl: INVALID_ARGUMENT")
assert data.rindex(b"\r\x1b[K", 0, at) > data.rindex(b"] ", 0, at), "bar not erased before the error"
assert ("units[%s].kind" % sys.argv[2]).encode() in data[at:], "no location"
assert data[at - 5:at] == b"\x1b[31m", "the error is not red"
EOF
ok export
cmp "$D/before.yaml" <(printf '%s\n' "$OUT") || fail "a refused document changed something"

case_ "lead stats on a terminal"
tty lead stats --under north
eq "$RC" 0 "lead stats on a terminal"
grep -aq "BRANCH_PATH" "$D/tty.out" || fail "no stats table: $(head -c 300 "$D/tty.out")"
! grep -aq "computing stats" "$D/tty.out" || python3 - "$D/tty.out" <<'EOF' || fail "the spinner was not erased"
import sys
data = open(sys.argv[1], "rb").read()
assert data.index(b"\r\x1b[K", data.rindex(b"computing stats")) < data.index(b"BRANCH_PATH")
EOF

# sgr FILE: whether FILE holds a colour or bold escape (SGR).
sgr() { grep -aqE $'\e\\[[0-9;]*m' "$1"; }

case_ "colour: NO_COLOR and --color never on a terminal, --color always in a pipe"
tty unit list --under north/c0
eq "$RC" 0
sgr "$D/tty.out" || fail "no colour on a terminal"
export NO_COLOR=1
tty unit list --under north/c0
unset NO_COLOR
eq "$RC" 0
! sgr "$D/tty.out" || fail "colour with NO_COLOR set"
tty --color never unit list --under north/c0
! sgr "$D/tty.out" || fail "colour with --color never"
grep -aq "north/c0/b9" "$D/tty.out" || fail "no rows with --color never"
piped 0 --color never unit list --under north/c0
bctl --color always unit list --under north/c0 >"$D/out"
sgr "$D/out" || fail "--color always in a pipe has no colour"
piped 0 --color always -o json unit list --under north/c0
refused 2 "unknown --color 'sometimes'" --color sometimes unit list

case_ "piped: apply prints its listing and summary, no progress"
as bob
gen "$D/south.json" south
piped 0 apply -f "$D/south.json"
same "$D/err" "$UNITS created"$'\n'
eq "$(wc -l <"$D/out")" "$((UNITS + 1))" "listing lines"
eq "$(head -1 "$D/out" | tr -s ' ')" "ACTION KIND KEY DETAIL"
piped 0 -o json apply -f "$D/south.json"
same "$D/out" "[]"$'\n'
same "$D/err" ""
piped 0 diff -f "$D/south.json"
same "$D/out" ""
same "$D/err" "no changes"$'\n'
piped 0 -o yaml apply --dry-run -f "$D/south.json"
same "$D/err" ""

case_ "piped: lead stats prints its rows alone"
piped 0 -o csv lead stats
same "$D/err" ""
eq "$(head -1 "$D/out" | tr -d '\r')" \
    "branch_path,period_start,received,contacted,contacted_in_sla,won,lost,conversion,expected_share,actual_share"
piped 0 lead stats --under south
same "$D/err" ""

finish
