#!/usr/bin/env bash
# Usage: tests/run.sh [--no-asan] [--only REGEX] [--skip-build]
#
# The whole test suite, as CI runs it: installs dependencies, builds build/
# and build-asan/ (AddressSanitizer + UBSan), starts a throwaway PostgreSQL
# and test certificates in a temporary directory, and runs ctest in each
# build. Then tests/check_layers.py checks the daemon's include graph (no
# cycle, no transport header where it does not belong), and the libFuzzer
# targets run for a bounded number of inputs (tests/fuzz/run.sh, about a
# minute; its own clang build in build-fuzz/). Last, tests/ha/run.sh
# --quick: failover of a Patroni-managed pair with clients writing through
# HAProxy (a few minutes; its own processes, as the postgres user, in a
# directory of its own). Whatever it started is stopped and removed on
# exit. The last line, "run.sh: N passed, N failed", counts the ctest runs,
# the layer check, the fuzz run and the HA run (a build that fails counts
# as a failed run); the exit status is non-zero if any failed.
#
#   --no-asan     skip the sanitizer build
#   --only REGEX  run only the tests whose names match REGEX (ctest -R); the
#                 layer check runs only if REGEX matches "layers", the
#                 fuzzers only if it matches "fuzz", the HA test only if it
#                 matches "ha_failover"
#   --skip-build  use build/, build-asan/ and build-fuzz/ as they are (for
#                 working on this script or on tests without waiting for builds)
#
# ctest sees the environment below; integration tests start their own branchd
# against the shared cluster:
#   BRANCHLINE_TEST_PGHOST       socket directory of the cluster (mode 0700,
#                                the server's OS user's: postgres when we
#                                are root)
#   BRANCHLINE_TEST_PGPORT       its port (also on 127.0.0.1, password only)
#   BRANCHLINE_TEST_PGSUPER      superuser name; on the socket, peer
#                                authentication lets the OS user running this
#                                script (and the server's) log in as it, as
#                                branchline_owner and as branchd, and nobody
#                                else as anyone (deploy/lib/pg.sh)
#   BRANCHLINE_TEST_PGCTL        "$BRANCHLINE_TEST_PGCTL stop|start" stops
#                                (-m fast) or starts the cluster, to simulate
#                                an outage
#   BRANCHLINE_TEST_CERTS        ca.crt, server.*, alice bob carol dave erin frank grace heidi (.crt/.key)
#   BRANCHLINE_TEST_CERTS_OTHER  another CA with its own server.* and mallory.*
# The roles of deploy/app-roles.sql exist: branchline_app (NOLOGIN),
# branchd (LOGIN, its member) and branchline_owner (LOGIN, no superuser):
# create a test database OWNER branchline_owner and run `branchd migrate`
# as branchline_owner, as tests/integration/fixture.c does, so that the
# schema and its SECURITY DEFINER functions are the owner's.

# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
PROG=run.sh
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deploy/lib/common.sh
. "$ROOT/deploy/lib/common.sh"
# shellcheck source=deploy/lib/pg.sh
. "$ROOT/deploy/lib/pg.sh"

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

ASAN=1
ONLY=
SKIP_BUILD=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --no-asan) ASAN=0 ;;
    --only)
        [[ $# -ge 2 ]] || usage
        ONLY=$2
        shift
        ;;
    --only=*) ONLY=${1#--only=} ;;
    --skip-build) SKIP_BUILD=1 ;;
    *) usage ;;
    esac
    shift
done

BUILDS=(build)
if ((ASAN)); then
    BUILDS+=(build-asan)
fi
TMP=
PGPORT_TEST=

