# Helpers of the web intake scenarios (source after lib.sh): posting over
# real HTTPS with curl, counting leads behind row-level security, reading
# /metrics, and a branchd of the scenario's own (to kill -9 it, restart it
# or give it other limits than the fixture's daemon).
# shellcheck shell=bash

INTAKE_URL="https://localhost:${BLTEST_INTAKE_PORT:-0}/v1/intake"
METRICS_URL="http://127.0.0.1:${BLTEST_HTTP_PORT:-0}/metrics"

# post TOKEN CONTENT_TYPE BODY [curl args...]: status in $CODE, headers in
# $HDR, body in $OUT (to $INTAKE_URL).
post() {
    local token=$1 ctype=$2 body=$3
    shift 3
    CODE=$(curl -s -o "$BLTEST_DIR/body" -D "$BLTEST_DIR/hdr" -w '%{http_code}' --cacert "$BRANCHLINE_CA" \
        -H "Content-Type: $ctype" --data-binary "$body" "$@" "$INTAKE_URL/$token")
    OUT=$(cat "$BLTEST_DIR/body")
    HDR=$(tr -d '\r' <"$BLTEST_DIR/hdr")
}

# header NAME: the value of a header of the last answer.
header() { awk -v k="$(tr '[:upper:]' '[:lower:]' <<<"$1")" 'BEGIN { FS = ": " } tolower($1) == k { print $2 }' <<<"$HDR"; }

# leads TENANT_CODE: the tenant's leads, counted as the owner (behind RLS).
leads() {
    psql_admin "SELECT count(*) FROM branchline.leads l JOIN branchline.tenants t ON t.id = l.tenant_id
                WHERE t.code = '$1'"
}

# leads_with EXTERNAL_ID: leads with that external id, in every tenant.
leads_with() { psql_admin "SELECT count(*) FROM branchline.leads WHERE external_id = '$1'"; }

# metric NAME_WITH_LABELS: its value on /metrics ($METRICS_URL), 0 if absent.
metric() {
    local v
    v=$(curl -sS "$METRICS_URL" | awk -v k="$1" '$1 == k { print $2 }')
    echo "${v:-0}"
}

# own_daemon_start DIR [OPTION=VALUE ...]: a branchd of the scenario's own on
# the test database, with the intake listener and a spool in DIR; sets
# OWN_PID, OWN_PORT (mutual TLS), OWN_INTAKE_PORT, OWN_HTTP_PORT, and points
# INTAKE_URL and METRICS_URL at it. Waits (30 s at most) for its port files.
own_daemon_start() {
    local d=$1
    shift
    mkdir -p "$d"
    rm -f "$d/port" "$d/intake.port" "$d/http.port"
    {
        echo "listen_address = 127.0.0.1"
        echo "listen_port = 0"
        echo "port_file = $d/port"
        echo "http_port = 0"
        echo "http_port_file = $d/http.port"
        echo "intake_port = 0"
        echo "intake_port_file = $d/intake.port"
        echo "intake_spool_path = $d/intake.spool"
        echo "tls_cert = $BLTEST_CERTS/server.crt"
        echo "tls_key = $BLTEST_CERTS/server.key"
        echo "tls_ca = $BLTEST_CERTS/ca.crt"
        echo "db_conninfo = $BLTEST_APP_CONNINFO"
        echo "workers = 2"
        echo "log_level = debug"
        printf '%s\n' "$@"
    } >"$d/branchd.conf"
    "$BRANCHD" --config "$d/branchd.conf" 2>>"$d/branchd.log" &
    OWN_PID=$!
    for _ in $(seq 300); do
        [[ -s $d/port ]] && break
        kill -0 "$OWN_PID" 2>/dev/null || fail "branchd exited: $(tail -5 "$d/branchd.log")"
        sleep 0.1
    done
    [[ -s $d/port ]] || fail "branchd did not start: $(tail -5 "$d/branchd.log")"
    OWN_PORT=$(cat "$d/port")
    OWN_INTAKE_PORT=$(cat "$d/intake.port")
    OWN_HTTP_PORT=$(cat "$d/http.port")
    INTAKE_URL="https://localhost:$OWN_INTAKE_PORT/v1/intake"
    METRICS_URL="http://127.0.0.1:$OWN_HTTP_PORT/metrics"
}

# own_daemon_stop [SIGNAL]: stops it (TERM, or KILL for a crash) and waits.
own_daemon_stop() {
    kill -"${1:-TERM}" "$OWN_PID" 2>/dev/null || true
    wait "$OWN_PID" 2>/dev/null || true
}
