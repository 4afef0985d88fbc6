# A flood on one source and a slowloris on the intake port must not slow
# another source or the mutual-TLS protocol (intake_flood.py measures; the
# figures are printed and kept in the README, nothing timed is asserted):
# the flood is answered 429, the calm source's submissions are all created
# and every ping is answered, before and during; the slowloris connections
# are closed by intake_timeout_ms, not served.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/intake_lib.sh"

case_ "a company with a calm source and a busy one"
as carol
ok tenant create floodco --name "Flood Co" --admin-subject CN=alice
as alice
ok dept add / customer_service
ok unit add b1 --kind branch --name B1
ok dept add b1 sales
ok project add seo --name SEO
ok project assign b1 seo --capacity 1000
ok -o json source add calm --channel website --project seo
CALM=$(jqv .token)
ok -o json source add busy --channel website --project seo
BUSY=$(jqv .token)

case_ "before and during a flood and a slowloris: the figures"
python3 "$(dirname "$0")/intake_flood.py" "$BLTEST_INTAKE_PORT" "$BLTEST_PORT" "$BLTEST_CERTS/ca.crt" \
    "$BLTEST_CERTS/alice.crt" "$BLTEST_CERTS/alice.key" "$CALM" "$BUSY" "${FLOOD_SAMPLES:-150}" \
    >"$BLTEST_DIR/flood.out" || fail "intake_flood.py failed: $(cat "$BLTEST_DIR/flood.out")"
cat "$BLTEST_DIR/flood.out"
fig() { sed -n "s/^$1=//p" "$BLTEST_DIR/flood.out"; }

case_ "the flood was answered 429; the calm source and the pings were served, before and during"
n=${FLOOD_SAMPLES:-150}
for phase in before during; do
    eq "$(fig "${phase}_calm_201")" "$n" "$phase: every calm submission created"
    eq "$(fig "${phase}_calm_ping0")" "$n" "$phase: every ping answered OK"
done
[[ $(fig flood_429) -gt 0 ]] || fail "the flood was never refused"
# The busy source's bucket: a burst of 50, then 50 a second.
[[ $(fig flood_201) -le $((50 + 50 * $(fig flood_seconds))) ]] ||
    fail "the flood got past its source's limit: $(fig flood_201) created in $(fig flood_seconds) s"
[[ $(fig slowloris_closed_by_server) -gt 0 ]] || fail "no slowloris connection was closed by the daemon"
eq "$(psql_admin "SELECT count(*) FROM branchline.leads WHERE name LIKE 'Calm %'")" $((2 * n))
eq "$(metric 'branchline_intake_requests_total{outcome="rate_limited"}')" "$(fig flood_429)"
[[ $(fig flood_200) == "" ]] || fail "a flood of distinct submissions was answered as repeats"

finish
