# /metrics of a real branchd: the text passes Debian's promtool, counters
# move as requests are made, and a real Prometheus server scrapes it and
# answers a query for branchline_requests_total through its HTTP API.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

H=http://127.0.0.1:$BLTEST_HTTP_PORT

scrape() { curl -sS -f "$H/metrics" || fail "GET /metrics failed"; }

# value NAME_WITH_LABELS: the sample's value in the last scrape ($M), 0 if absent.
value() {
    awk -v k="$1" '$1 == k { v = $2 } END { print v == "" ? 0 : v }' <<<"$M"
}

case_ "the exposition passes promtool check metrics"
as carol
ok ping
M=$(scrape)
out=$(promtool check metrics <<<"$M" 2>&1) || fail "promtool: $out"
contains "$(curl -sS -D - -o /dev/null "$H/metrics")" "text/plain; version=0.0.4"

case_ "every family has HELP and TYPE, and the families of the issue are there"
for f in branchline_requests_total branchline_request_duration_seconds branchline_connections_open \
    branchline_connections branchline_tls_handshakes_total branchline_tls_handshake_failures_total \
    branchline_frames_refused_total branchline_db_pool_connections branchline_db_pool_waiting \
    branchline_db_queries_total branchline_db_errors_total branchline_db_reconnects_total \
    branchline_db_listen_losses_total branchline_cache_hits_total branchline_cache_misses_total \
    branchline_cache_invalidations_total branchline_leads_allocated_total \
    branchline_leads_queued_total branchline_sla_reallocations_total \
    branchline_sweep_duration_seconds branchline_rate_limited_requests_total \
    branchline_http_requests_total branchline_process_start_time_seconds branchline_build_info; do
    grep -q "^# HELP $f " <<<"$M" || fail "no HELP for $f"
    grep -q "^# TYPE $f " <<<"$M" || fail "no TYPE for $f"
done
[[ $(value 'branchline_process_start_time_seconds') -gt 1700000000 ]] || fail "no start time"
eq "$(value 'branchline_build_info{version="'"$("$BRANCHD" --version | awk '{print $2}')"'"}')" 1

case_ "request counters and the duration histogram move with requests"
before=$(value 'branchline_requests_total{operation="ping",code="OK"}')
hs_before=$(value 'branchline_tls_handshakes_total')
for _ in 1 2 3; do ok ping; done
as dave
refused 6 UNAUTHENTICATED unit list
as carol
M=$(scrape)
eq "$(value 'branchline_requests_total{operation="ping",code="OK"}')" "$((before + 3))"
eq "$(value 'branchline_requests_total{operation="unit_list",code="UNAUTHENTICATED"}')" 1
[[ $(value 'branchline_tls_handshakes_total') -ge $((hs_before + 4)) ]] || fail "handshakes did not move"
[[ $(value 'branchline_request_duration_seconds_count{operation="ping"}') -ge $((before + 3)) ]] ||
    fail "ping durations were not observed"
eq "$(value 'branchline_request_duration_seconds_bucket{operation="ping",le="+Inf"}')" \
    "$(value 'branchline_request_duration_seconds_count{operation="ping"}')"
[[ $(value 'branchline_db_queries_total{pool="primary"}') -gt 0 ]] || fail "no database queries counted"

case_ "a lead allocated on intake counts under its policy; one without a pool under its reason"
one_branch_org
ok project add none --name None
ok lead add --external-id m-1 --project seo --channel search
ok lead add --external-id m-2 --project none --channel search
M=$(scrape)
eq "$(value 'branchline_leads_allocated_total{policy="weighted"}')" 1
eq "$(value 'branchline_leads_queued_total{reason="no_branch_handles_project"}')" 1

case_ "a refused frame and a failed handshake are counted by reason"
curl -sS -m 5 "http://127.0.0.1:$BLTEST_PORT/" >/dev/null 2>&1 || true
printf '\0\0\0\0' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$BLTEST_PORT" \
    -alpn branchline/1 -CAfile "$BLTEST_CERTS/ca.crt" -cert "$BLTEST_CERTS/carol.crt" \
    -key "$BLTEST_CERTS/carol.key" >/dev/null 2>&1 || true
sleep 0.5
M=$(scrape)
[[ $(value 'branchline_tls_handshake_failures_total{reason="tls_error"}') -ge 1 ]] ||
    fail "a failed handshake was not counted"
eq "$(value 'branchline_frames_refused_total{reason="empty_frame"}')" 1

case_ "HTTP requests are counted by route and status class; the pool gauges are published"
M=$(scrape)
[[ $(value 'branchline_http_requests_total{route="/metrics",code="2xx"}') -ge 3 ]] ||
    fail "scrapes were not counted"
sleep 0.6
M=$(scrape)
idle=$(value 'branchline_db_pool_connections{pool="primary",state="idle"}')
busy=$(value 'branchline_db_pool_connections{pool="primary",state="in_use"}')
[[ $((idle + busy)) -ge 1 ]] || fail "no pool connection published"

case_ "a real Prometheus server scrapes branchd and its query API sees the requests"
pdir=$BLTEST_DIR/prometheus
mkdir -p "$pdir/data"
cat >"$pdir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: branchd
    static_configs:
      - targets: ['127.0.0.1:$BLTEST_HTTP_PORT']
YML
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus --config.file="$pdir/prometheus.yml" --storage.tsdb.path="$pdir/data" \
    --web.listen-address="127.0.0.1:$pport" >"$pdir/log" 2>&1 &
ppid=$!
trap 'kill $ppid 2>/dev/null || true' EXIT
got=
for _ in $(seq 120); do
    got=$(curl -sS -G "http://127.0.0.1:$pport/api/v1/query" \
        --data-urlencode 'query=sum(branchline_requests_total)' 2>/dev/null |
        jq -r '.data.result[0].value[1] // empty' 2>/dev/null || true)
    [[ -n $got && $got != 0 ]] && break
    sleep 0.5
done
[[ -n $got && $got != 0 ]] || fail "Prometheus did not get branchline_requests_total: $(tail -5 "$pdir/log")"
health=$(curl -sS "http://127.0.0.1:$pport/api/v1/targets" | jq -r '.data.activeTargets[0].health')
eq "$health" up
kill $ppid
wait $ppid 2>/dev/null || true
trap - EXIT

finish
