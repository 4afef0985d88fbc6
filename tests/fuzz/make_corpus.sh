#!/usr/bin/env bash
# Usage: tests/fuzz/make_corpus.sh
#
# Writes the seed corpora under tests/fuzz/corpus/<target>/: a few valid and
# invalid inputs per target, named for what they are. Requests are encoded
# from protobuf text format with protoc-c --encode, so they follow the
# .proto. Running it again rewrites these seeds and leaves other files (the
# regression inputs of fixed crashes, named crash-*) alone.

# shellcheck source-path=SCRIPTDIR/../..
set -euo pipefail
PROG=fuzz/make_corpus.sh
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
CORPUS=$ROOT/tests/fuzz/corpus

# seed TARGET NAME: stdin becomes corpus/TARGET/NAME.
seed() {
    mkdir -p "$CORPUS/$1"
    cat >"$CORPUS/$1/$2"
}

# request NAME TEXT: a Request in protobuf text format.
# protoc-c's complaints (it warns about the deliberately invalid UTF-8) are
# shown only when it fails.
request() {
    local log
    log=$(mktemp)
    protoc-c --proto_path="$ROOT/proto" --encode=branchline.v1.Request \
        "$ROOT/proto/branchline.proto" <<<"$2" 2>"$log" | seed request "$1" || {
        cat "$log" >&2
        rm -f "$log"
        die "cannot encode request seed $1"
    }
    rm -f "$log"
}

# frame: byte 0 picks the frame limit (index 6: 1 MiB), byte 1 the repeats and chunking.
frames() {
    printf '\x06\x01\x00\x00\x00\x02hi\x00\x00\x00\x03abc' | seed frame two-frames
    printf '\x06\x07\x00\x00\x00\x05hel' | seed frame partial-payload
    printf '\x06\x00\x00\x00' | seed frame partial-header
    printf '\x06\x02\x00\x00\x00\x01x\x00\x00\x00\x00rest' | seed frame empty-frame
    printf '\x06\x03\xff\xff\xff\xff' | seed frame length-ffffffff
    printf '\x03\x04\x00\x00\x00\x40%064d\x00\x00\x00\x41' 0 | seed frame at-and-over-limit-64
    printf '\x06\x05\x00\x00\x00\x07\x08\x01R\x04\x0a\x02hi' | seed frame ping-request
    # byte 1 = 0xe1: eight copies, 4832 bytes, so the buffer grows past 4 KiB and moves
    printf '\x06\xe1\x00\x00\x02\x58%0600d' 0 | seed frame eight-600-byte-frames
}

requests() {
    request ping 'id: 1 ping { payload: "hello" }'
    request ping-delay 'id: 2 ping { delay_ms: 5 }'
    request ping-delay-over-limit 'id: 3 ping { delay_ms: 10001 }'
    request ping-payload-over-limit "id: 4 ping { payload: \"$(printf 'x%.0s' {1..1025})\" }"
    request server-info 'id: 5 server_info {}'
    request cancel 'id: 6 cancel { target_id: 5 }'
    request id-zero 'ping {}'
    request no-op 'id: 7'
    request tenant-create 'id: 8 tenant_create { code: "acme" name: "Acme 集团" admin_subject: "CN=alice" timezone: "Asia/Shanghai" }'
    request unit-add 'id: 9 unit_add { path: "east/shanghai" kind: "city" name: "上海" opened_on: "2026-01-01" }'
    request unit-list 'id: 10 unit_list {}'
    request unit-show 'id: 11 unit_show { path: "east" }'
    request staff-add 'id: 12 staff_add { name: "Li" role: "agent" path: "east" function: "sales" supervisor_id: 3 }'
    request audit-list 'id: 13 audit_list { since: "2026-01-01" limit: 10 }'
    request lead-import 'id: 14 lead_import { first_line: 2 leads { external_id: "a1" project: "p" channel: "search" } leads { external_id: "a2" project: "p" channel: "forum" name: "王" } }'
    request lead-list 'id: 15 lead_list { status: "allocated" limit: 1000 after: 9 }'
    request lead-win 'id: 16 lead_win { id: 1 note: "signed" }'
    request lead-watch 'id: 17 lead_watch {}'
    request reorg-apply 'id: 18 reorg_apply { plan_json: "{\"version\": 1}" }'
    request bad-utf8 'id: 19 unit_rename { path: "east" name: "\377\376" }'
    request big-id 'id: 18446744073709551615 whoami {}'
    request cached-read-big-id 'id: 18446744073709551615 unit_show { path: "east/shanghai" }'
    printf '\x08\x01\xfa\x0f\x02\x08\x01' | seed request unknown-op-field-255
    printf '\x08' | seed request truncated-varint
    printf '\x08\x01\x52\x05\x0a\x02' | seed request truncated-submessage
}

csvs() {
    printf 'external_id,project,channel,name\na1,p,search,Wang\na2,p,forum,"Li, Jr."\n' | seed csv leads
    printf '\xef\xbb\xbfexternal_id,project,channel\r\n"a""1",p,"multi\r\nline"\r\n' | seed csv bom-crlf-quotes
    printf 'external_id,project,channel\na1,p\n"a2,p,search\n' | seed csv ragged-unterminated
    printf 'external_id,project,channel\n"a1"x,p,search\na\x00b,p,search\na3,p,\xff\xfe\n' | seed csv bad-rows
    printf 'external_id,EXTERNAL_ID,channel\n' | seed csv duplicate-column
    printf 'a,b,c\n\n\n1,2,3' | seed csv plain-no-final-newline
    printf '' | seed csv empty
}

configs() {
    seed config daemon <<'EOF'
listen_address = 127.0.0.1
listen_port = 7443
tls_cert = /nonexistent/server.crt
workers = 2
max_frame_size = 1048576
log_level = debug
EOF
    seed config daemon-section <<'EOF'
[branchd]
db_conninfo = host=/tmp dbname=branchline
max_connections = 99999999999999999999
[other]
anything = goes
EOF
    seed config cli <<'EOF'
[default]
server = [::1]:7443
ca = ca.crt
cert = /etc/hostname
key =
EOF
    seed config bad-syntax <<'EOF'
no equals sign here
listen_port = -1
EOF
    printf 'server = 127.0.0.1:99999\nca=/etc/hostname\n' | seed config cli-bad-port
    seed config cli-contexts <<'EOF'
current-context = prod
ca = /etc/hostname
[context prod]
server = 10.0.0.1:7443
tenant = acme
[context staging]
server = [::1]:7443
cert = staging.crt
EOF
}

# intake: the first byte picks the body kind (0: form, 1: JSON).
intakes() {
    printf '\x00name=%%E5%%BC%%A0+%%E4%%B8%%89&phone=138-0000-0001&a=1&a=2&_return_url=https%%3A%%2F%%2Fx.example%%2F' | seed intake form
    printf '\x00note=%%FF%%FE&bad=%%Z1&nul=%%00&=x&&flag' | seed intake form-bad
    printf '\x01{"name":"\xe6\x9d\x8e\xe5\x9b\x9b","age":42,"ok":true,"n":null,"r":1.5}' | seed intake json
    printf '\x01{"a":{"b":[1]},"a":"\\u0000"}' | seed intake json-bad
    printf '\x01[1,2,3]' | seed intake json-array
}

frames
requests
csvs
configs
intakes
note "seeds written under $CORPUS"
