# The operators' HTTP listener of a real branchd: routes, errors, limits,
# liveness and readiness, over plain HTTP and over HTTPS with the daemon's
# own certificate.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

H=http://127.0.0.1:$BLTEST_HTTP_PORT

# get URL [CURL ARGS...]: sets CODE and BODY.
get() {
    local url=$1
    shift
    BODY=$(curl -sS -o - -w '\n%{http_code}' "$@" "$url") || fail "curl $url failed"
    CODE=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
    BODY=${BODY%$'\n'}
}

# wait_ready WANT: polls /readyz until it answers WANT (200 or 503), 15 s at most.
wait_ready() {
    for _ in $(seq 150); do
        get "$H/readyz"
        [[ $CODE == "$1" ]] && return 0
        sleep 0.1
    done
    fail "/readyz stayed $CODE ($BODY), want $1"
}

case_ "/livez: every worker's loop is turning"
get "$H/livez"
eq "$CODE" 200
eq "$BODY" "alive"

case_ "/readyz: ready once the database connections are up"
wait_ready 200
eq "$BODY" "ready"

case_ "unknown path: 404; wrong method: 405; HEAD of a GET route: 200 without a body"
get "$H/nope"
eq "$CODE" 404
get "$H/livez" -X POST
eq "$CODE" 405
contains "$BODY" "POST"
get "$H/livez" -I
eq "$CODE" 200

case_ "a body over http_max_body_bytes is refused with 413 before any handler"
head -c 70000 /dev/zero | tr '\0' x >"$BLTEST_DIR/big"
get "$H/livez" -X POST --data-binary "@$BLTEST_DIR/big"
eq "$CODE" 413

case_ "the request log names the route, never the raw path (a path may carry a secret)"
get "$H/v1/secret-token-123"
eq "$CODE" 404
sleep 0.2
contains "$(cat "$BLTEST_DIR/branchd.log")" "route=/livez status=200"
contains "$(cat "$BLTEST_DIR/branchd.log")" "route=unmatched status=404"
if grep -q secret-token-123 "$BLTEST_DIR/branchd.log"; then
    fail "the raw path was logged"
fi

case_ "HTTPS with the daemon's certificate (http_tls = 1), no client certificate asked"
conf=$BLTEST_DIR/https.conf
cat >"$conf" <<CONF
listen_address = 127.0.0.1
listen_port = 0
port_file = $BLTEST_DIR/https.port
http_port = 0
http_port_file = $BLTEST_DIR/https.http
http_tls = 1
tls_cert = $BLTEST_CERTS/server.crt
tls_key = $BLTEST_CERTS/server.key
tls_ca = $BLTEST_CERTS/ca.crt
db_conninfo = $BLTEST_APP_CONNINFO
workers = 2
CONF
"$BRANCHD" --config "$conf" 2>"$BLTEST_DIR/https.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    [[ -s $BLTEST_DIR/https.port ]] && break
    sleep 0.1
done
[[ -s $BLTEST_DIR/https.port ]] || fail "the HTTPS daemon did not start: $(cat "$BLTEST_DIR/https.log")"
S=https://localhost:$(cat "$BLTEST_DIR/https.http")
get "$S/livez" --cacert "$BLTEST_CERTS/ca.crt"
eq "$CODE" 200
if curl -sS -o /dev/null "http://127.0.0.1:$(cat "$BLTEST_DIR/https.http")/livez" 2>/dev/null; then
    fail "plain HTTP was answered on the HTTPS listener"
fi
kill -TERM $pid
wait $pid || fail "the HTTPS daemon did not exit cleanly: $(cat "$BLTEST_DIR/https.log")"
trap - EXIT

finish
