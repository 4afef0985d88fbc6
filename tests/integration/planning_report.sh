# branchctl report in a real browser: a company with Chinese and English
# names and worked leads, its report rendered by headless Chromium with the
# network blocked (every host name unresolvable, every request sent to a
# loopback proxy that records it: a request of the page fails the test, and
# a planted page proves the recorder sees one). Chromium's own background
# requests to Google's service hosts are told apart by their host; the
# page cannot name those either, since the file must hold no URL at all. The DOM dump must hold the
# sections, charts and figures; the screenshot is kept beside the test's
# build directory (planning_report.png). --format csv writes the tables.
# shellcheck shell=bash
. "$(dirname "$0")/lib.sh"

case_ "a company with leads"
as carol
ok tenant create repco --name "报告 Report Co" --admin-subject CN=alice --timezone Asia/Shanghai
as alice
ok dept add / customer_service
ok dept add / promotion
ok unit add east --kind region --name "华东大区"
ok unit add west --kind region --name "West Region"
ok unit add east/pudong --kind branch --name "浦东分公司"
ok unit add west/austin --kind branch --name "Austin Branch"
for b in east/pudong west/austin; do ok dept add $b sales; done
ok staff add "王磊" --role manager --dept / --function customer_service
ok staff add "Alice Smith" --role consultant --dept / --function customer_service
ok staff add "陈静" --role salesperson --dept east/pudong --function sales
ok project add seo --name "搜索 SEO"
ok project assign east/pudong seo --capacity 1
ok project assign west/austin seo --capacity 1
{
    echo "external_id,project,channel"
    for i in $(seq 1 12); do echo "r-$i,seo,$( ((i % 2)) && echo search || echo forum)"; done
} >"$BLTEST_DIR/r.csv"
ok -o json lead import "$BLTEST_DIR/r.csv"
contacted=$(jqv 'map(.lead_id) | .[:6] | join(" ")')
won=$(jqv 'map(.lead_id) | .[:3] | join(" ")')
for id in $contacted; do ok lead contact "$id"; done
for id in $won; do ok lead win "$id"; done

case_ "the report is one file that loads nothing"
ok report -O "$BLTEST_DIR/report.html"
html=$BLTEST_DIR/report.html
[[ -s $html ]] || fail "no report written"
for bad in "<script" "src=" "href=" "url(" "@import" "http://" "https://"; do
    grep -qiF "$bad" "$html" && fail "the report holds '$bad'"
done
contains "$(cat "$html")" "<svg"

# A loopback proxy that records every request it gets, and answers 404.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$port" "$BLTEST_DIR/requests.log" <<'PY' &
import http.server, sys
log = open(sys.argv[2], "a", buffering=1)
class Recorder(http.server.BaseHTTPRequestHandler):
    def record(self):
        host = self.path.split("/")[2] if "://" in self.path else self.path
        log.write(f"{host.split(':')[0]} {self.command} {self.path}\n")
        self.send_error(404)
    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = record
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Recorder).serve_forever()
PY
recorder=$!
trap 'kill $recorder 2>/dev/null' EXIT
for _ in $(seq 1 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
done

# page_requests: what the recorder saw, but for Chromium's own service hosts.
page_requests() {
    grep -Ev '^[^ ]*(google\.com|googleapis\.com|gstatic\.com|gvt1\.com|gvt2\.com|googleusercontent\.com) ' \
        "$BLTEST_DIR/requests.log" || true
}

# chrome WHAT FILE...: headless Chromium with no network, a fresh profile.
chrome() {
    local profile
    profile=$(mktemp -d "$BLTEST_DIR/chrome.XXXXXX")
    timeout 180 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-default-apps \
        --user-data-dir="$profile" --proxy-server="http://127.0.0.1:$port" \
        --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
        --virtual-time-budget=3000 "$@" 2>>"$BLTEST_DIR/chromium.log"
}

case_ "the recorder sees a request a page makes"
printf '<html><body><img src="http://planted.example/x.png"></body></html>' >"$BLTEST_DIR/planted.html"
chrome --dump-dom "file://$BLTEST_DIR/planted.html" >/dev/null || fail "chromium failed: $(tail -5 "$BLTEST_DIR/chromium.log")"
page_requests | grep -q "^planted.example " || fail "the recorder saw nothing of the planted request"
: >"$BLTEST_DIR/requests.log"

case_ "Chromium renders the report without a single request"
chrome --dump-dom "file://$html" >"$BLTEST_DIR/dom.html" || fail "chromium failed: $(tail -5 "$BLTEST_DIR/chromium.log")"
chrome --screenshot="$BLTEST_DIR/report.png" --window-size=1280,3600 --hide-scrollbars "file://$html" >/dev/null ||
    fail "chromium could not take a screenshot"
[[ -s $BLTEST_DIR/report.png ]] || fail "no screenshot"
cp "$BLTEST_DIR/report.png" "$PWD/planning_report.png"
echo "screenshot: $PWD/planning_report.png"
[[ -z $(page_requests) ]] || fail "the report made requests: $(page_requests)"

case_ "the DOM has every section, the charts and the figures, in Chinese and English"
dom=$(cat "$BLTEST_DIR/dom.html")
for id in organization serving shares speed channels queues staffing support org-chart serving-table \
    shares-chart speed-branch-chart conversion-branch-chart speed-channel-chart kpi-table queues-table \
    recommend-table; do
    contains "$dom" "id=\"$id\""
done
for name in "华东大区" "浦东分公司" "West Region" "Austin Branch" "报告"; do
    contains "$dom" "$name"
done
# the KPI table: pudong and austin got 6 leads each, 3 of the 6 contacted leads won
kpi_rows=$(python3 - "$BLTEST_DIR/dom.html" <<'PY'
import html.parser, sys
class Rows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.table = None; self.rows = []; self.cell = None
    def handle_starttag(self, tag, attrs):
        if tag == "table": self.table = dict(attrs).get("id")
        if self.table == "kpi-table" and tag == "tr": self.rows.append([])
        if self.table == "kpi-table" and tag == "td": self.cell = ""
    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None: self.rows[-1].append(self.cell); self.cell = None
        if tag == "table": self.table = None
    def handle_data(self, data):
        if self.cell is not None: self.cell += data
p = Rows(); p.feed(open(sys.argv[1]).read())
print(" ".join(f"{r[0]}={r[1]}" for r in p.rows if r))
PY
)
eq "$kpi_rows" "east/pudong=6 west/austin=6"
contains "$dom" "<polyline"
eq "$(grep -o '<svg' <<<"$dom" | wc -l)" "5" "shares, speed and conversion per branch and per channel"

case_ "--format csv writes the tables"
ok report west --format csv -O "$BLTEST_DIR/csv"
head -1 "$BLTEST_DIR/csv/kpi_branches.csv" | grep -q '^branch_path,channel,' || fail "no kpi header"
grep -q '^west/austin,' "$BLTEST_DIR/csv/kpi_branches.csv" || fail "no austin row"
grep -q 'east/pudong' "$BLTEST_DIR/csv/kpi_branches.csv" && fail "east in a report on west"
[[ -s $BLTEST_DIR/csv/units.csv && -s $BLTEST_DIR/csv/staffing_recommendations.csv ]] || fail "missing tables"

case_ "bad input"
refused 2 "--period" report --period year -O "$BLTEST_DIR/x.html"
refused 2 "-O" report
refused 5 NOT_FOUND report nowhere -O "$BLTEST_DIR/x.html"

finish
