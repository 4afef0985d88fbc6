# Web intake over real HTTPS (curl, server certificate only) into a real
# branchd: JSON and form posts create allocated leads with the mapping and
# extras, a repeat is 200, a double-clicked form makes one lead; every
# failure the issue lists is answered as specified and creates nothing; a
# token of one tenant never creates in another; /metrics counts by source
# and outcome. The limits are high here: web_intake_limits tests them.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/intake_lib.sh"

# nothing_created BEFORE: no lead was added in webco since BEFORE.
nothing_created() { eq "$(leads webco)" "$1" "nothing may be created"; }

case_ "a company and its sources"
as carol
ok tenant create webco --name "Web Co" --admin-subject CN=alice
ok tenant create other --name "Other" --admin-subject CN=bob
as alice
ok dept add / customer_service
ok unit add b1 --kind branch --name B1
ok dept add b1 sales
ok project add seo --name SEO
ok project assign b1 seo --capacity 10
ok -o json source add site --channel website --project seo --return-url https://www.example.com/thanks \
    --map tel=phone --map fullname=name
TOKEN=$(jqv .token)
ok -o json source add hook --channel search --project seo --hmac
HOOK=$(jqv .token)
SECRET=$(jqv .hmac_secret)
ok -o json source add gone --channel website --project seo
GONE=$(jqv .token)
ok -o json source add rot --channel website --project seo
ROT0=$(jqv .token)

case_ "JSON: 201 with the reference and status; the same Idempotency-Key again is 200 and one lead"
post "$TOKEN" application/json '{"fullname":"张三","tel":"13800000001"}' -H "Idempotency-Key: k-1"
eq "$CODE" 201 "$OUT"
eq "$(jq -r .status <<<"$OUT")" allocated
eq "$(jq -r .reference <<<"$OUT")" k-1
before=$(leads webco)
post "$TOKEN" application/json '{"fullname":"张三, again","tel":"13800000001"}' -H "Idempotency-Key: k-1"
eq "$CODE" 200 "$OUT"
eq "$(jq -r .outcome <<<"$OUT")" repeat
eq "$(leads_with k-1)" 1
nothing_created "$before"
ok -o json lead list
eq "$(jqv 'map(select(.external_id == "k-1")) | .[0].branch_path')" b1
eq "$(jqv 'map(select(.external_id == "k-1")) | .[0].status')" allocated

case_ "a form post goes back to the return URL with 303; mapping and extras"
post "$TOKEN" application/x-www-form-urlencoded 'fullname=Li&tel=13800000002&budget=10k'
eq "$CODE" 303 "$OUT"
eq "$(header Location)" "https://www.example.com/thanks?status=created"
ok -o json lead list
eq "$(jqv 'map(select(.name == "Li")) | .[0].phone')" 13800000002
eq "$(jqv 'map(select(.name == "Li")) | .[0].note')" "budget: 10k"
eq "$(jqv 'map(select(.name == "Li")) | .[0].channel')" website
eq "$(jqv 'map(select(.name == "Li")) | .[0].status')" allocated

case_ "a double-clicked form (the same body twice within the window) makes one lead"
before=$(leads webco)
post "$TOKEN" application/x-www-form-urlencoded 'fullname=Wang&tel=13800000003'
eq "$CODE" 303 "$OUT"
eq "$(header Location)" "https://www.example.com/thanks?status=created"
post "$TOKEN" application/x-www-form-urlencoded 'fullname=Wang&tel=13800000003'
eq "$CODE" 303 "$OUT"
eq "$(header Location)" "https://www.example.com/thanks?status=repeat"
eq "$(leads webco)" $((before + 1))

case_ "a bad token is 404 and creates nothing"
before=$(leads webco)
post bls_nope application/json '{"fullname":"X"}'
eq "$CODE" 404 "$OUT"
eq "$(jq -r .field <<<"$OUT")" token
post "" application/json '{"fullname":"X"}'
[[ $CODE == 404 ]] || fail "an empty token: $CODE $OUT"
nothing_created "$before"

