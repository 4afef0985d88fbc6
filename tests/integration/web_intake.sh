# Web intake over real HTTPS (curl, server certificate only) into a real
# branchd: JSON and form posts create allocated leads, a repeat is 200, the
# failures are answered as specified and create nothing.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

URL="https://localhost:$BLTEST_INTAKE_PORT/v1/intake"
# post TOKEN CONTENT_TYPE BODY [curl args...]: status in $CODE, headers in $HDR, body in $OUT.
post() {
    local token=$1 ctype=$2 body=$3
    shift 3
    CODE=$(curl -s -o "$BLTEST_DIR/body" -D "$BLTEST_DIR/hdr" -w '%{http_code}' --cacert "$BRANCHLINE_CA" \
        -H "Content-Type: $ctype" --data-binary "$body" "$@" "$URL/$token")
    OUT=$(cat "$BLTEST_DIR/body")
    HDR=$(cat "$BLTEST_DIR/hdr")
}
leads() { psql_admin "SELECT count(*) FROM branchline.leads"; }

case_ "a company and a source"
as carol
ok tenant create webco --name "Web Co" --admin-subject CN=alice
as alice
ok dept add / customer_service
ok unit add b1 --kind branch --name B1
ok dept add b1 sales
ok project add seo --name SEO
ok project assign b1 seo --capacity 1
ok -o json source add site --channel website --project seo --return-url https://www.example.com/thanks --map tel=phone
TOKEN=$(jqv .token)

case_ "JSON: 201 with the reference and status; the same again is 200"
post "$TOKEN" application/json '{"name":"张三","tel":"13800000001"}' -H "Idempotency-Key: k-1"
eq "$CODE" 201 "$OUT"
eq "$(jq -r .status <<<"$OUT")" allocated
eq "$(jq -r .reference <<<"$OUT")" k-1
post "$TOKEN" application/json '{"name":"张三","tel":"13800000001"}' -H "Idempotency-Key: k-1"
eq "$CODE" 200 "$OUT"
ok -o json lead list
eq "$(jqv 'map(select(.external_id == "k-1")) | .[0].branch_path')" b1

case_ "a form post goes back to the return URL with 303"
post "$TOKEN" application/x-www-form-urlencoded 'name=Li&tel=13800000002&budget=10k'
eq "$CODE" 303 "$OUT"
contains "$HDR" "Location: https://www.example.com/thanks?status=created"

case_ "failures are answered as specified and create nothing"
before=$(leads)
post "$TOKEN" application/json '{"name":"X","tel":"12"}'
eq "$CODE" 422 "$OUT"
eq "$(jq -r .field <<<"$OUT")" tel
post "$TOKEN" text/plain 'name=X'
eq "$CODE" 415 "$OUT"
post "$TOKEN" application/json $'{"name":"\xff"}'
eq "$CODE" 422 "$OUT"
post bls_nope application/json '{"name":"X"}'
eq "$CODE" 404 "$OUT"
post "$TOKEN" application/x-www-form-urlencoded 'name=X&_return_url=https%3A%2F%2Fevil.example%2F'
eq "$CODE" 422 "$OUT"
post "$TOKEN" application/json "{\"note\":\"$(printf 'n%.0s' {1..20000})\"}"
eq "$CODE" 413 "$OUT"
post "$TOKEN" application/json '{"name":"Bot","homepage":"http://spam.example"}'
eq "$CODE" 201 "$OUT"
eq "$(leads)" "$before"

finish