cleanup() {
    local rc=$?
    if [[ -n $TMP && -d $TMP ]]; then
        pg_stop "$TMP/pg" || pg_stop "$TMP/pg" immediate ||
            note "could not stop PostgreSQL in $TMP/pg"
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build NAME: configures and builds $ROOT/NAME; build-asan gets sanitizers.
build() {
    local dir=$ROOT/$1 sanitize=OFF
    if [[ $1 == build-asan ]]; then
        sanitize=ON
    fi
    if ((SKIP_BUILD)); then
        [[ -f $dir/CTestTestfile.cmake ]] || {
            note "--skip-build: $dir has not been built"
            return 1
        }
        return 0
    fi
    note "building $1 (sanitizers $sanitize)"
    cmake -S "$ROOT" -B "$dir" -DBRANCHLINE_SANITIZE="$sanitize" &&
        cmake --build "$dir" -j"$(nproc)"
}

# The temporary directory must be reachable by postgres when we are root;
# a private TMPDIR (under /root, say) is not, so fall back to /tmp then.
make_tmp() {
    TMP=$(mktemp -d -t branchline-test.XXXXXX)
    chmod 0711 "$TMP"
    if ! pg_reachable "$TMP"; then
        rmdir "$TMP"
        TMP=$(mktemp -d -p /tmp branchline-test.XXXXXX)
        chmod 0711 "$TMP"
    fi
}

start_cluster() {
    PGPORT_TEST=$(free_tcp_port)
    pg_init "$TMP/pg" "$TMP/sock" "$PGPORT_TEST" \
        "max_connections = 300" "fsync = off" "synchronous_commit = off" \
        "full_page_writes = off"
    pg_start "$TMP/pg" "$TMP/pg.log"
    pg_app_roles "$TMP/sock" "$PGPORT_TEST" postgres
}

# $TMP/pgctl.sh: stops or starts this cluster exactly as this script does.
# shellcheck disable=SC2016 # the single-quoted lines are pgctl.sh's own code
write_pgctl() {
    {
        echo '#!/usr/bin/env bash'
        echo '# Written by tests/run.sh: stop|start the test cluster of that run.'
        echo 'set -euo pipefail'
        echo 'PROG=pgctl.sh'
        printf '. %q\n' "$ROOT/deploy/lib/common.sh" "$ROOT/deploy/lib/pg.sh"
        echo 'case "${1:-}" in'
        printf 'stop) pg_stop %q ;;\n' "$TMP/pg"
        printf 'start) pg_start %q %q ;;\n' "$TMP/pg" "$TMP/pg.log"
        echo '*) echo "usage: $0 stop|start" >&2; exit 2 ;;'
        echo 'esac'
    } >"$TMP/pgctl.sh"
    chmod 0755 "$TMP/pgctl.sh"
}

prepare_fixtures() {
    make_tmp
    start_cluster
    quietly "$ROOT/deploy/dev-certs.sh" "$TMP/certs" alice bob carol dave erin frank grace heidi
    quietly "$ROOT/deploy/dev-certs.sh" "$TMP/certs-other" mallory
    write_pgctl
    export BRANCHLINE_TEST_PGHOST=$TMP/sock
    export BRANCHLINE_TEST_PGPORT=$PGPORT_TEST
    BRANCHLINE_TEST_PGSUPER=$(pg_superuser)
    export BRANCHLINE_TEST_PGSUPER
    export BRANCHLINE_TEST_PGCTL=$TMP/pgctl.sh
    export BRANCHLINE_TEST_CERTS=$TMP/certs
    export BRANCHLINE_TEST_CERTS_OTHER=$TMP/certs-other
}

# run_ctest NAME: runs the tests of build NAME; sanitizer reports are fatal.
run_ctest() {
    local args=(--output-on-failure -j2 --timeout 600 --no-tests=error)
    local sanitizer_env=()
    if [[ -n $ONLY ]]; then
        args+=(-R "$ONLY")
    fi
    if [[ $1 == build-asan ]]; then
        sanitizer_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
    fi
    note "running tests in $1"
    (cd "$ROOT/$1" && env "${sanitizer_env[@]}" ctest "${args[@]}")
}

"$ROOT/deploy/install-deps.sh" --ha

declare -A BUILT=()
for name in "${BUILDS[@]}"; do
    if build "$name"; then
        BUILT[$name]=1
    else
        note "build of $name failed"
    fi
done

passed=0
failed=0
if [[ ${#BUILT[@]} -gt 0 ]]; then
    prepare_fixtures
fi
for name in "${BUILDS[@]}"; do
    if [[ -n ${BUILT[$name]:-} ]] && run_ctest "$name"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        if [[ -n ${BUILT[$name]:-} && -s $TMP/pg.log ]]; then
            note "last lines of the PostgreSQL log:"
            tail -n 20 "$TMP/pg.log" >&2
        fi
    fi
done

# The daemon's layering, from its #include lines (no build, no database):
# one more pass or failure.
if [[ -z $ONLY || layers =~ $ONLY ]]; then
    note "checking the daemon's layers"
    if python3 "$ROOT/tests/check_layers.py" --self-test && python3 "$ROOT/tests/check_layers.py"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
fi

# The fuzzers need no database: one more pass or failure.
if [[ -z $ONLY || fuzz =~ $ONLY ]]; then
    fuzz_args=()
    if ((SKIP_BUILD)); then
        fuzz_args+=(--no-build)
    fi
    note "running the fuzzers"
    if "$ROOT/tests/fuzz/run.sh" "${fuzz_args[@]}"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
fi

# The HA test starts its own clusters and uses build/: one more pass or failure.
if [[ -z $ONLY || ha_failover =~ $ONLY ]]; then
    note "running the HA failover test (tests/ha/run.sh --quick)"
    if [[ -n ${BUILT[build]:-} ]] && "$ROOT/tests/ha/run.sh" --quick; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
fi

echo "run.sh: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
