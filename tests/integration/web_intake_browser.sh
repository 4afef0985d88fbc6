# A real browser submits a real HTML form: headless Chromium (Debian's
# chromium) loads a page served by python3's http.server on loopback from a
# temporary directory; the page's form posts to the daemon's web intake over
# HTTPS (the test CA's server certificate, pinned by its public key), the
# lead is created and allocated, and the browser follows the 303 to the
# source's return URL on the same little server: its access log has the
# landing with ?status=created and the DOM dumped is the landing page.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/intake_lib.sh"

SITE=$BLTEST_DIR/site
mkdir -p "$SITE"

case_ "a web server on loopback and a company with a source whose return URL is on it"
python3 -u -m http.server --bind 127.0.0.1 --directory "$SITE" 0 >"$BLTEST_DIR/site.log" 2>&1 &
site_pid=$!
trap 'kill $site_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    site_port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$BLTEST_DIR/site.log" | head -1)
    [[ -n $site_port ]] && break
    sleep 0.1
done
[[ -n $site_port ]] || fail "http.server did not start: $(cat "$BLTEST_DIR/site.log")"
SITE_URL=http://127.0.0.1:$site_port
as carol
ok tenant create browsco --name "Brows Co" --admin-subject CN=alice
as alice
ok dept add / customer_service
ok unit add b1 --kind branch --name B1
ok dept add b1 sales
ok project add seo --name SEO
ok project assign b1 seo --capacity 5
ok -o json source add landing --channel brand_zone --project seo --return-url "$SITE_URL/thanks.html" \
    --map fullname=name --map tel=phone
TOKEN=$(jqv .token)

case_ "the page: a plain HTML form, with a hidden honeypot left empty, submitted on load"
cat >"$SITE/form.html" <<HTML
<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>预约咨询</title></head>
<body onload="document.getElementById('lead').submit()">
<form id="lead" method="post" action="$INTAKE_URL/$TOKEN">
  <input name="fullname" value="浏览器 张">
  <input name="tel" value="138-0000-7777">
  <select name="budget"><option selected>20万</option></select>
  <input name="homepage" value="" style="display:none" tabindex="-1" autocomplete="off">
  <button type="submit">提交</button>
</form>
</body></html>
HTML
cat >"$SITE/thanks.html" <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8"><title>Thanks</title></head>
<body><h1 id="thanks">谢谢 Thank you</h1>
<p id="status"></p><script>document.getElementById('status').textContent = location.search;</script>
</body></html>
HTML

case_ "Chromium submits it; it lands on the return URL with ?status=created"
spki=$(openssl x509 -in "$BLTEST_CERTS/server.crt" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)
profile=$(mktemp -d "$BLTEST_DIR/chrome.XXXXXX")
before=$(leads browsco)
timeout 180 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-default-apps \
    --user-data-dir="$profile" --ignore-certificate-errors-spki-list="$spki" \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1" \
    --virtual-time-budget=10000 --dump-dom "$SITE_URL/form.html" \
    >"$BLTEST_DIR/dom.html" 2>>"$BLTEST_DIR/chromium.log" ||
    fail "chromium failed: $(tail -5 "$BLTEST_DIR/chromium.log")"
dom=$(cat "$BLTEST_DIR/dom.html")
contains "$dom" 'id="thanks"'
contains "$dom" '?status=created'
grep -q '"GET /thanks.html?status=created HTTP' "$BLTEST_DIR/site.log" ||
    fail "the server never saw the landing: $(cat "$BLTEST_DIR/site.log")"

case_ "the lead is created, mapped, with the extras in its note, and allocated"
eq "$(leads browsco)" $((before + 1))
ok -o json lead list
eq "$(jqv '.[0].name')" "浏览器 张"
eq "$(jqv '.[0].phone')" "138-0000-7777"
eq "$(jqv '.[0].note')" "budget: 20万"
eq "$(jqv '.[0].channel')" brand_zone
eq "$(jqv '.[0].status')" allocated
eq "$(jqv '.[0].branch_path')" b1
kill $site_pid
trap - EXIT

finish
