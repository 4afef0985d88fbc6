# Channel sources through branchctl (add, list, rotate, disable: tokens shown
# once, hashes stored, audited, scope of unit_admin) and the web intake SQL
# function those tokens open (api.web_intake, called here as the daemon's
# role, as branchd's HTTP listener calls it): mapping and extras, idempotency,
# the derived id's window, HMAC, rotation grace, disabled sources, return
# URLs, the honeypot, and a token that never creates in another tenant.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

# web FIELDS_JSON [KEY] [SIGNATURE SIGNED] [RETURN_URL] [SPAM] [AT]: one
# submission with token $TOKEN; the result row (outcome|source|reference|
# status|return_url|cors) in $OUT, or the error in $ERR with a non-zero rc.
web() {
    local at=${7:-$(date +%s)}
    local sql="SELECT * FROM api.web_intake(:'tok', :'f'::jsonb, nullif(:'k', ''), :'at'::bigint, nullif(:'sig', ''),
               nullif(:'signed', ''), nullif(:'ret', ''), 'https://www.example.com', coalesce(nullif(:'spam', '')::boolean, false))"
    WEB_RC=0
    OUT=$(psql -X -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$BLTEST_APP_CONNINFO" -v tok="$TOKEN" -v f="$1" -v k="${2:-}" \
              -v sig="${3:-}" -v signed="${4:-}" -v ret="${5:-}" -v spam="${6:-}" -v at="$at" <<<"$sql" 2>"$BLTEST_DIR/web.err") || WEB_RC=$?
    ERR=$(cat "$BLTEST_DIR/web.err")
}
web_ok() { web "$@"; [[ $WEB_RC == 0 ]] || fail "web_intake $1 failed: $ERR"; }
web_refused() {
    local want=$1
    shift
    web "$@"
    [[ $WEB_RC != 0 ]] || fail "web_intake $1 succeeded: $OUT"
    [[ $ERR == *"$want"* ]] || fail "web_intake said '$ERR', want $want"
}
leads_count() { psql_admin "SELECT count(*) FROM branchline.leads l JOIN branchline.tenants t ON t.id = l.tenant_id WHERE t.code = '$1'"; }

case_ "a company with customer service at the group and two branches"
as carol
ok tenant create webco --name "Web Co" --admin-subject CN=alice
ok tenant create other --name "Other" --admin-subject CN=bob
as alice
ok dept add / customer_service
ok unit add east --kind region --name East
ok unit add west --kind region --name West
for b in east/b1 west/b1; do
    ok unit add $b --kind branch --name "$b"
    ok dept add $b sales
done
ok project add seo --name SEO
ok project add ads --name Ads
ok project assign east/b1 seo --capacity 1
ok project assign west/b1 seo --capacity 1
ok project assign west/b1 ads --capacity 1
ok principal add --subject CN=dave --role unit_admin --scope east

case_ "source add shows the token once; only its hash is stored; list never shows it"
ok -o json source add site --channel website --project seo --return-url https://www.example.com/thanks \
    --return-url https://www.example.com/merci --cors-origin https://www.example.com --map tel=phone --map fullname=name
TOKEN=$(jqv .token)
SITE_TOKEN=$TOKEN
contains "$TOKEN" "bls_"
eq "$(jqv .field_map)" "fullname=name tel=phone"
eq "$(jqv .return_urls)" "https://www.example.com/thanks https://www.example.com/merci"
eq "$(psql_admin "SELECT count(*) FROM branchline.channel_sources WHERE token_hash = sha256('$TOKEN'::bytea)")" "1"
eq "$(psql_admin "SELECT count(*) FROM branchline.channel_sources WHERE position('$TOKEN' IN row(channel_sources.*)::text) > 0")" "0" \
    "the token itself is stored nowhere"
ok -o json source list
eq "$(jqv '.[0].token')" ""
eq "$(jqv '.[0].name')" "site"
ok -o json audit --target source:site
contains "$OUT" "source_add"
[[ $OUT != *"$TOKEN"* ]] || fail "the audit row carries the token"

case_ "bad source input names its field"
refused 4 INVALID_ARGUMENT source add bad --channel pigeon
refused 4 INVALID_ARGUMENT source add bad --channel website --return-url ftp://x
refused 4 INVALID_ARGUMENT source add bad --channel website --cors-origin https://x.com/path
refused 4 INVALID_ARGUMENT source add bad --channel website --map tel=fax
refused 4 ALREADY_EXISTS source add site --channel website
refused 2 "" source add bad --channel website --hmac=yes

case_ "a unit_admin manages the sources of its subtree only"
as dave
ok -o json source add east-form --channel search --project seo
eq "$(jqv .origin_path)" "east"
refused 6 PERMISSION_DENIED source add west-form --channel search --origin west
refused 6 PERMISSION_DENIED source disable site
ok -o json source list
eq "$(jqv 'map(.name) | join(",")')" "east-form"
as alice

case_ "a form submission creates an allocated lead, with mapping and extras in the note"
web_ok '{"fullname":"张三","tel":"13800000001","email":"a@example.com","budget":"10k","_return_url":"https://www.example.com/merci"}' \
    "" "" "" "https://www.example.com/merci"
