# Helpers for branchctl scenarios run by bltest_run. Source it first.
# shellcheck shell=bash

TESTS_PASSED=0
CURRENT=""

# as NAME: the following branchctl calls use certificate CN=NAME.
as() {
    export BRANCHLINE_CERT="$BLTEST_CERTS/$1.crt" BRANCHLINE_KEY="$BLTEST_CERTS/$1.key"
}

bctl() { "$BRANCHCTL" "$@"; }

# case NAME: starts a named check (for the failure message and the count).
case_() {
    [[ -n $CURRENT ]] && TESTS_PASSED=$((TESTS_PASSED + 1))
    CURRENT=$1
    echo "--- $CURRENT"
}

fail() {
    echo "FAIL [$CURRENT]: $*" >&2
    exit 1
}

# ok CMD...: runs branchctl, fails the test unless it exits 0; stdout is kept in $OUT.
ok() {
    local err
    err=$(mktemp)
    if ! OUT=$(bctl "$@" 2>"$err"); then
        fail "branchctl $* failed: $(cat "$err")"
    fi
    rm -f "$err"
}

# refused EXIT CODE_NAME CMD...: branchctl must exit EXIT with CODE_NAME on stderr.
refused() {
    local want_exit=$1 want_code=$2 rc=0
    shift 2
    ERR=$(bctl "$@" 2>&1 >/dev/null) || rc=$?
    [[ $rc == "$want_exit" ]] || fail "branchctl $* exited $rc, want $want_exit ($ERR)"
    [[ $ERR == *"$want_code"* ]] || fail "branchctl $* said '$ERR', want $want_code"
}

# json CMD... then jqv FILTER: evaluate a jq filter on the last JSON output.
jqv() { jq -r "$1" <<<"$OUT"; }

eq() {
    [[ $1 == "$2" ]] || fail "expected '$2', got '$1'${3:+ ($3)}"
}

contains() {
    [[ $1 == *"$2"* ]] || fail "expected output to contain '$2', got: $1"
}

# psql_app SQL: runs SQL as the daemon's role, bypassing the daemon.
psql_app() { psql -X -A -t -v ON_ERROR_STOP=1 "$BLTEST_APP_CONNINFO" -c "$1"; }

# psql_admin SQL: runs SQL as the database owner (to fake the clock, end
# backends, look behind row-level security).
psql_admin() { psql -X -A -t -v ON_ERROR_STOP=1 "$BLTEST_ADMIN_CONNINFO" -c "$1"; }

# ready_is URL CODE [SECONDS]: polls URL/readyz (30 s unless SECONDS) until
# it answers CODE; the body is in BODY.
ready_is() {
    local out
    for _ in $(seq "$((${3:-30} * 10))"); do
        out=$(curl -sS -w '\n%{http_code}' "$1/readyz" || true)
        # shellcheck disable=SC2034 # BODY is read by the callers
        BODY=${out%$'\n'*}
        [[ ${out##*$'\n'} == "$2" ]] && return 0
        sleep 0.1
    done
    fail "$1/readyz did not become $2 in ${3:-30} s (last: $out)"
}

# one_branch_org: as carol, tenant acme (admin alice); as alice, region r
# with branch r/b, customer service at the top, sales at r/b, project seo
# assigned to r/b with capacity 5. Ends as alice.
one_branch_org() {
    as carol
    ok tenant create acme --name Acme --admin-subject CN=alice
    as alice
    ok unit add r --kind region --name R
    ok unit add r/b --kind branch --name B
    ok dept add / customer_service
    ok dept add r/b sales
    ok project add seo --name SEO
    ok project assign r/b seo --capacity 5
}

finish() {
    [[ -n $CURRENT ]] && TESTS_PASSED=$((TESTS_PASSED + 1))
    echo "$TESTS_PASSED passed, 0 failed"
}