case_ "a disabled source is 401 and creates nothing"
post "$GONE" application/json '{"fullname":"Before disable"}'
eq "$CODE" 201 "$OUT"
ok source disable gone
before=$(leads webco)
post "$GONE" application/json '{"fullname":"After disable"}'
eq "$CODE" 401 "$OUT"
contains "$(jq -r .message <<<"$OUT")" disabled
nothing_created "$before"

case_ "a rotated token works during its grace period, is 401 after it, creates nothing then"
ok -o json source rotate rot --grace-minutes 5
ROT1=$(jqv .token)
post "$ROT0" application/json '{"fullname":"Old token in grace"}'
eq "$CODE" 201 "$OUT"
# A grace period of zero: the token replaced is over at once.
ok -o json source rotate rot --grace-minutes 0
ROT2=$(jqv .token)
before=$(leads webco)
post "$ROT1" application/json '{"fullname":"Old token after its grace"}'
eq "$CODE" 401 "$OUT"
contains "$(jq -r .message <<<"$OUT")" "grace period is over"
post "$ROT0" application/json '{"fullname":"Two rotations old"}'
eq "$CODE" 404 "$OUT"
nothing_created "$before"
post "$ROT2" application/json '{"fullname":"New token"}'
eq "$CODE" 201 "$OUT"

case_ "HMAC: a wrong signature or a stale timestamp is 401 and creates nothing; a good one creates"
body='{"fullname":"Hooked","tel":"13800000004"}'
sign() { printf '%s' "$1.$2" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1; }
now=$(date +%s)
before=$(leads webco)
post "$HOOK" application/json "$body"
eq "$CODE" 401 "$OUT" "unsigned"
post "$HOOK" application/json "$body" -H "X-Branchline-Timestamp: $now" \
    -H "X-Branchline-Signature: sha256=$(printf '0%.0s' {1..64})"
eq "$CODE" 401 "$OUT" "wrong signature"
eq "$(jq -r .field <<<"$OUT")" X-Branchline-Signature
post "$HOOK" application/json "$body" -H "X-Branchline-Timestamp: $now" \
    -H "X-Branchline-Signature: sha256=$(sign "$now" '{"fullname":"Other body"}')"
eq "$CODE" 401 "$OUT" "signature of another body"
stale=$((now - 600))
post "$HOOK" application/json "$body" -H "X-Branchline-Timestamp: $stale" \
    -H "X-Branchline-Signature: sha256=$(sign "$stale" "$body")"
eq "$CODE" 401 "$OUT" "stale timestamp, correctly signed"
eq "$(jq -r .field <<<"$OUT")" X-Branchline-Timestamp
nothing_created "$before"
post "$HOOK" application/json "$body" -H "X-Branchline-Timestamp: $now" \
    -H "X-Branchline-Signature: sha256=$(sign "$now" "$body")"
eq "$CODE" 201 "$OUT" "good signature"

case_ "oversize body 413, wrong content type 415, invalid UTF-8 422 naming the field: nothing created"
before=$(leads webco)
post "$TOKEN" application/json "{\"note\":\"$(printf 'n%.0s' {1..20000})\"}"
eq "$CODE" 413 "$OUT"
post "$TOKEN" text/plain 'fullname=X'
eq "$CODE" 415 "$OUT"
post "$TOKEN" application/xml '<lead/>'
eq "$CODE" 415 "$OUT"
post "$TOKEN" application/x-www-form-urlencoded 'fullname=%FFX&tel=13800000005'
eq "$CODE" 422 "$OUT"
contains "$OUT" "fullname: fullname is not valid UTF-8"
post "$TOKEN" application/json $'{"fullname":"\xff"}'
eq "$CODE" 422 "$OUT"
eq "$(jq -r .outcome <<<"$OUT")" invalid
eq "$(jq -r .field <<<"$OUT")" fullname
post "$TOKEN" application/json '{"fullname":"X","tel":"12"}'
eq "$CODE" 422 "$OUT"
eq "$(jq -r .field <<<"$OUT")" tel "named as the form calls it"
nothing_created "$before"

