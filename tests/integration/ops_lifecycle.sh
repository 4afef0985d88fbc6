# branchd's life cycle under a service manager, with its own daemon: the
# systemd notifications in order (a fake NOTIFY_SOCKET), the watchdog fed
# from the workers' heartbeats, SIGHUP reloading the file (a changed option
# applied, one that needs a restart logged, a bad file changing nothing,
# open connections kept), JSON logs, syslog priorities when stderr is the
# journal, and /readyz saying "draining" while SIGTERM drains.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

D=$BLTEST_DIR/life
mkdir -p "$D"
conf=$D/branchd.conf
log=$D/branchd.log

# write_conf [EXTRA LINE...]: the daemon's file, with the lines given.
write_conf() {
    {
        echo "listen_address = 127.0.0.1"
        echo "listen_port = 0"
        echo "port_file = $D/port"
        echo "http_port = 0"
        echo "http_port_file = $D/http.port"
        echo "tls_cert = $BLTEST_CERTS/server.crt"
        echo "tls_key = $BLTEST_CERTS/server.key"
        echo "tls_ca = $BLTEST_CERTS/ca.crt"
        echo "db_conninfo = $BLTEST_APP_CONNINFO"
        echo "workers = 2"
        printf '%s\n' "$@"
    } >"$conf.tmp"
    mv "$conf.tmp" "$conf"
}

# notified PATTERN: waits (10 s at most) until a notification matches.
notified() {
    for _ in $(seq 100); do
        grep -q -- "$1" "$D/notify" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "no notification matching '$1'; got: $(cat "$D/notify" 2>/dev/null)"
}

# logged PATTERN: waits (10 s at most) until the daemon's log matches.
logged() {
    for _ in $(seq 100); do
        grep -q -- "$1" "$log" && return 0
        sleep 0.1
    done
    fail "the log never said '$1'"
}

# ping BYTES [DELAY_MS]: on the connection held open since the start.
ping_held() {
    echo "ping $1 ${2:-0}" >&"${HELD[1]}"
    read -r -t 15 ANSWER <&"${HELD[0]}" || fail "no answer on the held connection"
}

case_ "a fake NOTIFY_SOCKET gets READY=1 and STATUS once the daemon serves; the watchdog is fed"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", "|") + "\n")
        f.flush()
' "$D/notify.sock" "$D/notify" &
listener=$!
for _ in $(seq 50); do [[ -S $D/notify.sock ]] && break; sleep 0.1; done
write_conf "log_level = info"
: >"$log"
journal=$(stat -c '%d:%i' "$log")
NOTIFY_SOCKET=$D/notify.sock WATCHDOG_USEC=400000 JOURNAL_STREAM=$journal \
    "$BRANCHD" --config "$conf" 2>>"$log" &
pid=$!
trap 'kill $pid $listener 2>/dev/null || true' EXIT
notified '^READY=1|STATUS=serving on 127.0.0.1 port'
notified '^WATCHDOG=1$'
before=$(grep -c '^WATCHDOG=1$' "$D/notify")
sleep 0.6
[[ $(grep -c '^WATCHDOG=1$' "$D/notify") -gt $before ]] || fail "the watchdog is not fed every half WATCHDOG_USEC"

case_ "stderr is the journal (JOURNAL_STREAM matches): every line starts with its syslog priority"
[[ $(head -1 "$log") == "<6>ts="*"level=info"* ]] || fail "first line: $(head -1 "$log")"
if grep -v '^<[0-7]>ts=' "$log" | grep -q .; then
    fail "a line without a priority: $(grep -v '^<[0-7]>ts=' "$log" | head -1)"
fi

case_ "a connection opened before the reloads"
PORT=$(cat "$D/port")
H=http://127.0.0.1:$(cat "$D/http.port")
coproc HELD { exec python3 "$(dirname "$0")/blframe.py" 127.0.0.1 "$PORT" "$BLTEST_CERTS/ca.crt" \
    "$BLTEST_CERTS/alice.crt" "$BLTEST_CERTS/alice.key"; }
ping_held 200
eq "$ANSWER" "1 0"

case_ "a file that does not validate changes nothing, and says why"
write_conf "max_frame_size = 64" "log_level = loud"
kill -HUP $pid
logged "reload_failed"
contains "$(grep reload_failed "$log")" "log_level"
[[ $(grep reload_failed "$log") == "<3>"* ]] || fail "an error line has priority <3>"
ping_held 200
eq "$ANSWER" "2 0" "max_frame_size of the bad file must not apply"
notified '^RELOADING=1|MONOTONIC_USEC=[0-9][0-9]*|'
notified 'STATUS=serving; the last reload failed'

case_ "TLS files that do not load change nothing either"
echo "not a certificate" >"$D/bad.crt"
write_conf "max_frame_size = 64" "tls_cert = $D/bad.crt"
kill -HUP $pid
for _ in $(seq 100); do
    [[ $(grep -c reload_failed "$log") -ge 2 ]] && break
    sleep 0.1
done
[[ $(grep -c reload_failed "$log") -ge 2 ]] || fail "a bad certificate was not refused"
ping_held 200
eq "$ANSWER" "3 0" "max_frame_size must not apply with a bad certificate"

case_ "a good file: changed options apply, one needing a restart is logged and kept"
write_conf "max_frame_size = 64" "workers = 3" "log_format = json" "http_max_body_bytes = 10"
kill -HUP $pid
logged '"event":"reloaded"'
logged 'reload_needs_restart option=workers'
[[ $(grep reload_needs_restart "$log") == "<4>"* ]] || fail "a warning line has priority <4>"
line=$(grep '"event":"reloaded"' "$log" | tail -1)
eq "$(jq -r .changed <<<"${line#<*>}")" "max_frame_size,log_format,http_max_body_bytes"
ping_held 10
eq "$ANSWER" "4 0" "the held connection stays open across the reloads"
answer=$(echo "ping 200 0" | python3 "$(dirname "$0")/blframe.py" 127.0.0.1 "$PORT" \
    "$BLTEST_CERTS/ca.crt" "$BLTEST_CERTS/bob.crt" "$BLTEST_CERTS/bob.key")
eq "$answer" "0 8" "a frame above the new max_frame_size is refused with RESOURCE_EXHAUSTED"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary 0123456789abcdef "$H/livez")
eq "$code" 413 "the new http_max_body_bytes applies"
notified '^READY=1|STATUS=serving; configuration reloaded'

case_ "JSON log lines parse and keep the fields"
tail -n 3 "$log" | sed 's/^<[0-7]>//' | jq -e 'has("ts") and has("level") and has("event")' >/dev/null ||
    fail "not JSON: $(tail -n 3 "$log")"

case_ "SIGTERM: STOPPING=1, and /readyz says draining while a request is in flight"
echo "ping 10 3000" >&"${HELD[1]}"
sleep 0.3
kill -TERM $pid
notified '^STOPPING=1|STATUS=draining'
body=$(curl -sS -w '\n%{http_code}' "$H/readyz")
eq "${body##*$'\n'}" 503
contains "$body" "draining"
wait $pid || fail "the daemon did not exit cleanly"
trap - EXIT
kill $listener 2>/dev/null || true

case_ "the notifications came in order"
order=$(cut -d'|' -f1 "$D/notify" | grep -v '^WATCHDOG=1$' | tr '\n' ' ')
eq "$order" "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1 "

finish
