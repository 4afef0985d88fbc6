#!/usr/bin/env bash
# Usage: deploy/intake-example.sh ENDPOINT CA DIR
#
# Writes a ready web intake example for a channel source: DIR/intake-form.html
# (a plain HTML form posting to ENDPOINT, which is
# https://HOST:PORT/v1/intake/TOKEN, with the honeypot field hidden from
# people) and DIR/intake-thanks.html (a page to serve at the source's return
# URL, which shows the ?status= it was sent back with), then prints
# a curl line that submits a lead as JSON, trusting CA. The quickstart
# calls it; so does integration.web_intake, which runs the printed line.

set -euo pipefail
[[ $# -eq 3 ]] || {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}
endpoint=$1 ca=$2 dir=$3
mkdir -p "$dir"
html_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' <<<"$1"; }

cat >"$dir/intake-form.html" <<HTML
<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>预约咨询 Book a consultation</title>
<style>body{font-family:sans-serif;max-width:28em;margin:2em auto}label{display:block;margin:.6em 0}
input,textarea,select{width:100%;padding:.3em}.hp{position:absolute;left:-10000px}</style></head>
<body>
<h1>预约咨询 Book a consultation</h1>
<!-- A plain form: no script needed. Branchline answers 303 to the source's return URL. -->
<form method="post" action="$(html_escape "$endpoint")" accept-charset="utf-8">
  <label>姓名 Name <input name="name" required></label>
  <label>电话 Phone <input name="phone" type="tel" required></label>
  <label>邮箱 Email <input name="email" type="email"></label>
  <label>预算 Budget (an extra field: it goes into the note)
    <select name="budget"><option>10万以下</option><option>10-50万</option><option>50万以上</option></select></label>
  <label>留言 Message <textarea name="note"></textarea></label>
  <!-- The honeypot: hidden from people; a bot that fills it in is answered like anyone, and nothing is created. -->
  <label class="hp" aria-hidden="true">Homepage <input name="homepage" tabindex="-1" autocomplete="off"></label>
  <button type="submit">提交 Send</button>
</form>
</body></html>
HTML

cat >"$dir/intake-thanks.html" <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8"><title>谢谢 Thank you</title></head>
<body><h1>谢谢 Thank you</h1><p>Your request was received: <b id="status"></b></p>
<script>document.getElementById('status').textContent =
  new URLSearchParams(location.search).get('status') || '';</script>
</body></html>
HTML

printf "curl -sS --cacert %q -H 'Content-Type: application/json' --data '%s' %q\n" "$ca" \
    '{"name":"王小明","phone":"13800138000","email":"wang@example.com","budget":"10-50万"}' "$endpoint"