IFS="|" read -r outcome source ref status back cors tenant <<<"$OUT"
eq "$outcome" "created"
eq "$source" "site"
eq "$status" "allocated"
eq "$back" "https://www.example.com/merci"
eq "$cors" "https://www.example.com"
eq "$tenant" "webco"
ok -o json lead list --limit 10
eq "$(jqv '.[0].external_id')" "$ref"
eq "$(jqv '.[0].name')" "张三"
eq "$(jqv '.[0].phone')" "13800000001"
eq "$(jqv '.[0].channel')" "website"
eq "$(jqv '.[0].note')" "budget: 10k"
eq "$(jqv '.[0].branch_path')" "east/b1"

case_ "the same submission again (a double click) makes one lead; another is a new lead"
web_ok '{"fullname":"张三","tel":"13800000001","email":"a@example.com","budget":"10k"}'
eq "$(cut -d'|' -f1 <<<"$OUT")" "repeat"
eq "$(cut -d'|' -f3 <<<"$OUT")" "$ref"
now=$(date +%s)
start=$(( now / 300 * 300 ))
web_ok '{"fullname":"Li","tel":"13800000002"}' "" "" "" "" "" $((start - 10))
first=$(cut -d'|' -f3 <<<"$OUT")
web_ok '{"fullname":"Li","tel":"13800000002"}' "" "" "" "" "" $((start + 20))
eq "$(cut -d'|' -f1 <<<"$OUT")|$(cut -d'|' -f3 <<<"$OUT")" "repeat|$first" "across the window's boundary"
web_ok '{"fullname":"Li","tel":"13800000002"}' "" "" "" "" "" $((start + 900))
eq "$(cut -d'|' -f1 <<<"$OUT")" "created" "the same data much later is a new submission"

case_ "an Idempotency-Key or a mapped field is the external id"
web_ok '{"fullname":"K"}' "order-77"
eq "$(cut -d'|' -f1,3 <<<"$OUT")" "created|order-77"
web_ok '{"fullname":"K, again"}' "order-77"
eq "$(cut -d'|' -f1,3 <<<"$OUT")" "repeat|order-77"

case_ "invalid fields are refused naming the form field, and nothing is created"
before=$(leads_count webco)
web_refused "tel" '{"fullname":"X","tel":"12"}'
web_refused "email" '{"fullname":"X","email":"nope"}'
web_refused "project" '{"fullname":"X","project":"nope"}'
web_refused "Idempotency-Key" '{"fullname":"X"}' "$(printf 'k%.0s' {1..200})"
web_refused "_return_url" '{"fullname":"X"}' "" "" "" "https://evil.example.net/"
eq "$(leads_count webco)" "$before"

case_ "the honeypot answers like a success and creates nothing"
web_ok '{"fullname":"Spam","tel":"13800000099"}' "" "" "" "" true
eq "$(cut -d'|' -f1 <<<"$OUT")" "spam"
eq "$(leads_count webco)" "$before"

case_ "a bad token is NOT_FOUND; another tenant's token never creates here"
TOKEN=bls_nope
web_refused "BL005" '{"fullname":"X"}'
as bob
ok dept add / customer_service
ok unit add b --kind branch --name B
ok dept add b sales
ok project add seo --name SEO
ok project assign b seo --capacity 1
ok -o json source add theirs --channel search --project seo
TOKEN=$(jqv .token)
as alice
web_ok '{"fullname":"Other tenant lead","tel":"13800000055"}'
eq "$(leads_count webco)" "$before" "nothing in webco"
eq "$(leads_count other)" "1"
ok -o json lead list --limit 100
[[ $OUT != *"Other tenant lead"* ]] || fail "webco sees other's lead"

case_ "HMAC: a signed source refuses a missing, wrong or stale signature"
ok -o json source add hook --channel search --project seo --hmac
TOKEN=$(jqv .token)
secret=$(jqv .hmac_secret)
[[ ${#secret} == 96 ]] || fail "secret $secret"
signed='1700000000.{"fullname":"H"}'
sig="sha256=$(printf '%s' "$signed" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
web_refused "X-Branchline-Signature" '{"fullname":"H"}'
web_refused "X-Branchline-Signature" '{"fullname":"H"}' "" "sha256=$(printf '0%.0s' {1..64})" "$signed"
web_refused "X-Branchline-Signature" '{"fullname":"H"}' "" "$sig" "1700000001.{\"fullname\":\"H\"}"
web_ok '{"fullname":"H"}' "" "$sig" "$signed"
eq "$(cut -d'|' -f1 <<<"$OUT")" "created"

case_ "rotation: the old token works during the grace period, not after"
TOKEN=$SITE_TOKEN
ok -o json source rotate site --grace-minutes 5
new=$(jqv .token)
[[ $new != "$TOKEN" ]] || fail "rotate kept the token"
web_ok '{"fullname":"Old token in grace"}'
web_refused "replaced" '{"fullname":"Old token late"}' "" "" "" "" "" $(( $(date +%s) + 600 ))
ok -o json source rotate site --grace-minutes 0
newest=$(jqv .token)
TOKEN=$new
web_refused "replaced" '{"fullname":"Old token after 0 grace"}' "" "" "" "" "" $(( $(date +%s) + 2 ))
TOKEN=$SITE_TOKEN
web_refused "BL005" '{"fullname":"A token two rotations old is forgotten"}'
ok audit --target source:site
contains "$OUT" "source_rotate"

case_ "a disabled source refuses everything"
TOKEN=$newest
web_ok '{"fullname":"Before disable"}'
ok source disable site
web_refused "disabled" '{"fullname":"After disable"}'
ok -o json source list
eq "$(jqv 'map(select(.name == "site")) | .[0].enabled')" "false"

finish