case_ "a return URL not on the list is 422, never a redirect, nothing created"
before=$(leads webco)
post "$TOKEN" application/x-www-form-urlencoded 'fullname=Y&tel=13800000006&_return_url=https%3A%2F%2Fevil.example%2F'
eq "$CODE" 422 "$OUT"
eq "$(header Location)" ""
contains "$OUT" "_return_url"
nothing_created "$before"

case_ "the honeypot: answered like a success, counted, nothing created"
before=$(leads webco)
spam_before=$(metric 'branchline_intake_requests_total{outcome="spam"}')
post "$TOKEN" application/json '{"fullname":"Bot","homepage":"http://spam.example"}'
eq "$CODE" 201 "$OUT"
eq "$(jq -r .outcome <<<"$OUT")" created
post "$TOKEN" application/x-www-form-urlencoded 'fullname=Bot2&homepage=x'
eq "$CODE" 303 "$OUT"
eq "$(header Location)" "https://www.example.com/thanks?status=created"
nothing_created "$before"
eq "$(metric 'branchline_intake_requests_total{outcome="spam"}')" $((spam_before + 2))

case_ "a token of tenant other creates in other, never in webco"
as bob
ok dept add / customer_service
ok unit add b --kind branch --name B
ok dept add b sales
ok project add seo --name SEO
ok project assign b seo --capacity 1
ok -o json source add theirs --channel search --project seo
THEIRS=$(jqv .token)
as alice
before=$(leads webco)
post "$THEIRS" application/json '{"fullname":"Other tenant lead","tel":"13800000055"}' -H "Idempotency-Key: k-1"
eq "$CODE" 201 "$OUT" "k-1 exists in webco, not in other"
nothing_created "$before"
eq "$(leads other)" 1
ok -o json lead list --limit 100
[[ $OUT != *"Other tenant lead"* ]] || fail "webco sees other's lead"

case_ "the quickstart's example (deploy/intake-example.sh): its printed curl line creates a lead, its form is complete"
ok -o json source add example --channel website --project seo
endpoint="$INTAKE_URL/$(jqv .token)"
line=$("$(dirname "$0")/../../deploy/intake-example.sh" "$endpoint" "$BRANCHLINE_CA" "$BLTEST_DIR/example")
before=$(leads webco)
out=$(bash -c "$line")
eq "$(jq -r .outcome <<<"$out")" created "$out"
eq "$(jq -r .status <<<"$out")" allocated
eq "$(leads webco)" $((before + 1))
form=$(cat "$BLTEST_DIR/example/intake-form.html")
contains "$form" "action=\"$endpoint\""
for field in name phone email budget note homepage; do
    contains "$form" "name=\"$field\""
done
[[ -s $BLTEST_DIR/example/intake-thanks.html ]] || fail "no thank-you page"

case_ "/metrics counts intake by source and outcome"
m=branchline_intake_source_requests_total
eq "$(metric "$m{source=\"webco/site\",outcome=\"created\"}")" 3
eq "$(metric "$m{source=\"webco/site\",outcome=\"repeat\"}")" 2
eq "$(metric "$m{source=\"webco/site\",outcome=\"spam\"}")" 2
eq "$(metric "$m{source=\"webco/site\",outcome=\"unsupported_type\"}")" 2
eq "$(metric "$m{source=\"webco/gone\",outcome=\"unauthenticated\"}")" 1
eq "$(metric "$m{source=\"webco/hook\",outcome=\"created\"}")" 1
eq "$(metric "$m{source=\"other/theirs\",outcome=\"created\"}")" 1
eq "$(metric "$m{source=\"unknown\",outcome=\"not_found\"}")" 1 "a token never accepted is unknown"
eq "$(metric "$m{source=\"webco/rot\",outcome=\"not_found\"}")" 1 "a token accepted once keeps its label"
eq "$(metric "$m{source=\"unknown\",outcome=\"unauthenticated\"}")" 5 \
    "the token rotated before it was used, the hook's four refusals before its first success"
if curl -sS "$METRICS_URL" | grep -q 'bls_'; then fail "a token appears in /metrics"; fi

finish
