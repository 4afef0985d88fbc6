# Web intake's abuse limits over real HTTPS: a source's token bucket
# (intake_rate_per_source, here 1 a minute after a burst of 3) answers 429
# with Retry-After and creates nothing, while another source is served; an
# address's bucket (a daemon of this scenario's own, 1 a minute per
# address) refuses that address and serves another one. Counted in /metrics.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/intake_lib.sh"

case_ "a company with two sources"
as carol
ok tenant create limco --name "Lim Co" --admin-subject CN=alice
as alice
ok dept add / customer_service
ok unit add b1 --kind branch --name B1
ok dept add b1 sales
ok project add seo --name SEO
ok project assign b1 seo --capacity 10
ok -o json source add busy --channel website --project seo
BUSY=$(jqv .token)
ok -o json source add calm --channel website --project seo
CALM=$(jqv .token)

case_ "a source past its burst is 429 with Retry-After, and nothing is created"
for i in 1 2 3; do
    post "$BUSY" application/json "{\"name\":\"Burst $i\"}"
    eq "$CODE" 201 "$OUT"
done
before=$(leads limco)
post "$BUSY" application/json '{"name":"One too many"}'
eq "$CODE" 429 "$OUT"
eq "$(jq -r .outcome <<<"$OUT")" rate_limited
contains "$(jq -r .message <<<"$OUT")" "this source"
retry=$(header Retry-After)
[[ $retry =~ ^[0-9]+$ && $retry -ge 1 && $retry -le 60 ]] || fail "Retry-After '$retry'"
eq "$(leads limco)" "$before"
post "$BUSY" application/x-www-form-urlencoded 'name=Form+too+many'
eq "$CODE" 429 "$OUT" "a form is refused the same way"
eq "$(leads limco)" "$before"

case_ "another source of the same address is served meanwhile"
post "$CALM" application/json '{"name":"Calm"}'
eq "$CODE" 201 "$OUT"
eq "$(metric 'branchline_intake_source_requests_total{source="limco/busy",outcome="rate_limited"}')" 2
eq "$(metric 'branchline_intake_source_requests_total{source="limco/calm",outcome="created"}')" 1

case_ "an address past its burst is 429; another address is served"
own_daemon_start "$BLTEST_DIR/own" intake_rate_per_address=1 intake_rate_per_source=1000000 intake_burst=2
trap 'own_daemon_stop' EXIT
for i in 1 2; do
    post "$CALM" application/json "{\"name\":\"Address $i\"}" --interface 127.0.0.2
    eq "$CODE" 201 "$OUT"
done
before=$(leads limco)
post "$CALM" application/json '{"name":"Address 3"}' --interface 127.0.0.2
eq "$CODE" 429 "$OUT"
contains "$(jq -r .message <<<"$OUT")" "this address"
[[ $(header Retry-After) =~ ^[0-9]+$ ]] || fail "no Retry-After"
eq "$(leads limco)" "$before"
post "$CALM" application/json '{"name":"Another address"}' --interface 127.0.0.3
eq "$CODE" 201 "$OUT"
eq "$(metric 'branchline_intake_requests_total{outcome="rate_limited"}')" 1
own_daemon_stop
trap - EXIT

finish
